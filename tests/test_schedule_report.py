"""Memory reporting: ``mcugraph analyze`` memory fields on .onnx and .tflite, plan JSON, C header, timeline plot."""

from __future__ import annotations

import json
import shutil
import subprocess

import onnx
import onnx.parser
import pytest

from mcugraph.cli.main import main
from mcugraph.memory.liveness import lifetimes
from mcugraph.memory.planner import plan_arena
from mcugraph.memory.report import plan_header, plan_json
from mcugraph.memory.tflite_graph import kernel_graph_from_tflite
from mcugraph.tflite.builder import peak_at_add

SHAPE = (1, 16, 16, 4)  # 4096 bytes as float32


def _peak_at_add() -> bytes:
    return peak_at_add(SHAPE)


@pytest.fixture
def tflite_file(tmp_path):
    path = tmp_path / "peak.tflite"
    path.write_bytes(_peak_at_add())
    return path


@pytest.fixture
def onnx_file(tmp_path):
    """x -> a = Relu(x) (fused nowhere: first op), b = Sigmoid(a), c = Add(a, b) -> Relu: the Relu fuses into Add."""
    model = onnx.parser.parse_model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[1, 8, 8, 4] x) => (float[1, 8, 8, 4] y) {
            a = Relu(x)
            b = Sigmoid(a)
            c = Add(a, b)
            y = Relu(c)
        }
    """)
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    return path


def _analyze_json(capsys, *argv) -> dict:
    assert main(["analyze", *map(str, argv), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_tflite_analyze_reports_inplace_arena(tflite_file, capsys):
    """On .tflite, in-place ADD makes the arena 2 buffers instead of 3; each row carries its live bytes."""
    with_inplace = _analyze_json(capsys, tflite_file, "--order", "optimal")
    without = _analyze_json(capsys, tflite_file, "--order", "optimal", "--no-inplace")
    assert (with_inplace["arena_bytes"], without["arena_bytes"]) == (2 * 4096, 3 * 4096)
    assert with_inplace["lower_bound_bytes"] == with_inplace["peak_bytes"] == 2 * 4096
    assert [row["live_bytes"] for row in without["ops"]] == [8192, 12288, 8192]
    assert without["order"] == ["0:MUL", "1:ADD", "2:MUL"]


def test_onnx_analyze_marks_fused_activation(onnx_file, capsys):
    """On ONNX, the Relu after the Add is reported as fused into it, with the Add kernel's live bytes."""
    report = _analyze_json(capsys, onnx_file, "--order", "given", "--dtype", "float32", "--no-inplace")
    rows = {row["name"]: row for row in report["ops"]}
    relu_after_add = next(r for r in report["ops"] if r.get("fused_into") and r["op"] == "Relu")
    assert rows[relu_after_add["fused_into"]]["op"] == "Add"
    assert relu_after_add["live_bytes"] == rows[relu_after_add["fused_into"]]["live_bytes"] == 3 * 1024
    assert report["peak_bytes"] == 3 * 1024


def test_plot_draws_memory_timeline(tflite_file, tmp_path, capsys):
    """--plot writes a PNG with the memory timeline panel, and --plan-json the plan beside it."""
    png, plan = tmp_path / "m.png", tmp_path / "plan.json"
    assert main(["analyze", str(tflite_file), "--plot", str(png), "--plan-json", str(plan)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(plan.read_text())["arena_bytes"] == 8192
    assert "peak SRAM 8,192 B" in capsys.readouterr().out


def test_plan_json_never_overlaps_live_tensors(shared_models):
    """Every pair of tensors live at one step in the VWW plan JSON is disjoint (or an allowed in-place pair)."""
    graph = kernel_graph_from_tflite((shared_models / "vww_mobilenetv1.int8.tflite").read_bytes())
    plan = plan_arena(graph)
    data = plan_json(plan, graph)
    assert data["arena_bytes"] == max(t["offset"] + t["size"] for t in data["tensors"])
    tensors = data["tensors"]
    for i, a in enumerate(tensors):
        for b in tensors[i + 1:]:
            at_once = a["first"] <= b["last"] and b["first"] <= a["last"]
            apart = a["offset"] + a["size"] <= b["offset"] or b["offset"] + b["size"] <= a["offset"]
            aliased = data["aliases"].get(a["name"]) == b["name"] or data["aliases"].get(b["name"]) == a["name"]
            assert not at_once or apart or aliased, (a, b)
    assert set(lifetimes(graph)) == {t["name"] for t in tensors}


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_plan_header_compiles_and_holds_the_offsets(tmp_path):
    """The C header compiles, and its array holds one offset per tensor (-1 for constants)."""
    graph = kernel_graph_from_tflite(_peak_at_add())
    plan = plan_arena(graph)
    header = tmp_path / "plan.h"
    header.write_text(plan_header(plan, graph, "peak-at/add"))
    main_c = tmp_path / "main.c"
    main_c.write_text(
        '#include "plan.h"\n#include <stdio.h>\nint main(void) {\n'
        "  for (int i = 0; i < MCUGRAPH_PEAK_AT_ADD_TENSOR_COUNT; i++) printf(\"%d \", (int)mcugraph_peak_at_add_tensor_offsets[i]);\n"
        '  printf("%d\\n", MCUGRAPH_PEAK_AT_ADD_ARENA_BYTES);\n  return 0;\n}\n'
    )
    subprocess.run(["cc", "-Wall", "-Werror", "-o", str(tmp_path / "main"), str(main_c)], check=True)
    printed = subprocess.run([str(tmp_path / "main")], check=True, capture_output=True, text=True).stdout.split()
    expected = [plan.offsets.get(t, -1) for t in graph.tensors] + [plan.arena_bytes]
    assert [int(v) for v in printed] == expected


def test_tflite_and_onnx_reports_agree_on_macs_and_flash(shared_models, capsys):
    """The IC ResNet-8 .tflite and .onnx give the same MACs, weight bytes and SRAM peak."""
    tfl = _analyze_json(capsys, shared_models / "ic_resnet8.int8.tflite")
    onx = _analyze_json(capsys, shared_models / "ic_resnet8.onnx")
    for key in ("macs", "weight_bytes", "params", "peak_bytes"):
        assert tfl[key] == onx[key], key

"""``mcugraph schedule``: outputs written only after verification; bad inputs give one line and exit code 2."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnx.parser
import pytest

from mcugraph.cli.main import main
from mcugraph.tflite import schema as tfl
from mcugraph.tflite.builder import TinyTflite
from mcugraph.tflite.offline_plan import METADATA_NAME, read_offline_plan, write_offline_plan
from mcugraph.tflite.tflm import arena_head

SHAPE = (1, 8, 8, 4)


def _model(op: str = "ADD") -> bytes:
    b = TinyTflite()
    x = b.tensor("x", SHAPE)
    k = b.tensor("k", (1,), data=np.array([3.0], np.float32))
    a, c = b.tensor("a", SHAPE), b.tensor("c", SHAPE)
    b.op("MUL", [x, k], [a])
    b.op(op, [x, a], [c])
    return b.build([x], [c])


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "in.tflite"
    path.write_bytes(_model())
    return path


def _fails(capsys, argv, out) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("mcugraph schedule: error: ")
    assert not out.exists()
    return err


def test_schedule_writes_model_plan_json_and_header(model_file, tmp_path, capsys):
    """A run writes the scheduled model, whose TFLM head matches the plan JSON, and a C header of offsets."""
    out, plan, header = tmp_path / "out.tflite", tmp_path / "plan.json", tmp_path / "plan.h"
    assert main(["schedule", str(model_file), "-o", str(out), "--plan-json", str(plan), "--plan-header", str(header)]) == 0
    table = capsys.readouterr().out
    assert "TFLM head before B" in table and "bit-exact" in table
    plan_data = json.loads(plan.read_text())
    assert arena_head(out.read_bytes()) == plan_data["arena_bytes"] == 2048
    assert {t["name"] for t in plan_data["tensors"]} == {"x", "a", "c"}
    offsets = read_offline_plan(tfl.read(out.read_bytes()))
    assert "static const int32_t mcugraph_in_tensor_offsets[MCUGRAPH_IN_TENSOR_COUNT] = {" in header.read_text()
    assert all(f"    {o}, /* {i}:" in header.read_text() for i, o in enumerate(offsets))


def test_json_without_file_prints_only_json(model_file, tmp_path, capsys):
    """``--json`` alone prints one JSON document with the before/after heads and nothing else."""
    assert main(["schedule", str(model_file), "-o", str(tmp_path / "out.tflite"), "--json", "--no-inplace"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["head_before_bytes"], summary["head_after_bytes"], summary["inplace"]) == (3072, 3072, False)


def test_onnx_input_is_refused(tmp_path, capsys):
    """An ONNX file is not a .tflite: one-line error, exit 2, no output."""
    path = tmp_path / "m.onnx"
    path.write_bytes(onnx.parser.parse_model(
        '<ir_version: 8, opset_import: ["" : 17]> g (float[1, 4] x) => (float[1, 4] y) { y = Relu(x) }'
    ).SerializeToString())
    err = _fails(capsys, ["schedule", str(path), "-o", str(tmp_path / "out.tflite")], tmp_path / "out.tflite")
    assert "not a TFLite flatbuffer" in err


def test_missing_input_is_refused(tmp_path, capsys):
    """A path that does not exist: one-line error, exit 2."""
    _fails(capsys, ["schedule", str(tmp_path / "nope.tflite"), "-o", str(tmp_path / "o.tflite")], tmp_path / "o.tflite")


def test_several_subgraphs_are_refused(tmp_path, capsys):
    """A two-subgraph model: one-line error naming the count, exit 2, no output."""
    model = tfl.read(_model())
    model.subgraphs = model.subgraphs * 2
    path = tmp_path / "two.tflite"
    path.write_bytes(tfl.pack(model))
    err = _fails(capsys, ["schedule", str(path), "-o", str(tmp_path / "out.tflite")], tmp_path / "out.tflite")
    assert "2 subgraphs" in err


def test_foreign_offline_plan_is_refused(tmp_path, capsys):
    """An OfflineMemoryAllocation entry of an unknown version: one-line error, exit 2, no output."""
    model = tfl.read(_model())
    write_offline_plan(model, [0, -1, 1024, 2048])
    entry = next(m for m in model.metadata if m.name == METADATA_NAME)
    model.buffers[entry.buffer].data[0] = 7
    path = tmp_path / "foreign.tflite"
    path.write_bytes(tfl.pack(model))
    err = _fails(capsys, ["schedule", str(path), "-o", str(tmp_path / "out.tflite")], tmp_path / "out.tflite")
    assert "version 7" in err


def test_model_tflm_cannot_run_is_refused(tmp_path, capsys):
    """An op TFLM has no kernel for: one-line error, exit 2, no output."""
    path = tmp_path / "unknown.tflite"
    path.write_bytes(_model(op="SKIP_GRAM"))
    err = _fails(capsys, ["schedule", str(path), "-o", str(tmp_path / "out.tflite")], tmp_path / "out.tflite")
    assert "TFLite Micro" in err

"""patch_tflite and the --patch doors: verified in TFLM, kept layer by layer when it does not pay, refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from patch_models import conv_stack

from mcugraph.errors import BudgetError, ExportError, InvalidModelError, UnsupportedOpError
from mcugraph.patch import apply
from mcugraph.patch.apply import parse_tiling, patch_tflite, report_dict
from mcugraph.tflite.schedule import schedule_tflite
from mcugraph.tflite.tflm import arena_head

SHARED = Path(__file__).resolve().parents[2] / "shared" / "models" / "mlperf-tiny"
WIDE = [("conv", 3, 2, True, 8), ("conv", 1, 1, True, 48), ("dw", 3, 1, True), ("conv", 1, 1, True, 8)]


@pytest.fixture(scope="module")
def scheduled() -> bytes:
    """A 48x40 image through an expanding block: its peak is the 24x20x48 expansion, which tiles shrink."""
    return schedule_tflite(conv_stack(WIDE, hw=(48, 40)))[0]


def test_auto_lowers_the_arena_and_tflm_agrees(scheduled):
    """--patch auto: smaller TFLM head, equal to the prediction, MAC overhead within the cap, tiles reported."""
    patched, report = patch_tflite(scheduled, "auto", 0.3)
    assert report.applied and report.head_after_bytes == report.predicted_bytes == arena_head(patched)
    assert report.head_after_bytes < report.head_before_bytes == arena_head(scheduled)
    assert 0 <= report.mac_overhead <= 0.3
    summary = report_dict(report)
    assert len(summary["tiles"]) == len(report.bands) >= 2
    assert summary["tiles"][0]["rows"][0] == 0 and summary["tiles"][0]["kernels"][0].endswith("STRIDED_SLICE")


def test_auto_keeps_the_model_when_patching_does_not_pay():
    """A model whose peak is not in a tileable stage comes back byte for byte, with the reason."""
    data = schedule_tflite(conv_stack([("conv", 1, 1, True, 4)], hw=(4, 4)))[0]
    same, report = patch_tflite(data, "auto", 0.3)
    assert same == data and not report.applied
    assert "kept layer by layer" in report.reason


def test_explicit_tiling_of_a_global_op_is_refused(scheduled):
    """--patch OP:N with MEAN in the stage: refused, naming the operator and why."""
    with pytest.raises(UnsupportedOpError, match=r"\(MEAN\) cannot run on row tiles"):
        patch_tflite(scheduled, parse_tiling("4:2"))


def test_explicit_tiling_applies(scheduled):
    """--patch 3:4 cuts after operator 3 in 4 bands even if another tiling would be better."""
    _, report = patch_tflite(scheduled, parse_tiling("3:4"))
    assert report.applied and len(report.bands) == 4 and report.stage_operators == 4


@pytest.mark.parametrize("text", ["1", "x:2", "2:0", "-1:3", "auto2"])
def test_bad_tiling_text_is_refused(text):
    """parse_tiling accepts auto, N >= 2 or OP:N only."""
    with pytest.raises(InvalidModelError, match="--patch"):
        parse_tiling(text)


def test_ram_budget_fits_with_least_macs_or_names_the_smallest_arena(scheduled):
    """ram_bytes: unchanged when it fits; the cheapest fitting tiling; else the smallest reachable arena."""
    head = arena_head(scheduled)
    same, report = patch_tflite(scheduled, ram_bytes=head)
    assert same == scheduled and not report.applied
    best = patch_tflite(scheduled, "auto", 0.3)[1]
    _, fitted = patch_tflite(scheduled, ram_bytes=head - 1)
    assert fitted.applied and fitted.head_after_bytes < head and fitted.macs_after <= best.macs_after
    with pytest.raises(BudgetError, match=r"smallest reachable is \d+ B with patching"):
        patch_tflite(scheduled, ram_bytes=1024)


def test_verification_refuses_outputs_that_differ(scheduled, monkeypatch):
    """Control: when TFLM's patched outputs differ by one value, nothing is returned."""
    real = apply.run_tflm_batch
    calls = []

    def corrupt_second(data, samples):
        outputs = real(data, samples)
        calls.append(data)
        if len(calls) == 2:
            outputs[0][0] = outputs[0][0].copy()
            outputs[0][0].flat[0] ^= np.int8(1)
        return outputs

    monkeypatch.setattr(apply, "run_tflm_batch", corrupt_second)
    with pytest.raises(ExportError, match="differs from the unpatched model"):
        patch_tflite(scheduled, "auto", 0.3)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mcugraph", *args], capture_output=True, text=True, timeout=300)


def test_schedule_cli_patches_and_lists_tiles(tmp_path):
    """mcugraph schedule --patch auto --plan-json: written, tiles in the JSON, one line about the patch."""
    source = tmp_path / "in.tflite"
    source.write_bytes(conv_stack(WIDE, hw=(48, 40)))
    out, plan = tmp_path / "out.tflite", tmp_path / "plan.json"
    done = _cli("schedule", str(source), "-o", str(out), "--patch", "auto", "--plan-json", str(plan))
    assert done.returncode == 0, done.stderr
    assert "row tiles" in done.stdout and "bit-exact" in done.stdout
    tiles = json.loads(plan.read_text())["tiles"]
    assert len(tiles) >= 2 and json.loads(plan.read_text())["arena_bytes"] == arena_head(out.read_bytes())


def test_schedule_cli_refuses_a_tiling_that_does_not_apply(tmp_path):
    """A stage ending in MEAN: one line on stderr, exit 2, no output file."""
    source = tmp_path / "in.tflite"
    source.write_bytes(conv_stack(WIDE, hw=(48, 40)))
    out = tmp_path / "out.tflite"
    done = _cli("schedule", str(source), "-o", str(out), "--patch", "4:2")
    assert done.returncode == 2 and "cannot run on row tiles" in done.stderr and len(done.stderr.splitlines()) == 1
    assert not out.exists()


@pytest.mark.skipif(not SHARED.exists(), reason="../shared MLPerf Tiny models absent")
def test_vww_below_the_layer_by_layer_arena():
    """MLPerf Tiny VWW (TF converter int8): patched TFLM head below 55,296 B, prediction exact, bit-exact."""
    data = schedule_tflite((SHARED / "vww_mobilenetv1.int8.tflite").read_bytes())[0]
    patched, report = patch_tflite(data, "auto", 0.3)
    assert report.head_before_bytes == 55296 and report.applied
    assert arena_head(patched) == report.predicted_bytes < 55296


def test_plot_shades_the_tiles(scheduled, tmp_path):
    """analyze --plot on a patched model: every tile's kernels are found (and shaded) in order."""
    from mcugraph.memory.report import _tile_of
    from mcugraph.memory.tflite_graph import kernel_graph_from_tflite

    patched, report = patch_tflite(scheduled, "auto", 0.3)
    graph = kernel_graph_from_tflite(patched)
    tiles = [_tile_of(graph, k.name) for k in graph.kernels]
    assert sorted({t for t in tiles if t is not None}) == list(range(len(report.bands)))
    (tmp_path / "p.tflite").write_bytes(patched)
    done = _cli("analyze", str(tmp_path / "p.tflite"), "--plot", str(tmp_path / "p.png"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "p.png").stat().st_size > 0


@pytest.fixture(scope="module")
def onnx_cnn(tmp_path_factory) -> Path:
    """A small torch CNN whose peak is in its first, high-resolution convolutions (exported by the legacy exporter)."""
    import torch
    from torch import nn

    from mcugraph import zoo

    torch.manual_seed(0)
    module = nn.Sequential(
        nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(), nn.Conv2d(8, 32, 1), nn.ReLU(), nn.Conv2d(32, 32, 3, 1, 1, groups=32),
        nn.ReLU(), nn.Conv2d(32, 8, 1), nn.ReLU(), nn.Conv2d(8, 16, 3, 2, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(16, 4),
    ).eval()
    path = tmp_path_factory.mktemp("onnx") / "cnn.onnx"
    path.write_bytes(zoo.export(module, torch.rand(1, 3, 48, 40), keep_batchnorm=False).SerializeToString())
    return path


def test_opt_cli_patch_auto_reports_the_tiles(onnx_cnn, tmp_path):
    """mcugraph opt --patch auto --json: the written model's TFLM head is the patched one, tiles listed."""
    out = tmp_path / "m.tflite"
    done = _cli("opt", str(onnx_cnn), "-o", str(out), "--calib", "random:0,1,10", "--patch", "auto", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    patch = report["patch"]
    assert patch["applied"] and patch["head_after_bytes"] < patch["head_before_bytes"]
    assert report["arena_head_bytes"] == patch["head_after_bytes"] == arena_head(out.read_bytes())
    assert len(patch["tiles"]) >= 2 and patch["mac_overhead"] <= 0.3


def test_opt_cli_ram_without_prune_names_the_smallest_arena(onnx_cnn, tmp_path):
    """--ram 1KiB without --prune cannot be met by tiling: one line naming the smallest arena, no file."""
    out = tmp_path / "m.tflite"
    done = _cli("opt", str(onnx_cnn), "-o", str(out), "--calib", "random:0,1,10", "--ram", "1KiB")
    assert done.returncode == 2 and "smallest reachable is" in done.stderr and not out.exists()

"""The coverage zoo (``mcugraph.zoo_coverage``): every family builds, and a handful go through ``opt`` in CI.

``benchmarks/coverage.py`` runs all families with both exporters; these few cases keep the families that already
export from regressing (one exporter each, to stay within a few seconds).
"""

from __future__ import annotations

import pytest
import torch

import mcugraph
from mcugraph import zoo_coverage

# (family, exporter): families that pass ``opt`` today, the exporter alternating to cover both.
PASSING = [
    ("cnn2d", "legacy"),
    ("mlp", "dynamo"),
    ("two_outputs", "legacy"),
    ("accel_cnn1d", "legacy"),  # Conv1d as CONV_2D over H = 1
    ("mobilenetv3", "legacy"),  # opset-13 HardSwish fused back, squeeze-excite
]


@pytest.mark.parametrize("name", list(zoo_coverage.FAMILIES))
def test_family_builds_and_runs_in_torch(name):
    """Each family constructs, takes its example inputs and gives finite outputs."""
    module, examples = zoo_coverage.build(name)
    with torch.no_grad():
        outputs = module(*examples)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    assert all(torch.isfinite(o).all() for o in outputs)


@pytest.mark.parametrize(("name", "exporter"), PASSING)
def test_family_exports_and_verifies(name, exporter, tmp_path):
    """opt writes a verified int8 model whose TFLM arena head equals the prediction."""
    family = zoo_coverage.FAMILIES[name]
    path = zoo_coverage.export(name, tmp_path / f"{name}.onnx", exporter)
    low, high = family.value_range
    result = mcugraph.optimize(str(path), calib=f"random:{low},{high},20", progress=False, warn=lambda _: None)
    report = result.report
    assert report["arena_head_bytes"] == report["predicted_arena_bytes"]
    assert report["verification"]["sqnr_db"] >= 20


def test_unknown_exporter_is_refused(tmp_path):
    """export() names the exporters it knows instead of guessing."""
    with pytest.raises(ValueError, match="dynamo"):
        zoo_coverage.export("mlp", tmp_path / "m.onnx", "onnxscript")


def test_torchvision_width_rounding():
    """MobileNetV2 0.35 channel counts follow torchvision's _make_divisible (16 stem, 8, 8, 16, 24, 32, 56, 112)."""
    assert [zoo_coverage._divisible(c * 0.35) for c in (32, 16, 24, 32, 64, 96, 160, 320)] == [
        16, 8, 8, 16, 24, 32, 56, 112,
    ]

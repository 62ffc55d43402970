"""decompose-gelu: Gelu and torch's Erf spelling become the tanh approximation in Mul/Add/Sigmoid."""

from __future__ import annotations

import math

import numpy as np
import onnx_ir as ir
import pytest
import torch
from passes_check import model, ops, unchanged
from torch import nn
from torch_export import EXPORTERS, export

import mcugraph
from mcugraph.registry import create_pass
from mcugraph.runtime import input_feeds, run_onnx

TANH_FORM = ["Mul", "Mul", "Add", "Mul", "Sigmoid", "Mul"]


def _erf_gelu(x: np.ndarray) -> np.ndarray:
    return np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.ravel()]).reshape(x.shape)


def _sqnr_db(reference: np.ndarray, actual: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(reference**2) / np.sum((actual - reference) ** 2)))


def _rewrites_close(m: ir.Model, atol: float) -> ir.Model:
    feeds = input_feeds(m)
    before = run_onnx(m, feeds)
    result = create_pass("decompose-gelu")(m)
    assert result.modified
    mcugraph.pipeline.check_model(result.model)
    np.testing.assert_allclose(run_onnx(result.model, feeds)[0], before[0], atol=atol)
    return result.model


def test_tanh_form_is_82_db_from_exact_gelu():
    """The rewrite's function vs exact (Erf) GELU on x in [-6, 6]: max error 4.7e-4, SQNR above 80 dB."""
    m = model("""
        <ir_version: 9, opset_import: ["" : 20]>
        g (float[1, 2001] x) => (float[1, 2001] y) { y = Gelu(x) }
    """)
    m = _rewrites_close(m, atol=5e-4)
    x = np.linspace(-6, 6, 2001, dtype=np.float32)[None]
    approx = run_onnx(m, {"x": x})[0].astype(np.float64)
    exact = _erf_gelu(x.astype(np.float64))
    assert np.abs(approx - exact).max() < 5e-4
    assert _sqnr_db(exact, approx) > 80
    assert ops(m) == TANH_FORM


def test_tanh_gelu_is_rewritten_exactly():
    """Gelu(approximate="tanh") is the same function as the rewrite (float rounding only)."""
    m = model("""
        <ir_version: 9, opset_import: ["" : 20]>
        g (float[1, 64] x) => (float[1, 64] y) { y = Gelu <approximate = "tanh"> (x) }
    """)
    _rewrites_close(m, atol=2e-6)


@pytest.mark.parametrize("spelling", [
    "d = Div(x, sqrt2)\n e = Erf(d)\n a = Add(e, one)\n m = Mul(x, a)\n y = Mul(m, half)",
    "d = Mul(x, rsqrt2)\n e = Erf(d)\n a = Add(one, e)\n m = Mul(a, half)\n y = Mul(x, m)",
    "h = Mul(half, x)\n d = Div(x, sqrt2)\n e = Erf(d)\n a = Add(e, one)\n y = Mul(h, a)",
])
def test_erf_spellings_are_rewritten(spelling):
    """torch's opset-13 Erf GELU, factors in any order, becomes the tanh form."""
    m = model(f"""
        <ir_version: 8, opset_import: ["" : 13]>
        g (float[1, 32] x) => (float[1, 32] y)
          <float sqrt2 = {{1.4142135}}, float rsqrt2 = {{0.70710677}}, float one = {{1.0}}, float half = {{0.5}}> {{
            {spelling}
        }}
    """)
    assert ops(_rewrites_close(m, atol=5e-4)) == TANH_FORM


def test_erf_that_is_not_gelu_is_left_alone():
    """Erf(x / 2) (wrong constant) and an intermediate read elsewhere keep the graph as it is."""
    unchanged("decompose-gelu", model("""
        <ir_version: 8, opset_import: ["" : 13]>
        g (float[1, 8] x) => (float[1, 8] y) <float two = {2.0}, float one = {1.0}, float half = {0.5}> {
            d = Div(x, two)
            e = Erf(d)
            a = Add(e, one)
            m = Mul(x, a)
            y = Mul(m, half)
        }
    """))
    unchanged("decompose-gelu", model("""
        <ir_version: 8, opset_import: ["" : 13]>
        g (float[1, 8] x) => (float[1, 8] y, float[1, 8] e)
          <float sqrt2 = {1.4142135}, float one = {1.0}, float half = {0.5}> {
            d = Div(x, sqrt2)
            e = Erf(d)
            a = Add(e, one)
            m = Mul(x, a)
            y = Mul(m, half)
        }
    """))


class GeluMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(8, 16), nn.Linear(16, 4)

    def forward(self, x):
        return self.b(nn.functional.gelu(self.a(x)))


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_torch_gelu_mlp_exports_and_verifies(exporter, tmp_path):
    """Both exporters' GELU reach the exporter as the same 6 ops; TFLM's arena head equals the prediction."""
    torch.manual_seed(0)
    m = export(GeluMLP(), torch.randn(1, 8), exporter, tmp_path)
    canonical = mcugraph.run_pipeline(m, mcugraph.CANONICALIZE, check=True).model
    assert ops(canonical) == ["Gemm", *TANH_FORM, "Gemm"]
    report = mcugraph.optimize(m, calib="random:-2,2,64").report  # 64: a ReLU MLP gets 40 dB, this 34
    assert report["arena_head_bytes"] == report["predicted_arena_bytes"]
    assert report["verification"]["sqnr_db"] > 30

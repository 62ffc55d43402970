"""decompose-layer-norm and decompose-pow: LayerNorm from either torch exporter reaches the exporter in one form."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from passes_check import model, ops, rewrites, unchanged
from torch import nn
from torch_export import EXPORTERS, export

import mcugraph

# What both passes leave for a LayerNorm with scale and bias; reciprocal-sqrt (in CANONICALIZE) then makes the
# Div(d, Sqrt(v)) a Mul(d, Reciprocal(Sqrt(v))), which exports as RSQRT + MUL in int8.
LAYER_NORM_OPS = ["ReduceMean", "Sub", "Mul", "ReduceMean", "Add", "Sqrt", "Div", "Mul", "Add"]
CANONICAL_LAYER_NORM_OPS = ["ReduceMean", "Sub", "Mul", "ReduceMean", "Add", "Sqrt", "Reciprocal", "Mul", "Mul", "Add"]


def _scale_bias(n: int) -> str:
    rng = np.random.default_rng(0)
    scale, bias = rng.uniform(0.5, 1.5, n), rng.uniform(-1, 1, n)
    return (f"float[{n}] s = {{{', '.join(f'{v:.4f}' for v in scale)}}}, "
            f"float[{n}] b = {{{', '.join(f'{v:.4f}' for v in bias)}}}")


@pytest.mark.parametrize("opset", [17, 18])
def test_layer_norm_over_last_axis(opset):
    """LayerNormalization(axis=-1) at opset 17 (ReduceMean axes attribute) and 18 (axes input)."""
    m = model(f"""
        <ir_version: 8, opset_import: ["" : {opset}]>
        g (float[1, 5, 6] x) => (float[1, 5, 6] y) <{_scale_bias(6)}> {{
            y = LayerNormalization <epsilon = 0.001> (x, s, b)
        }}
    """)
    assert ops(rewrites("decompose-layer-norm", m)) == LAYER_NORM_OPS


def test_layer_norm_over_two_axes_without_bias():
    """axis=1 normalises over (C, L) together; a missing bias adds no Add."""
    m = model(f"""
        <ir_version: 8, opset_import: ["" : 18]>
        g (float[2, 3, 4] x) => (float[2, 3, 4] y) <float[3, 4] s = {{{', '.join(['1.5'] * 12)}}}> {{
            y = LayerNormalization <axis = 1> (x, s)
        }}
    """)
    assert ops(rewrites("decompose-layer-norm", m)) == LAYER_NORM_OPS[:-1]


def test_model_without_layer_norm_is_unchanged():
    """A graph with a ReduceMean but no LayerNormalization is left alone."""
    unchanged("decompose-layer-norm", model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[1, 4] x) => (float[1, 1] y) { y = ReduceMean <axes = [1]> (x) }
    """))


def test_layer_norm_whose_statistics_are_read_outputs_them():
    """Mean and InvStdDev read as graph outputs: the decomposition's mean and Reciprocal(Sqrt) carry their names
    and onnxruntime's values (they were refused)."""
    m = model(f"""
        <ir_version: 8, opset_import: ["" : 18]>
        g (float[2, 6] x) => (float[2, 6] y, float[2, 1] mean, float[2, 1] inv) <{_scale_bias(6)}> {{
            y, mean, inv = LayerNormalization (x, s, b)
        }}
    """)
    out = rewrites("decompose-layer-norm", m)
    assert ops(out) == ["ReduceMean", "Sub", "Mul", "ReduceMean", "Add", "Sqrt", "Reciprocal", "Mul", "Mul", "Add"]


@pytest.mark.parametrize(("exponent", "expected"), [
    ("2.0", ["Mul"]), ("3.0", ["Mul", "Mul"]), ("0.5", ["Sqrt"]), ("1.0", []),
])
def test_pow_by_small_constants(exponent, expected):
    """Pow(x, 2 | 3 | 0.5 | 1) become Mul / Sqrt / nothing."""
    m = model(f"""
        <ir_version: 8, opset_import: ["" : 13]>
        g (float[1, 4] x) => (float[1, 4] y) <float e = {{{exponent}}}> {{
            a = Relu(x)
            p = Pow(a, e)
            y = Sigmoid(p)
        }}
    """)
    assert ops(rewrites("decompose-pow", m)) == ["Relu", *expected, "Sigmoid"]


def test_pow_by_other_exponents_is_kept():
    """Pow by 1.7, or by a tensor, stays (the exporter refuses it with its name)."""
    unchanged("decompose-pow", model("""
        <ir_version: 8, opset_import: ["" : 13]>
        g (float[1, 4] x, float[1, 4] z) => (float[1, 4] y, float[1, 4] w) <float e = {1.7}> {
            y = Pow(x, e)
            w = Pow(x, z)
        }
    """))


class Block(nn.Module):
    """A tiny transformer block: LayerNorm, self-attention (MatMul of activations, Softmax), LayerNorm, GELU MLP."""

    def __init__(self, d: int = 8):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.q, self.k, self.v = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.up, self.down = nn.Linear(d, 2 * d), nn.Linear(2 * d, d)

    def forward(self, x):
        h = self.ln1(x)
        attention = torch.softmax(self.q(h) @ self.k(h).transpose(1, 2) / 2.0, -1)
        x = x + attention @ self.v(h)
        return x + self.down(nn.functional.gelu(self.up(self.ln2(x))))


def _block(exporter, tmp_path):
    torch.manual_seed(0)
    block = Block()
    for ln in (block.ln1, block.ln2):
        ln.weight.data.uniform_(0.5, 1.5)
        ln.bias.data.uniform_(-0.5, 0.5)
    return export(block, torch.randn(1, 4, 8), exporter, tmp_path)


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_torch_transformer_block_canonicalises_to_one_form(exporter, tmp_path):
    """Both exporters' block: no LayerNormalization/Pow/Erf/Gelu left, same ops, same outputs as before."""
    m = _block(exporter, tmp_path)
    from mcugraph.runtime import input_feeds, run_onnx

    feeds = input_feeds(m)
    before = run_onnx(m, feeds)[0]
    canonical = mcugraph.run_pipeline(m, mcugraph.CANONICALIZE, check=True).model
    assert not {"LayerNormalization", "Pow", "Erf", "Gelu"} & set(ops(canonical))
    assert ops(canonical)[:10] == CANONICAL_LAYER_NORM_OPS and ops(canonical).count("Sqrt") == 2
    np.testing.assert_allclose(run_onnx(canonical, feeds)[0], before, atol=2e-3)  # GELU's tanh form: < 5e-4


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_torch_transformer_block_exports_and_verifies(exporter, tmp_path):
    """`opt` on the block: TFLM's arena head equals the prediction and the int8 model tracks onnxruntime."""
    report = mcugraph.optimize(_block(exporter, tmp_path), calib="random:-2,2,32").report
    assert report["arena_head_bytes"] == report["predicted_arena_bytes"]
    assert report["verification"]["sqnr_db"] > 20

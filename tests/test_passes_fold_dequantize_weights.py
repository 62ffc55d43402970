"""fold-dequantize-weights: constant DequantizeLinear becomes a float initializer; activation Q/DQ stays."""

import numpy as np
from passes_check import model, ops, rewrites, unchanged

import mcugraph

CONV_WITH_INT8_WEIGHT = """
<ir_version: 8, opset_import: ["" : 17]>
g (float[1, 2, 5, 5] x) => (float[1, 3, 5, 5] y)
<int8[3, 2, 3, 3] w = {%s}, float%s scale = {%s}, int8%s zp = {%s}>
{
    wf = DequantizeLinear <axis = 0> (w, scale, zp)
    y = Conv <pads = [1, 1, 1, 1]> (x, wf)
}
"""
WEIGHTS = ", ".join(str((i * 37) % 255 - 127) for i in range(54))


def test_per_tensor_weights_folded():
    """A per-tensor int8 weight with scale and zero point becomes one float initializer."""
    m = rewrites("fold-dequantize-weights", model(CONV_WITH_INT8_WEIGHT % (WEIGHTS, "", "0.02", "", "3")))
    assert ops(m) == ["Conv"]
    assert m.graph.node(0).inputs[1].const_value.numpy().dtype == np.float32


def test_per_axis_weights_folded():
    """Per-output-channel scales and zero points (axis=0) fold too."""
    text = CONV_WITH_INT8_WEIGHT % (WEIGHTS, "[3]", "0.01, 0.02, 0.04", "[3]", "0, -2, 5")
    m = rewrites("fold-dequantize-weights", model(text))
    assert ops(m) == ["Conv"]


def test_int8_inputs_of_folded_weights_removed():
    """The int8 weight, scale and zero point initializers go with the node."""
    m = rewrites("fold-dequantize-weights", model(CONV_WITH_INT8_WEIGHT % (WEIGHTS, "", "0.02", "", "3")))
    assert set(m.graph.initializers) == {"wf"}


def test_activation_qdq_left_alone():
    """A Quantize/Dequantize pair on an activation is not a weight: no change."""
    m = model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[1, 8] x) => (float[1, 8] y) <float scale = {0.1}, int8 zp = {0}>
        {
            q = QuantizeLinear(x, scale, zp)
            d = DequantizeLinear(q, scale, zp)
            y = Relu(d)
        }
    """)
    unchanged("fold-dequantize-weights", m)


def test_kws_weights_folded(shared_models):
    """The shared KWS model's DequantizeLinear weight nodes all fold."""
    m = mcugraph.load(shared_models / "kws_dscnn.onnx")
    m = rewrites("fold-dequantize-weights", m)
    assert "DequantizeLinear" not in ops(m)


def test_other_constant_ops_left_to_fold_constants():
    """Only DequantizeLinear is this pass's business: a constant Add stays for fold-constants."""
    unchanged("fold-dequantize-weights", model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[4] x) => (float[4] y) <float[4] a = {1, 2, 3, 4}, float[4] b = {1, 1, 1, 1}>
        { c = Add(a, b)  y = Mul(x, c) }
    """))


def test_dequantize_producing_a_graph_output_kept():
    """A constant DequantizeLinear whose result is a graph output stays (an initializer cannot be an output)."""
    unchanged("fold-dequantize-weights", model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[4] x) => (float[4] y, float[4] wf) <int8[4] w = {1, -2, 3, -4}, float scale = {0.5}>
        { wf = DequantizeLinear(w, scale)  y = Mul(x, wf) }
    """))

"""decompose-hard-sigmoid: HardSigmoid becomes Mul/Add/Relu/Min with the same outputs, and exports to TFLite."""

from export_check import check_export
from passes_check import model, ops, rewrites, unchanged

HARD_SIGMOID = """
    <ir_version: 8, opset_import: ["" : 17]>
    g (float[1, 4, 3, 3] x) => (float[1, 4, 3, 3] y)
    { a = Mul(x, x)  y = HardSigmoid<alpha: float = 0.3, beta: float = 0.4>(a) }
"""


def test_hard_sigmoid_decomposed():
    """HardSigmoid is replaced by Mul, Add, Relu, Min computing the same values; the output name stays."""
    m = rewrites("decompose-hard-sigmoid", model(HARD_SIGMOID))
    assert ops(m) == ["Mul", "Mul", "Add", "Relu", "Min"]
    assert m.graph.outputs[0].name == "y"


def test_decomposed_hard_sigmoid_exports_to_tflite():
    """After decomposition TFLM computes HardSigmoid (float32 and int8) like onnxruntime."""
    m = rewrites("decompose-hard-sigmoid", model(HARD_SIGMOID))
    check_export(m, int8=False)
    check_export(m, int8=True)


def test_model_without_hard_sigmoid_unchanged():
    """No HardSigmoid: the pass reports no modification."""
    unchanged("decompose-hard-sigmoid", model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[2] x) => (float[2] y) { y = Sigmoid(x) }
    """))


def test_default_attributes_and_both_clips():
    """Without attributes (alpha 0.2, beta 0.5) and inputs spread to +-10 so both the 0 and the 1 clip apply:
    the same outputs as onnxruntime's HardSigmoid (rewrites() compares them)."""
    m = rewrites("decompose-hard-sigmoid", model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[1, 64] x) => (float[1, 64] y) <float ten = {10}>
        { a = Mul(x, ten)  y = HardSigmoid(a) }
    """))
    assert ops(m) == ["Mul", "Mul", "Add", "Relu", "Min"]

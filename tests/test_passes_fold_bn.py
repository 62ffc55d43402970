"""fold-bn: BatchNormalization folds into Conv/ConvTranspose/Gemm, else becomes Mul+Add, or stays when it must."""

import numpy as np
import onnx
from onnx import helper
from passes_check import ops, rewrites, unchanged

import mcugraph

RNG = np.random.default_rng(0)


def _tensor(name: str, *shape: int, low: float = -1.0, high: float = 1.0) -> onnx.TensorProto:
    return onnx.numpy_helper.from_array(RNG.uniform(low, high, shape).astype(np.float32), name)


def _bn_inputs(c: int) -> list[onnx.TensorProto]:
    return [_tensor("gamma", c, low=0.5, high=1.5), _tensor("beta", c), _tensor("mean", c),
            _tensor("var", c, low=0.5, high=1.5)]


def _model(nodes, initializers, x_shape, outputs=("y",), inputs=()):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, x_shape), *inputs],
        [helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None) for name in outputs], initializers,
    )
    return mcugraph.load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


def _bn(x: str = "c", y: str = "y", **attrs) -> onnx.NodeProto:
    return helper.make_node("BatchNormalization", [x, "gamma", "beta", "mean", "var"], [y], **attrs)


def test_conv_without_bias_folded():
    """Conv (no bias) + BN becomes one Conv with a bias."""
    conv = helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1])
    m = _model([conv, _bn()], [_tensor("w", 4, 3, 3, 3), *_bn_inputs(4)], [1, 3, 6, 6])
    m = rewrites("fold-bn", m)
    assert ops(m) == ["Conv"]
    assert len(m.graph.node(0).inputs) == 3


def test_grouped_conv_transpose_folded():
    """A grouped ConvTranspose + BN folds along the grouped output-channel axis."""
    deconv = helper.make_node("ConvTranspose", ["x", "w", "b"], ["c"], group=2, strides=[2, 2])
    inits = [_tensor("w", 4, 3, 2, 2), _tensor("b", 6), *_bn_inputs(6)]
    m = rewrites("fold-bn", _model([deconv, _bn()], inits, [1, 4, 3, 3]))
    assert ops(m) == ["ConvTranspose"]


def test_gemm_folded():
    """Gemm (transB=0, beta=0.5) + BN over its columns folds into B and C."""
    gemm = helper.make_node("Gemm", ["x", "w", "b"], ["c"], beta=0.5)
    inits = [_tensor("w", 5, 4), _tensor("b", 4), *_bn_inputs(4)]
    m = rewrites("fold-bn", _model([gemm, _bn()], inits, [2, 5]))
    assert ops(m) == ["Gemm"]


def test_shared_conv_output_becomes_mul_add():
    """When the Conv output is also read elsewhere, the BN becomes Mul + Add instead."""
    conv = helper.make_node("Conv", ["x", "w"], ["c"])
    m = _model([conv, _bn(y="n"), helper.make_node("Add", ["c", "n"], ["y"])],
               [_tensor("w", 4, 3, 1, 1), *_bn_inputs(4)], [1, 3, 5, 5])
    assert ops(rewrites("fold-bn", m)) == ["Conv", "Mul", "Add", "Add"]


def test_shared_conv_output_kept_without_standalone():
    """With standalone=false a BN that cannot fold stays."""
    conv = helper.make_node("Conv", ["x", "w"], ["c"])
    m = _model([conv, _bn(y="n"), helper.make_node("Add", ["c", "n"], ["y"])],
               [_tensor("w", 4, 3, 1, 1), *_bn_inputs(4)], [1, 3, 5, 5])
    unchanged("fold-bn", m, standalone=False)


def test_non_constant_statistics_refused():
    """A BN whose mean is a graph input is not a constant affine map: no change."""
    conv = helper.make_node("Conv", ["x", "w"], ["c"])
    inits = [_tensor("w", 4, 3, 1, 1), *[t for t in _bn_inputs(4) if t.name != "mean"]]
    mean = helper.make_tensor_value_info("mean", onnx.TensorProto.FLOAT, [4])
    unchanged("fold-bn", _model([conv, _bn()], inits, [1, 3, 5, 5], inputs=[mean]))


def test_training_mode_refused():
    """A BN in training mode uses batch statistics: no change."""
    conv = helper.make_node("Conv", ["x", "w"], ["c"])
    bn = helper.make_node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["y", "rm", "rv"],
                          training_mode=1)
    m = _model([conv, bn], [_tensor("w", 4, 3, 1, 1), *_bn_inputs(4)], [2, 3, 5, 5])
    unchanged("fold-bn", m)


def test_bn_feeding_graph_output_keeps_name():
    """When the BN output is the graph output, the folded Conv output takes its name."""
    conv = helper.make_node("Conv", ["x", "w"], ["c"])
    m = rewrites("fold-bn", _model([conv, _bn()], [_tensor("w", 4, 3, 1, 1), *_bn_inputs(4)], [1, 3, 5, 5]))
    assert m.graph.node(0).outputs[0].name == "y"


def _small_variance_bn_inputs(c: int) -> list[onnx.TensorProto]:
    """Variances of 0.001..0.01 next to epsilon=0.1: leaving epsilon out would scale channels up to 10x too much."""
    return [_tensor("gamma", c, low=0.5, high=1.5), _tensor("beta", c), _tensor("mean", c),
            _tensor("var", c, low=0.001, high=0.01)]


def test_large_epsilon_is_part_of_the_folded_scale():
    """Conv + BN(epsilon=0.1, tiny variances) folds into one Conv with the same outputs: epsilon is not dropped."""
    conv = helper.make_node("Conv", ["x", "w", "b"], ["c"])
    inits = [_tensor("w", 4, 3, 1, 1), _tensor("b", 4), *_small_variance_bn_inputs(4)]
    m = rewrites("fold-bn", _model([conv, _bn(epsilon=0.1)], inits, [1, 3, 5, 5]))
    assert ops(m) == ["Conv"]


def test_large_epsilon_is_part_of_the_standalone_scale():
    """A BN on a graph input (nothing to fold into) becomes Mul + Add with epsilon in the scale."""
    m = rewrites("fold-bn", _model([_bn(x="x", epsilon=0.1)], _small_variance_bn_inputs(3), [1, 3, 4, 4]))
    assert ops(m) == ["Mul", "Add"]

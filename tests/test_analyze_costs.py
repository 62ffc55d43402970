"""MACs, weight bytes and params per node, checked against hand counts on small graphs."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

import mcugraph
from mcugraph.analysis import analyze, node_costs
from mcugraph.errors import MCUGraphError


def graph(nodes, inputs, outputs, initializers) -> onnx.ModelProto:
    """A model from helper nodes; inputs/outputs are (name, shape) of float tensors, initializers name -> shape."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)
             for name, shape in initializers.items()]
    g = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs],
        inits,
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def costs_by_name(proto: onnx.ModelProto, dtype: str = "int8"):
    return {c.name: c for c in node_costs(mcugraph.load(proto), dtype)}


def test_conv_macs_and_bytes():
    """Conv 3->16, 3x3, pad 1 on 8x8: Oh*Ow*Oc*Kh*Kw*Ic MACs, int8 weights and int32 bias."""
    proto = graph([helper.make_node("Conv", ["x", "w", "b"], ["y"], "conv", pads=[1, 1, 1, 1])],
                  [("x", [1, 3, 8, 8])], [("y", [1, 16, 8, 8])], {"w": (16, 3, 3, 3), "b": (16,)})
    cost = costs_by_name(proto)["conv"]
    assert cost.macs == 8 * 8 * 16 * 3 * 3 * 3
    assert cost.weight_bytes == 16 * 3 * 3 * 3 * 1 + 16 * 4
    assert cost.params == 16 * 3 * 3 * 3 + 16


def test_strided_conv_macs_use_output_size():
    """A stride-2 conv without padding costs per output pixel: (8-3)//2+1 = 3 pixels a side."""
    proto = graph([helper.make_node("Conv", ["x", "w"], ["y"], "conv", strides=[2, 2])],
                  [("x", [1, 4, 8, 8])], [("y", [1, 6, 3, 3])], {"w": (6, 4, 3, 3)})
    assert costs_by_name(proto)["conv"].macs == 3 * 3 * 6 * 3 * 3 * 4


def test_depthwise_and_grouped_conv_macs():
    """Depthwise (groups = channels) and grouped convs divide the input channels by groups."""
    nodes = [
        helper.make_node("Conv", ["x", "dw"], ["a"], "depthwise", group=8, pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["a", "gw"], ["y"], "grouped", group=2, pads=[1, 1, 1, 1]),
    ]
    proto = graph(nodes, [("x", [1, 8, 6, 6])], [("y", [1, 4, 6, 6])], {"dw": (8, 1, 3, 3), "gw": (4, 4, 3, 3)})
    costs = costs_by_name(proto)
    assert costs["depthwise"].macs == 6 * 6 * 8 * 3 * 3 * 8 // 8
    assert costs["grouped"].macs == 6 * 6 * 4 * 3 * 3 * 8 // 2
    assert costs["grouped"].weight_bytes == 4 * 4 * 3 * 3


def test_conv_transpose_macs():
    """ConvTranspose 4->2, 3x3, stride 2 on 5x5: every input element meets Kh*Kw*Oc weights."""
    proto = graph([helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], "deconv", strides=[2, 2])],
                  [("x", [1, 4, 5, 5])], [("y", [1, 2, 11, 11])], {"w": (4, 2, 3, 3), "b": (2,)})
    cost = costs_by_name(proto)["deconv"]
    assert cost.macs == 5 * 5 * 4 * 3 * 3 * 2
    assert cost.weight_bytes == 4 * 2 * 3 * 3 + 2 * 4


def test_gemm_macs_and_bytes():
    """Gemm 64 -> 10 with transB: in*out MACs, 640 int8 weights, 10 int32 biases."""
    proto = graph([helper.make_node("Gemm", ["x", "w", "b"], ["y"], "fc", transB=1)],
                  [("x", [1, 64])], [("y", [1, 10])], {"w": (10, 64), "b": (10,)})
    cost = costs_by_name(proto)["fc"]
    assert (cost.macs, cost.weight_bytes, cost.params) == (64 * 10, 64 * 10 + 10 * 4, 64 * 10 + 10)


def test_gemm_trans_a_uses_the_right_k():
    """With transA the reduction length is A's first dimension."""
    proto = graph([helper.make_node("Gemm", ["x", "w"], ["y"], "fc", transA=1)],
                  [("x", [32, 3])], [("y", [3, 5])], {"w": (32, 5)})
    assert costs_by_name(proto)["fc"].macs == 3 * 5 * 32


def test_matmul_rows_and_bias_add():
    """MatMul [4,16]x[16,8] costs rows*in*out; the Add of a constant after it is the layer's int32 bias."""
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"], "matmul"), helper.make_node("Add", ["m", "b"], ["y"], "bias")]
    proto = graph(nodes, [("x", [4, 16])], [("y", [4, 8])], {"w": (16, 8), "b": (8,)})
    costs = costs_by_name(proto)
    assert (costs["matmul"].macs, costs["matmul"].weight_bytes) == (4 * 16 * 8, 16 * 8)
    assert (costs["bias"].macs, costs["bias"].weight_bytes) == (0, 8 * 4)


def test_float32_dtype_makes_every_element_four_bytes():
    """dtype="float32" stores weights and biases as 4-byte floats."""
    proto = graph([helper.make_node("Gemm", ["x", "w", "b"], ["y"], "fc", transB=1)],
                  [("x", [1, 64])], [("y", [1, 10])], {"w": (10, 64), "b": (10,)})
    assert costs_by_name(proto, "float32")["fc"].weight_bytes == (64 * 10 + 10) * 4


def test_unknown_dtype_is_refused():
    """A deployment dtype other than int8/float32 is an error naming the choices."""
    proto = graph([helper.make_node("Relu", ["x"], ["y"], "relu")], [("x", [1, 4])], [("y", [1, 4])], {})
    with pytest.raises(MCUGraphError, match="int8, float32"):
        node_costs(mcugraph.load(proto), "int4")


def test_activations_and_clip_bounds_cost_nothing():
    """Relu and Clip have no MACs, and Clip's scalar bounds are not parameters."""
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], "relu"),
        helper.make_node("Constant", [], ["lo"], "lo", value=numpy_helper.from_array(np.float32(0), "lo")),
        helper.make_node("Constant", [], ["hi"], "hi", value=numpy_helper.from_array(np.float32(6), "hi")),
        helper.make_node("Clip", ["r", "lo", "hi"], ["y"], "relu6"),
    ]
    proto = graph(nodes, [("x", [1, 4])], [("y", [1, 4])], {})
    report = analyze(mcugraph.load(proto))
    assert (report.macs, report.weight_bytes, report.params) == (0, 0, 0)


def test_shared_weight_counted_once():
    """Two Gemms reading one weight initializer put it in flash once."""
    nodes = [helper.make_node("Gemm", ["x", "w"], ["a"], "fc1", transB=1),
             helper.make_node("Gemm", ["a", "w"], ["y"], "fc2", transB=1)]
    proto = graph(nodes, [("x", [1, 8])], [("y", [1, 8])], {"w": (8, 8)})
    report = analyze(mcugraph.load(proto))
    assert report.weight_bytes == 8 * 8
    assert report.macs == 2 * 8 * 8
    assert [row.weight_bytes for row in report.ops] == [8 * 8, 0]


def test_dequantized_weight_is_charged_to_its_consumer():
    """DequantizeLinear of an int8 initializer folds away; the Conv reading it pays 1 byte per element."""
    w = numpy_helper.from_array(np.ones((4, 2, 1, 1), np.int8), "wq")
    scale = numpy_helper.from_array(np.float32(0.1), "scale")
    nodes = [helper.make_node("DequantizeLinear", ["wq", "scale"], ["w"], "dq"),
             helper.make_node("Conv", ["x", "w"], ["y"], "conv")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 3, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 3, 3])], [w, scale])
    costs = costs_by_name(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    assert (costs["dq"].macs, costs["dq"].weight_bytes) == (0, 0)
    assert (costs["conv"].macs, costs["conv"].weight_bytes) == (3 * 3 * 4 * 2, 4 * 2)


def test_elementwise_constant_is_an_int8_weight():
    """A Mul by a per-channel constant stores that constant as int8 weights."""
    proto = graph([helper.make_node("Mul", ["x", "s"], ["y"], "scale")],
                  [("x", [1, 4, 2, 2])], [("y", [1, 4, 2, 2])], {"s": (1, 4, 1, 1)})
    cost = costs_by_name(proto)["scale"]
    assert (cost.macs, cost.weight_bytes, cost.params) == (0, 4, 4)


def test_integer_constants_are_not_parameters():
    """A Reshape's int64 shape tensor is operator metadata, not a weight."""
    shape = numpy_helper.from_array(np.array([1, 16], np.int64), "shape")
    g = helper.make_graph([helper.make_node("Reshape", ["x", "shape"], ["y"], "flatten")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 2, 2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])], [shape])
    report = analyze(mcugraph.load(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])))
    assert (report.weight_bytes, report.params) == (0, 0)


def test_lstm_macs_and_params():
    """LSTM over 5 steps, input 8, hidden 16: W and R once per step; params equal torch's."""
    proto = graph([helper.make_node("LSTM", ["x", "w", "r", "b"], ["y"], "lstm", hidden_size=16)],
                  [("x", [5, 1, 8])], [("y", [5, 1, 1, 16])],
                  {"w": (1, 4 * 16, 8), "r": (1, 4 * 16, 16), "b": (1, 8 * 16)})
    cost = costs_by_name(proto)["lstm"]
    assert cost.macs == 5 * (4 * 16 * 8 + 4 * 16 * 16)
    assert cost.params == sum(p.numel() for p in torch.nn.LSTM(8, 16).parameters())
    assert cost.weight_bytes == 4 * 16 * 8 + 4 * 16 * 16 + 8 * 16 * 4

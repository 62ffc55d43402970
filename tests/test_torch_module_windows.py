"""Property test: Conv / MaxPool / AveragePool handlers equal onnxruntime for random window attributes."""

from __future__ import annotations

import numpy as np
import onnx
import onnx_ir as ir
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mcugraph.prune.torch_module import GraphModule
from mcugraph.runtime import run_onnx


@st.composite
def windows(draw):
    op = draw(st.sampled_from(["Conv", "MaxPool", "AveragePool"]))
    k = draw(st.tuples(st.integers(1, 3), st.integers(1, 3)))
    strides = draw(st.tuples(st.integers(1, 3), st.integers(1, 3)))
    pads = [draw(st.integers(0, k[i % 2] - 1)) for i in range(4)]  # ONNX pools need pad < kernel
    attrs = {"kernel_shape": list(k), "strides": list(strides), "pads": pads}
    if op == "Conv":
        attrs["dilations"] = [draw(st.integers(1, 2)), draw(st.integers(1, 2))]
        attrs["group"] = draw(st.sampled_from([1, 2]))
    elif op == "MaxPool":
        attrs["ceil_mode"] = draw(st.integers(0, 1))
    else:
        attrs["count_include_pad"] = draw(st.integers(0, 1))
    size = draw(st.tuples(st.integers(5, 9), st.integers(5, 9)))  # >= the largest dilated kernel
    return op, attrs, size


def window_model(op: str, attrs: dict, size: tuple[int, int]) -> ir.Model:
    h = onnx.helper
    inputs, initializers = ["x"], []
    if op == "Conv":
        weight = np.random.default_rng(0).normal(size=(4, 4 // attrs["group"], *attrs["kernel_shape"]))
        initializers.append(onnx.numpy_helper.from_array(weight.astype(np.float32), "w"))
        inputs.append("w")
    graph = h.make_graph(
        [h.make_node(op, inputs, ["y"], **attrs)], "g",
        [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4, *size])],
        [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)], initializers,
    )
    proto = onnx.shape_inference.infer_shapes(h.make_model(graph, opset_imports=[h.make_opsetid("", 17)]))
    return ir.serde.deserialize_model(proto)


@settings(max_examples=40, deadline=None)
@given(windows())
def test_window_ops_match_onnxruntime(case):
    """Random kernels, strides, asymmetric pads, dilations, groups, ceil_mode and count_include_pad."""
    op, attrs, size = case
    model = window_model(op, attrs, size)
    x = np.random.default_rng(1).normal(size=(1, 4, *size)).astype(np.float32)
    with torch.no_grad():
        got = GraphModule(model)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, run_onnx(model, {"x": x})[0], rtol=1e-5, atol=1e-5)

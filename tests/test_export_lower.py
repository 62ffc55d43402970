"""Each ONNX op alone, exported to TFLite: TFLM (and LiteRT) must agree with onnxruntime, float32 and int8."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from export_check import check_export, one_node, operators, weights
from hypothesis import assume, given
from hypothesis import strategies as st

import mcugraph
from mcugraph.errors import ExportError

X = (1, 4, 8, 8)  # the NCHW activation most cases use


def graph(text: str, **consts: np.ndarray):
    """A model from onnx.parser text (opset 17) with the given initializers: cases of more than one node."""
    proto = onnx.parser.parse_model('<ir_version: 8, opset_import: ["" : 17]>\n' + text)
    proto.graph.initializer.extend(onnx.numpy_helper.from_array(np.asarray(v), n) for n, v in consts.items())
    return mcugraph.load(proto)

CASES = {
    "conv_same": (lambda: one_node("Conv", {"x": X}, {"w": weights(6, 4, 3, 3), "b": weights(6)}, pads=[1] * 4),
                  ["CONV_2D"]),
    "conv_stride2_explicit_pad": (
        lambda: one_node("Conv", {"x": X}, {"w": weights(6, 4, 3, 3)}, pads=[1] * 4, strides=[2, 2]),
        ["PAD", "CONV_2D"]),
    "conv_valid_dilated": (
        lambda: one_node("Conv", {"x": X}, {"w": weights(5, 4, 3, 3)}, dilations=[2, 2]), ["CONV_2D"]),
    "conv_asymmetric_kernel": (
        lambda: one_node("Conv", {"x": (1, 1, 49, 10)}, {"w": weights(8, 1, 10, 4)}, pads=[4, 1, 5, 1],
                         strides=[2, 2]), ["CONV_2D"]),
    "depthwise_multiplier_2": (
        lambda: one_node("Conv", {"x": X}, {"w": weights(8, 1, 3, 3), "b": weights(8)}, group=4, pads=[1] * 4),
        ["DEPTHWISE_CONV_2D"]),
    "grouped_conv": (
        lambda: one_node("Conv", {"x": X}, {"w": weights(6, 2, 3, 3), "b": weights(6)}, group=2, pads=[1] * 4),
        ["CONV_2D"]),
    "conv_transpose_valid": (
        lambda: one_node("ConvTranspose", {"x": X}, {"w": weights(4, 3, 3, 3), "b": weights(3)}, strides=[2, 2]),
        ["TRANSPOSE_CONV"]),
    "conv_transpose_same_k4s2": (
        lambda: one_node("ConvTranspose", {"x": X}, {"w": weights(4, 5, 4, 4)}, strides=[2, 2], pads=[1, 1, 1, 1]),
        ["TRANSPOSE_CONV"]),
    "conv_transpose_same_output_padding": (
        lambda: one_node("ConvTranspose", {"x": X}, {"w": weights(4, 2, 3, 3)}, strides=[2, 2], pads=[0, 0, 1, 1],
                         output_padding=[0, 0]),
        ["TRANSPOSE_CONV"]),
    # PyTorch's standard 2x upsampling (k3 s2 p1 output_padding 1): a zero row/column after the kernel.
    "conv_transpose_k3s2p1_output_padding_1": (
        lambda: one_node("ConvTranspose", {"x": X}, {"w": weights(4, 3, 3, 3), "b": weights(3)}, strides=[2, 2],
                         pads=[1, 1, 1, 1], output_padding=[1, 1]),
        ["TRANSPOSE_CONV"]),
    "conv_transpose_uneven_crops": (
        lambda: one_node("ConvTranspose", {"x": X}, {"w": weights(4, 2, 3, 2)}, strides=[2, 1], pads=[2, 0, 0, 1],
                         output_padding=[1, 0]),
        ["TRANSPOSE_CONV"]),
    "gemm_transb": (lambda: one_node("Gemm", {"x": (1, 16)}, {"w": weights(10, 16), "b": weights(10)}, transB=1),
                    ["FULLY_CONNECTED"]),
    "gemm_alpha_beta": (
        lambda: one_node("Gemm", {"x": (1, 16)}, {"w": weights(16, 10), "b": weights(1, 10)}, alpha=0.5, beta=2.0),
        ["FULLY_CONNECTED"]),
    "matmul": (lambda: one_node("MatMul", {"x": (1, 16)}, {"w": weights(16, 7)}), ["FULLY_CONNECTED"]),
    "batch_matmul": (lambda: one_node("MatMul", {"x": (1, 3, 5), "z": (1, 5, 4)}), ["BATCH_MATMUL"]),
    # Attention scores (1, heads, T, T) from (1, T, D) tokens split into heads: the rank-4 operands, the scaling and
    # the softmax stay in ONNX order (no TRANSPOSE the kernel view does not know about).
    "batch_matmul_heads_scale_softmax": (lambda: graph("""
        g (float[1,6,8] q, float[1,8,6] k) => (float[1,12,6] y) <float s = {0.5}, int64[4] qs = {1, 6, 2, 4},
                                                                  int64[4] ks = {1, 2, 4, 6}, int64[3] ys = {1, 12, 6}>
        { qh = Reshape(q, qs)
          qt = Transpose<perm=[0, 2, 1, 3]>(qh)
          kh = Reshape(k, ks)
          a = MatMul(qt, kh)
          b = Mul(a, s)
          p = Softmax<axis=-1>(b)
          y = Reshape(p, ys) }"""), ["RESHAPE", "RESHAPE", "TRANSPOSE", "BATCH_MATMUL", "MUL", "SOFTMAX", "RESHAPE"]),
    # nn.Linear on a (1, T, D) token tensor: the bias Add is absorbed, its channels are the last axis.
    "linear_on_tokens": (lambda: graph("""
        g (float[1,5,16] x) => (float[1,5,8] y)
        { a = MatMul(x, w)
          y = Add(a, b) }""", w=weights(16, 8), b=weights(8)), ["FULLY_CONNECTED"]),
    "add_channel_constant": (lambda: one_node("Add", {"x": X}, {"c": weights(4, 1, 1)}), ["ADD"]),
    "add_two_activations": (lambda: one_node("Add", {"x": X, "z": X}), ["ADD"]),
    "sub_constant_first": (lambda: one_node("Sub", {"x": X}, {"c": weights(1, 4, 1, 1)}, order=["c", "x"]), ["SUB"]),
    "mul_scalar": (lambda: one_node("Mul", {"x": (1, 10)}, {"c": np.array(0.75, np.float32)}), ["MUL"]),
    "div_by_constant": (lambda: one_node("Div", {"x": X}, {"c": weights(4, 1, 1) + 1.0}), ["DIV"]),
    "max_two_activations": (lambda: one_node("Max", {"x": X, "z": X}), ["MAXIMUM"]),
    "min_constant": (lambda: one_node("Min", {"x": X}, {"c": np.array(0.25, np.float32)}), ["MINIMUM"]),
    "prelu_per_channel": (lambda: one_node("PRelu", {"x": X}, {"a": weights(4, 1, 1)}), ["PRELU"]),
    "concat_channels": (lambda: one_node("Concat", {"x": X, "z": (1, 2, 8, 8)}, axis=1), ["CONCATENATION"]),
    "concat_12_inputs": (
        lambda: one_node("Concat", {f"x{i}": (1, 2, 4, 4) for i in range(12)}, axis=1),
        ["CONCATENATION", "CONCATENATION"]),
    "max_pool": (lambda: one_node("MaxPool", {"x": X}, kernel_shape=[2, 2], strides=[2, 2]), ["MAX_POOL_2D"]),
    "max_pool_same": (lambda: one_node("MaxPool", {"x": X}, kernel_shape=[3, 3], pads=[1] * 4), ["MAX_POOL_2D"]),
    "max_pool_explicit_pad": (
        lambda: one_node("MaxPool", {"x": X}, kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4),
        ["PADV2", "MAX_POOL_2D"]),
    "average_pool": (
        lambda: one_node("AveragePool", {"x": X}, kernel_shape=[2, 2], strides=[2, 2]), ["AVERAGE_POOL_2D"]),
    "average_pool_count_pad": (
        lambda: one_node("AveragePool", {"x": X}, kernel_shape=[3, 3], pads=[1] * 4, count_include_pad=1),
        ["PAD", "AVERAGE_POOL_2D"]),
    "global_average_pool": (lambda: one_node("GlobalAveragePool", {"x": X}), ["MEAN"]),
    "global_max_pool": (lambda: one_node("GlobalMaxPool", {"x": X}), ["REDUCE_MAX"]),
    "reduce_mean_drop_axes": (lambda: one_node("ReduceMean", {"x": X}, axes=[2, 3], keepdims=0), ["MEAN"]),
    "reduce_max_keep_axes": (lambda: one_node("ReduceMax", {"x": X}, axes=[2, 3], keepdims=1), ["REDUCE_MAX"]),
    "relu": (lambda: one_node("Relu", {"x": X}), ["RELU"]),
    "clip_0_6": (
        lambda: one_node("Clip", {"x": X}, {"lo": np.array(0.0, np.float32), "hi": np.array(6.0, np.float32)}),
        ["RELU6"]),
    "clip_min_0_only_is_relu": (lambda: one_node("Clip", {"x": X}, {"lo": np.array(0.0, np.float32)}), ["RELU"]),
    "leaky_relu": (lambda: one_node("LeakyRelu", {"x": X}, alpha=0.1), ["LEAKY_RELU"]),
    "sigmoid": (lambda: one_node("Sigmoid", {"x": X}), ["LOGISTIC"]),
    "tanh": (lambda: one_node("Tanh", {"x": X}), ["TANH"]),
    "hard_swish": (lambda: one_node("HardSwish", {"x": X}), ["HARD_SWISH"]),
    "elu": (lambda: one_node("Elu", {"x": X}), ["ELU"]),
    "sqrt": (lambda: one_node("Sqrt", {"x": X}), ["SQRT"]),  # float32 only (FLOAT_ONLY)
    "rsqrt": (lambda: graph("""
        g (float[1,4,8,8] x) => (float[1,4,8,8] y) <float eps = {0.25}>
        { a = Mul(x, x)
          b = Add(a, eps)
          s = Sqrt(b)
          y = Reciprocal(s) }"""), ["MUL", "ADD", "RSQRT"]),
    "softmax": (lambda: one_node("Softmax", {"x": (1, 10)}), ["SOFTMAX"]),
    "pad": (lambda: one_node("Pad", {"x": X}, {"p": np.array([0, 0, 1, 2, 0, 0, 2, 1])}), ["PAD"]),
    "pad_value": (lambda: one_node("Pad", {"x": X}, {"p": np.array([0, 0, 1, 1, 0, 0, 1, 1]),
                                                     "v": np.array(0.25, np.float32)}), ["PADV2"]),
    # An input only a reshape reads stays in ONNX order: no TRANSPOSE (the kernel view has none to model).
    "flatten_to_output": (lambda: one_node("Flatten", {"x": X}), ["RESHAPE"]),
    "reshape_1x1_spatial": (lambda: one_node("Reshape", {"x": (1, 6, 1, 1)}, {"s": np.array([1, 6])}), ["RESHAPE"]),
    "unsqueeze": (lambda: one_node("Unsqueeze", {"x": (1, 6)}, {"a": np.array([2])}), ["RESHAPE"]),
    "squeeze_1x1_spatial": (lambda: one_node("Squeeze", {"x": (1, 6, 1, 1)}, {"a": np.array([2, 3])}), ["RESHAPE"]),
    # As a graph output an Identity/Dropout keeps its name through a RESHAPE copy; elsewhere it is an alias.
    "identity_as_output": (lambda: one_node("Identity", {"x": X}), ["RESHAPE"]),
    "dropout_as_output": (lambda: one_node("Dropout", {"x": (1, 10)}), ["RESHAPE"]),
    "transpose_hw": (lambda: one_node("Transpose", {"x": X}, perm=[0, 1, 3, 2]), ["TRANSPOSE"]),
    "resize_nearest_2x": (
        lambda: one_node("Resize", {"x": X}, {"roi": np.zeros(0, np.float32), "s": np.array([1, 1, 2, 2], np.float32)},
                         mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
        ["RESIZE_NEAREST_NEIGHBOR"]),
    "resize_nearest_half_pixel_3x": (
        lambda: one_node("Resize", {"x": X}, {"roi": np.zeros(0, np.float32), "s": np.array([1, 1, 3, 3], np.float32)},
                         mode="nearest", coordinate_transformation_mode="half_pixel"),
        ["RESIZE_NEAREST_NEIGHBOR"]),
    "slice_channels_and_width": (
        lambda: one_node("Slice", {"x": X}, {"s": np.array([1, 2]), "e": np.array([3, 100]), "a": np.array([1, 3])}),
        ["STRIDED_SLICE"]),
    "gather_indices": (lambda: one_node("Gather", {"x": (1, 6)}, {"i": np.array([5, -1, 0])}, axis=1), ["GATHER"]),
    "split_equal": (lambda: one_node("Split", {"x": X}, {"s": np.array([2, 2])}, axis=1, outputs=2), ["SPLIT"]),
    "split_unequal": (lambda: one_node("Split", {"x": X}, {"s": np.array([3, 5])}, axis=2, outputs=2),
                      ["SPLIT_V"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_float32_matches_onnxruntime(case):
    """The float32 lowering of one op computes what onnxruntime computes, with the expected TFLite operators."""
    build, expected_ops = CASES[case]
    result = check_export(build(), int8=False)
    if expected_ops is not None:
        assert operators(result.data) == expected_ops


# TFLM has no int8 kernel for these: the int8 export must refuse them and say so.
FLOAT_ONLY = {"sqrt": "SQRT kernel is float32 only"}


@pytest.mark.parametrize("case", sorted(CASES))
def test_int8_within_few_steps(case):
    """The int8 lowering of one op stays within a few output quantisation steps of onnxruntime."""
    build, _ = CASES[case]
    if case in FLOAT_ONLY:
        with pytest.raises(ExportError, match=FLOAT_ONLY[case]):
            check_export(build(), int8=True)
        return
    check_export(build(), int8=True)


@given(
    size=st.integers(5, 9), kernel=st.integers(1, 4), stride=st.integers(1, 3), dilation=st.integers(1, 2),
    pads=st.lists(st.integers(0, 2), min_size=4, max_size=4), depthwise=st.booleans(),
)
def test_any_conv_geometry_matches_onnxruntime(size, kernel, stride, dilation, pads, depthwise):
    """Any kernel/stride/dilation/padding mix (SAME, VALID or explicit PAD) lowers exactly in float32."""
    assume((kernel - 1) * dilation + 1 <= size + min(pads[0] + pads[2], pads[1] + pads[3]))  # else ONNX rejects it
    w = weights(6 if depthwise else 5, 1 if depthwise else 3, kernel, kernel)
    model = one_node("Conv", {"x": (1, 3, size, size)}, {"w": w}, group=3 if depthwise else 1,
                     strides=[stride] * 2, dilations=[dilation] * 2, pads=pads)
    check_export(model, int8=False, litert=False)


@given(
    source=st.sampled_from([(1, 3, 4, 2), (1, 1, 6, 4), (1, 6, 1, 4), (1, 24, 1, 1), (1, 2, 3, 4)]),
    target=st.sampled_from([(1, 24), (1, 4, 6), (1, 2, 3, 4), (1, 4, 3, 2), (1, 1, 24, 1), (1, 24, 1, 1), (24,)]),
)
def test_any_reshape_between_layouts_matches_onnxruntime(source, target):
    """Reshape between NHWC-stored rank-4 and other shapes keeps ONNX's element order, in float32 and int8."""
    model = one_node("Reshape", {"x": source}, {"s": np.array(target)})
    check_export(model, int8=False, litert=False)
    check_export(model, int8=True, litert=False)


@given(perm=st.permutations(range(4)))
def test_any_transpose_matches_onnxruntime(perm):
    """A Transpose kernel of any permutation of an NHWC-stored tensor computes ONNX's result."""
    model = one_node("Transpose", {"x": (1, 2, 3, 4)}, perm=list(perm))
    check_export(model, int8=False, litert=False)


@st.composite
def non_empty_slices(draw) -> tuple[int, int, int, int]:
    """(axis, start, stop, step) of a non-empty Slice of a (2, 3, 4, 5) tensor, in every ONNX spelling: negative
    axes and starts, stops counted from the end or past the end (clamped)."""
    axis = draw(st.integers(-4, 3))
    dim = (2, 3, 4, 5)[axis]
    first = draw(st.integers(0, dim - 1))
    end = draw(st.integers(first + 1, dim))
    start = draw(st.sampled_from([first, first - dim]))
    stop = draw(st.sampled_from([end, end - dim] if end < dim else [end, end + draw(st.integers(1, 100))]))
    return axis, start, stop, draw(st.integers(1, 3))


@given(non_empty_slices())
def test_any_slice_and_concat_axis_matches_onnxruntime(case):
    """Slice and Concat on any ONNX axis map to the right TFLite axis of the NHWC tensor."""
    axis, start, stop, step = case
    sliced = one_node("Slice", {"x": (2, 3, 4, 5)}, {"s": np.array([start]), "e": np.array([stop]),
                                                     "a": np.array([axis]), "t": np.array([step])})
    assert 0 not in sliced.graph.outputs[0].shape
    check_export(sliced, int8=False, litert=False)
    check_export(one_node("Concat", {"x": (2, 3, 4, 5), "z": (2, 3, 4, 5)}, axis=axis), int8=False, litert=False)
    check_export(one_node("Concat", {"x": (2, 3, 4, 5), "z": (2, 3, 4, 5)}, axis=axis), int8=False, litert=False)

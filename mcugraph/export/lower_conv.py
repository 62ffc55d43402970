"""Lowerings of the weighted ops (Conv, ConvTranspose, Gemm/MatMul) and the window padding pools share.

Each function has the signature ``fn(cx, node, out, act)``: ``out`` is the kernel's final ONNX value (after any
fused activation) and ``act`` the TFLite fused activation name ("NONE", "RELU", "RELU6", "RELU_N1_TO_1").
"""

from __future__ import annotations

import math

import numpy as np
import onnx_ir as ir

from mcugraph.errors import ExportError
from mcugraph.export import layout
from mcugraph.export.context import Lowering
from mcugraph.export.flatbuffer import ACTIVATIONS
from mcugraph.export.quant_params import bias_weight_scales, quantize_bias, quantize_weights
from mcugraph.ops.attributes import int_list
from mcugraph.ops.padding import explicit_pads, onnx_pads
from mcugraph.tflite.schema import schema


def window_padding(
    cx: Lowering, node: ir.Node, x: ir.Value, index: int, kernel: list[int], strides: list[int], dil: list[int],
    pad_value: float | None = 0.0,
) -> tuple[int, int]:
    """(TFLite padding enum, input tensor): SAME or VALID when they match ONNX's pads, else an explicit PAD + VALID.

    ``pad_value`` None means the explicit padding cannot be expressed exactly (AveragePool without
    count_include_pad); then only SAME/VALID are accepted. The PAD output is the tensor ``<kernel>/pad``, the name
    the kernel view gives it.
    """
    pads = explicit_pads(node)
    if pads is None:
        hw = (int(x.shape[2]), int(x.shape[3]))
        any_pad = any(onnx_pads(node, hw, kernel, strides, dil))
        return (schema.Padding.SAME if any_pad else schema.Padding.VALID), index
    if pad_value is None:
        raise ExportError(
            f"node '{node.name}' ({node.op_type}): padding {pads} is neither SAME nor VALID and cannot be made "
            "explicit exactly (count_include_pad=0); use symmetric SAME padding"
        )
    # The PAD is its own kernel: written at that kernel's place in the order (cx.step.part), then found by name.
    name = cx.step.part or f"{cx.step.name}/pad"
    if name in cx.slots:
        return schema.Padding.VALID, cx.slots[name].index
    shape = [int(d) for d in cx.fm.tensors[index].shape]
    padded = [shape[0], shape[1] + pads[0] + pads[2], shape[2] + pads[1] + pads[3], shape[3]]
    out = cx.named(name, padded, cx.tensor_param(index), layout.NHWC)
    paddings = cx.int32("paddings", [[0, 0], [pads[0], pads[2]], [pads[1], pads[3]], [0, 0]])
    if pad_value == 0.0:
        cx.fm.op("PAD", [index, paddings], [out], schema.PadOptionsT())
    else:
        param = cx.tensor_param(index)
        value = np.array([pad_value], dtype=np.float32)
        if param is not None:  # int8: the lowest code; max pooling then never picks a padded element
            value = np.array([param.range[0]], dtype=np.float32)
        const = cx.float_const("pad_value", value.reshape(()), param)
        cx.fm.op("PADV2", [index, paddings, const], [out], schema.PadV2OptionsT())
    return schema.Padding.VALID, out


def check_shape(cx: Lowering, node: ir.Node, out_index: int, tfl_shape: list[int]) -> None:
    got = [int(d) for d in cx.fm.tensors[out_index].shape]
    if got != tfl_shape:
        raise ExportError(
            f"node '{node.name}' ({node.op_type}): TFLite would compute shape {tfl_shape}, ONNX says {got} "
            "(ceil_mode or asymmetric padding TFLite cannot express); export with ceil_mode=0"
        )


def out_hw(size: int, k: int, stride: int, dil: int, padding: int) -> int:
    if padding == schema.Padding.SAME:
        return math.ceil(size / stride)
    return (size - (k - 1) * dil - 1) // stride + 1


def _weights(cx: Lowering, name: str, w: np.ndarray, axis: int, input_index: int, bias: np.ndarray) -> int:
    if not cx.int8:
        return cx.fm.tensor(name, w.shape, np.float32, data=w.astype(np.float32))
    # The int32 bias has scale input_scale * weight_scale: widen a channel's weight scale where the bias would
    # not fit otherwise (a tiny input range, as in an untrained net), as the TFLite converter does.
    q, scales = quantize_weights(w, axis, bias_weight_scales(bias, cx.tensor_param(input_index).scale))
    return cx.fm.tensor(name, w.shape, np.int8, data=q, quant=(scales, np.zeros(len(scales)), axis))


def _bias(cx: Lowering, name: str, b: np.ndarray, weight_index: int, input_index: int) -> int:
    if not cx.int8:
        return cx.fm.tensor(name, b.shape, np.float32, data=b.astype(np.float32))
    w_scales = np.asarray(cx.fm.tensors[weight_index].quantization.scale, dtype=np.float32)
    in_param = cx.tensor_param(input_index)
    q, scales = quantize_bias(b, in_param.scale, w_scales)
    return cx.fm.tensor(name, b.shape, np.int32, data=q, quant=(scales, np.zeros(len(scales)), 0))


def const_input(cx: Lowering, node: ir.Node, i: int, what: str) -> np.ndarray:
    value = node.inputs[i] if i < len(node.inputs) else None
    array = cx.const(value)
    if array is None:
        raise ExportError(
            f"node '{node.name}' ({node.op_type}): {what} is computed from a graph input, not a constant; TFLite "
            "needs constant weights: make it an initializer"
        )
    return array.astype(np.float32)


def _absorb(cx: Lowering, w: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fold the BatchNormalization / bias Add the kernel view put into this kernel (output channels on axis 0)."""
    affine = getattr(cx.step, "affine", None)
    if affine is None:
        return w, bias
    scale, shift = affine
    return w * scale.reshape((-1,) + (1,) * (w.ndim - 1)), bias * scale + shift


def conv(cx: Lowering, node: ir.Node, out: ir.Value, act: str) -> None:
    x = node.inputs[0]
    w = const_input(cx, node, 1, "the weight")
    o, per_group, kh, kw = w.shape
    channels = int(x.shape[1])
    group = node.attributes["group"].as_int() if "group" in node.attributes else 1
    bias = const_input(cx, node, 2, "the bias") if len(node.inputs) > 2 and node.inputs[2] is not None else None
    bias = np.zeros(o, np.float32) if bias is None else bias
    w, bias = _absorb(cx, w, bias)
    strides = int_list(node, "strides", [1, 1])
    dil = int_list(node, "dilations", [1, 1])
    index = cx.input(x, layout.NHWC)
    padding, index = window_padding(cx, node, x, index, [kh, kw], strides, dil)
    if cx.step.part:
        return  # only the explicit PAD kernel
    builtin = cx.step.builtin  # the kernel view decided CONV_2D or DEPTHWISE_CONV_2D
    if builtin == "CONV_2D" and channels % group == 0 and o % group == 0:
        # OIHW -> OHWI; grouped: I is channels / group, and TFLM's CONV_2D infers the groups from it.
        weights, axis = w.transpose(0, 2, 3, 1), 0
        options = schema.Conv2DOptionsT()
    elif builtin == "DEPTHWISE_CONV_2D" and group == channels and per_group == 1:
        weights, axis = w.transpose(1, 2, 3, 0), 3  # (C*m)1HW -> 1HW(C*m)
        options = schema.DepthwiseConv2DOptionsT()
        options.depthMultiplier = o // channels
    else:
        raise ExportError(f"node '{node.name}' (Conv): group={group} does not divide its {channels} input and {o} "
                          "output channels")
    options.padding = padding
    options.strideH, options.strideW = strides
    options.dilationHFactor, options.dilationWFactor = dil
    options.fusedActivationFunction = ACTIVATIONS[act]
    w_index = _weights(cx, f"{node.name}/weights", weights, axis, index, bias)
    b_index = _bias(cx, f"{node.name}/bias", bias, w_index, index)
    out_index = cx.output(out, layout.NHWC)
    in_shape = [int(d) for d in cx.fm.tensors[index].shape]
    hw = [out_hw(in_shape[1 + i], [kh, kw][i], strides[i], dil[i], padding) for i in range(2)]
    check_shape(cx, node, out_index, [in_shape[0], *hw, o])
    cx.fm.op(builtin, [index, w_index, b_index], [out_index], options)


def conv_transpose(cx: Lowering, node: ir.Node, out: ir.Value, act: str) -> None:
    """TRANSPOSE_CONV for the ConvTranspose geometries TFLite's VALID/SAME express (output_padding included)."""
    x = node.inputs[0]
    w = const_input(cx, node, 1, "the weight")  # (C_in, C_out, kh, kw)
    c_in, c_out, kh, kw = w.shape
    bias = const_input(cx, node, 2, "the bias") if len(node.inputs) > 2 and node.inputs[2] is not None else None
    bias = np.zeros(c_out, np.float32) if bias is None else bias
    strides = int_list(node, "strides", [1, 1])
    pads = int_list(node, "pads", [0, 0, 0, 0])
    extra = int_list(node, "output_padding", [0, 0])
    group = node.attributes["group"].as_int() if "group" in node.attributes else 1
    auto = node.attributes.get("auto_pad")
    if group != 1 or int_list(node, "dilations", [1, 1]) != [1, 1] or (auto is not None and auto.as_string() != "NOTSET"):
        raise ExportError(f"node '{node.name}' (ConvTranspose): only group=1, dilation 1 and explicit pads map to "
                          "TRANSPOSE_CONV")
    if "output_shape" in node.attributes:  # ONNX derives the pads (output_padding included) from it
        wanted = list(node.attributes["output_shape"].as_ints())[-2:]
        total = [strides[i] * (int(x.shape[2 + i]) - 1) + extra[i] + (kh, kw)[i] - wanted[i] for i in range(2)]
        pads = [t - t // 2 for t in total] + [t // 2 for t in total]
        extra = [0, 0]
    # VALID: the full result, uncropped, or longer by zero rows at the end as long as LiteRT's VALID check
    # ceil((output - k + 1) / stride) == input holds; else SAME.
    ins, outs = [int(d) for d in x.shape[2:]], [int(d) for d in out.shape[2:]]
    same = any(pads[i] != 0 or pads[i + 2] - extra[i] > 0
               or -(-(outs[i] - (kh, kw)[i] + 1) // strides[i]) != ins[i] for i in range(2))
    padding = schema.Padding.SAME if same else schema.Padding.VALID
    # Zero rows/columns around the kernel shift TFLite's crop onto ONNX's (see _transpose_conv_axis).
    zeros = [_transpose_conv_axis(pads[i], pads[i + 2] - extra[i], same) for i in range(2)]
    w = np.pad(w, [(0, 0), (0, 0), zeros[0], zeros[1]])
    if same:
        _check_transpose_conv_same(node, ins, outs, strides)
    index = cx.input(x, layout.NHWC)
    weights = w.transpose(1, 2, 3, 0)  # (C_in, C_out, kh, kw) -> (C_out, kh, kw, C_in)
    w_index = _weights(cx, f"{node.name}/weights", weights, 0, index, bias)
    b_index = _bias(cx, f"{node.name}/bias", bias, w_index, index)
    out_index = cx.output(out, layout.NHWC)
    shape = cx.int32("output_shape", [int(d) for d in cx.fm.tensors[out_index].shape])
    options = schema.TransposeConvOptionsT()
    options.padding = padding
    options.strideH, options.strideW = strides
    options.fusedActivationFunction = ACTIVATIONS[act]
    cx.fm.op("TRANSPOSE_CONV", [shape, w_index, index, b_index], [out_index], options)


def _check_transpose_conv_same(node: ir.Node, ins: list[int], outs: list[int], strides: list[int]) -> None:
    """TFLite's SAME TRANSPOSE_CONV derives its padding from the output size as a forward SAME convolution would:
    only an output of ``ceil(output / stride) == input`` rows crops where ONNX does (LiteRT refuses the others;
    TFLM runs them, wrongly)."""
    for axis, (i, o, s) in enumerate(zip(ins, outs, strides, strict=True)):
        if -(-o // s) != i:
            raise ExportError(
                f"node '{node.name}' (ConvTranspose): output {'HW'[axis]} {o} with stride {s} from input {i}; "
                f"TFLite's TRANSPOSE_CONV with padding needs ceil(output / stride) == input (pads/output_padding "
                "that crop so are not expressible)"
            )


def _transpose_conv_axis(crop_before: int, crop_after: int, same: bool) -> tuple[int, int]:
    """(zero rows before, zero rows after the kernel) making TFLite's TRANSPOSE_CONV crop what ONNX's does.

    ONNX computes the full transposed convolution ((size - 1) * stride + k rows) and crops ``pads[begin]`` rows
    before and ``pads[end] - output_padding`` after (negative: zero rows are added). TFLite writes the output size
    it is given and crops 0 rows before (VALID) or ``(rows too many) // 2`` (SAME). ``a`` zero rows before the
    kernel shift the full result by ``a`` rows and ``b`` after lengthen it, so SAME crops
    ``(crop_before + crop_after + a + b) // 2`` and ONNX needs ``crop_before + a``: PyTorch's k3 s2 p1
    output_padding 1 becomes a 4-row kernel whose last row is zero. VALID (no crop at all) needs no zeros.
    """
    if not same:
        return 0, 0
    total = crop_before + crop_after
    for extra in range(2 * abs(total) + 2 * abs(crop_before) + 2):  # fewest zero rows first
        for a in range(extra + 1):
            if (total + extra) // 2 == crop_before + a:
                return a, extra - a
    raise AssertionError("unreachable: extra = |crop_after - crop_before| + 1 always solves it")


def gemm(cx: Lowering, node: ir.Node, out: ir.Value, act: str) -> None:
    if "transA" in node.attributes and node.attributes["transA"].as_int():
        raise ExportError(f"node '{node.name}' (Gemm): transA=1 has no TFLite equivalent; transpose the input")
    w = const_input(cx, node, 1, "B (the weight)")
    if not ("transB" in node.attributes and node.attributes["transB"].as_int()):
        w = w.T
    alpha = node.attributes["alpha"].as_float() if "alpha" in node.attributes else 1.0
    beta = node.attributes["beta"].as_float() if "beta" in node.attributes else 1.0
    bias = np.zeros(w.shape[0], np.float32)
    if len(node.inputs) > 2 and node.inputs[2] is not None:
        c = const_input(cx, node, 2, "C (the bias)")
        bias = np.broadcast_to(c.reshape(-1) if c.size == w.shape[0] else c, (w.shape[0],)).astype(np.float32)
    fully_connected(cx, node, node.inputs[0], w * alpha, bias * beta, out, act)


def matmul(cx: Lowering, node: ir.Node, out: ir.Value, act: str) -> None:
    if cx.step.builtin == "BATCH_MATMUL":  # the kernel view's decision: two activations
        _batch_matmul(cx, node, out)
        return
    w = const_input(cx, node, 1, "the second operand")
    if w.ndim != 2:
        raise ExportError(f"node '{node.name}' (MatMul): a batched constant operand has no FULLY_CONNECTED form")
    fully_connected(cx, node, node.inputs[0], w.T, np.zeros(w.shape[1], np.float32), out, act)


def _batch_matmul(cx: Lowering, node: ir.Node, out: ir.Value) -> None:
    """Two activations, or a batched constant rhs: BATCH_MATMUL on the ONNX layout (it multiplies the last two
    axes, like ONNX); a constant rhs is int8 per-tensor with its own range."""
    a, b = node.inputs
    if len(a.shape) != len(b.shape) or len(a.shape) < 2:
        raise ExportError(f"node '{node.name}' (MatMul): operands of ranks {len(a.shape)} and {len(b.shape)}; "
                          "TFLite's BATCH_MATMUL needs equal ranks >= 2")
    inputs = [cx.input(v, layout.identity(len(v.shape))) if cx.const(v) is None
              else cx.float_const(f"{node.name}/rhs", cx.const(v)) for v in (a, b)]
    options = schema.BatchMatMulOptionsT()
    cx.fm.op("BATCH_MATMUL", inputs, [cx.output(out, layout.identity(len(out.shape)))], options)


def fully_connected(
    cx: Lowering, node: ir.Node, a: ir.Value, w: np.ndarray, bias: np.ndarray, out: ir.Value, act: str
) -> None:
    """FULLY_CONNECTED with weight ``w`` of shape (outputs, features)."""
    w, bias = _absorb(cx, w, bias)
    slot = cx.slot(a)
    if slot.feature_order is not None:
        w = w[:, slot.feature_order]  # the flatten kept TFLite's (H, W, C) order: match it in the columns
        index = slot.index
    else:
        index = cx.input(a, layout.identity(len(a.shape)))
    options = schema.FullyConnectedOptionsT()
    options.fusedActivationFunction = ACTIVATIONS[act]
    options.keepNumDims = len(out.shape) > 2
    w_index = _weights(cx, f"{node.name}/weights", np.ascontiguousarray(w), 0, index, bias)
    b_index = _bias(cx, f"{node.name}/bias", bias, w_index, index)
    out_index = cx.output(out, layout.identity(len(out.shape)))
    cx.fm.op("FULLY_CONNECTED", [index, w_index, b_index], [out_index], options)

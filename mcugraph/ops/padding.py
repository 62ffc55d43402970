"""The padding facts of ONNX windowed ops (Conv, MaxPool, AveragePool) in TFLite's terms: SAME padding, and the
pads SAME/VALID cannot express.

Below both the exporter (``mcugraph.export.lower_conv`` writes the explicit PAD) and the kernel view
(``mcugraph.memory.kernel_view`` models it), so neither package imports the other for it.
"""

from __future__ import annotations

import math

import onnx_ir as ir

from mcugraph.errors import ExportError
from mcugraph.ops.attributes import int_list


def same_pads(size: int, k: int, stride: int, dilation: int) -> tuple[int, int]:
    """TFLite SAME padding (before, after) for one spatial axis: the extra pixel goes after, as TF does."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def onnx_pads(node: ir.Node, hw: tuple[int, int], kernel: list[int], strides: list[int], dil: list[int]) -> list[int]:
    """ONNX pads as [top, left, bottom, right], with auto_pad resolved."""
    auto = node.attributes.get("auto_pad")
    mode = auto.as_string() if auto is not None else "NOTSET"
    if mode == "VALID":
        return [0, 0, 0, 0]
    if mode in ("SAME_UPPER", "SAME_LOWER"):
        (t, b), (l_, r) = (same_pads(hw[i], kernel[i], strides[i], dil[i]) for i in range(2))
        return [t, l_, b, r] if mode == "SAME_UPPER" else [b, r, t, l_]
    return int_list(node, "pads", [0, 0, 0, 0])


def explicit_pads(node: ir.Node) -> list[int] | None:
    """ONNX pads [top, left, bottom, right] of a Conv/MaxPool/AveragePool that TFLite's SAME/VALID cannot express
    (so an explicit PAD kernel runs first), or None. Pure: the exporter writes that PAD, the kernel view models it."""
    x = node.inputs[0]
    if x.shape is None or len(x.shape) != 4:
        return None
    if node.op_type == "Conv":
        w = node.inputs[1]
        kernel = [int(d) for d in w.shape[2:]] if w.shape is not None else int_list(node, "kernel_shape", [1, 1])
    else:
        kernel = int_list(node, "kernel_shape", [1, 1])
    strides = int_list(node, "strides", [1, 1])
    dil = int_list(node, "dilations", [1, 1])
    if not len(kernel) == len(strides) == len(dil) == 2:
        # A 4-D input needs a 2-D window; shape inference does not check the lengths of these attributes.
        raise ExportError(
            f"{node.op_type} '{node.name}': kernel {kernel}, strides {strides} and dilations {dil} must each have 2 "
            "values for a 4-D input; the model is invalid, re-export it"
        )
    hw = (int(x.shape[2]), int(x.shape[3]))
    pads = onnx_pads(node, hw, kernel, strides, dil)
    if node.op_type != "Conv" and any(p >= kernel[i % 2] for i, p in enumerate(pads)):
        # ONNX pooling: padding at least the window would pool windows of padding only (onnxruntime refuses it).
        raise ExportError(
            f"{node.op_type} '{node.name}': pads {pads} must be smaller than the kernel {kernel}; the model is "
            "invalid, re-export it"
        )
    same = [same_pads(hw[i], kernel[i], strides[i], dil[i]) for i in range(2)]
    if not any(pads):
        return None
    include = node.attributes.get("count_include_pad")
    if node.op_type == "AveragePool" and include is not None and include.as_int():
        return pads  # TFLite's SAME average ignores the padding; counting it needs real zeros
    if pads == [same[0][0], same[1][0], same[0][1], same[1][1]]:
        return None
    return pads

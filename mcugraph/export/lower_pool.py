"""Lowerings of pooling and reductions: MaxPool/AveragePool -> MAX_POOL_2D/AVERAGE_POOL_2D (with an explicit
PAD kernel where SAME/VALID cannot express the padding), GlobalAveragePool/ReduceMean -> MEAN,
GlobalMaxPool/ReduceMax -> REDUCE_MAX. Signature as in ``lower_conv``."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from mcugraph.errors import ExportError
from mcugraph.export import layout
from mcugraph.export.context import Lowering
from mcugraph.export.flatbuffer import ACTIVATIONS
from mcugraph.export.lower_conv import check_shape, const_input, int_list, out_hw, window_padding
from mcugraph.tflite.schema import schema


def _pool(cx: Lowering, node: ir.Node, out: ir.Value, act: str, builtin: str) -> None:
    x = node.inputs[0]
    kernel = int_list(node, "kernel_shape", [])
    strides = int_list(node, "strides", [1, 1])
    if int_list(node, "dilations", [1, 1]) != [1, 1]:
        raise ExportError(f"node '{node.name}' ({node.op_type}): dilated pooling has no TFLM kernel")
    index = cx.input(x, layout.NHWC)
    if builtin == "MAX_POOL_2D":
        pad_value: float | None = float(np.finfo(np.float32).min)
    else:
        include = node.attributes.get("count_include_pad")
        pad_value = 0.0 if include is not None and include.as_int() else None
    padding, index = window_padding(cx, node, x, index, kernel, strides, [1, 1], pad_value)
    if cx.step.part:
        return  # only the explicit PAD kernel
    options = schema.Pool2DOptionsT()
    options.padding = padding
    options.strideH, options.strideW = strides
    options.filterHeight, options.filterWidth = kernel
    options.fusedActivationFunction = ACTIVATIONS[act]
    out_index = cx.output(out, layout.NHWC)
    in_shape = [int(d) for d in cx.fm.tensors[index].shape]
    hw = [out_hw(in_shape[1 + i], kernel[i], strides[i], 1, padding) for i in range(2)]
    check_shape(cx, node, out_index, [in_shape[0], *hw, in_shape[3]])
    cx.fm.op(builtin, [index], [out_index], options)


def max_pool(cx: Lowering, node: ir.Node, out: ir.Value, act: str) -> None:
    _pool(cx, node, out, act, "MAX_POOL_2D")


def average_pool(cx: Lowering, node: ir.Node, out: ir.Value, act: str) -> None:
    _pool(cx, node, out, act, "AVERAGE_POOL_2D")


def _mean(cx: Lowering, node: ir.Node, out: ir.Value, axes: list[int], keepdims: bool, builtin: str = "MEAN") -> None:
    x = node.inputs[0]
    slot = cx.slot(x)
    rank = len(x.shape)
    axes = sorted({a % rank for a in axes})
    tfl_axes = sorted(slot.perm.index(a) for a in axes)
    if keepdims:
        out_perm = slot.perm
    else:  # the kept TFLite axes, renumbered as ONNX output axes
        kept = [p for p in slot.perm if p not in axes]
        out_perm = tuple(sorted(kept).index(p) for p in kept)
    options = schema.ReducerOptionsT()
    options.keepDims = keepdims
    out_index = cx.output(out, out_perm)
    cx.fm.op(builtin, [slot.index, cx.int32("axes", tfl_axes)], [out_index], options)


def global_average_pool(cx: Lowering, node: ir.Node, out: ir.Value, act: str) -> None:
    _mean(cx, node, out, list(range(2, len(node.inputs[0].shape))), keepdims=True)


def _reduce_axes(cx: Lowering, node: ir.Node) -> tuple[list[int], bool]:
    """ONNX Reduce* axes (input since opset 18, attribute before; all axes when absent or empty) and keepdims
    (default 1). Empty axes with ``noop_with_empty_axes=1`` (no reduction at all) are refused."""
    every = list(range(len(node.inputs[0].shape)))
    if len(node.inputs) > 1 and node.inputs[1] is not None:
        axes = [int(a) for a in const_input(cx, node, 1, "axes")]
    else:
        axes = int_list(node, "axes", every)
    if not axes:
        noop = node.attributes.get("noop_with_empty_axes")
        if noop is not None and noop.as_int():
            raise ExportError(f"node '{node.name}' ({node.op_type}): empty axes with noop_with_empty_axes=1 reduce "
                              "nothing; remove the node (it is an identity)")
        axes = every
    keep = node.attributes.get("keepdims")
    return axes, keep is None or bool(keep.as_int())


def reduce_mean(cx: Lowering, node: ir.Node, out: ir.Value, act: str) -> None:
    _mean(cx, node, out, *_reduce_axes(cx, node))


def global_max_pool(cx: Lowering, node: ir.Node, out: ir.Value, act: str) -> None:
    _mean(cx, node, out, list(range(2, len(node.inputs[0].shape))), True, "REDUCE_MAX")


def reduce_max(cx: Lowering, node: ir.Node, out: ir.Value, act: str) -> None:
    _mean(cx, node, out, *_reduce_axes(cx, node), "REDUCE_MAX")

"""Lowerings of data-movement ops: Reshape family, Transpose, Pad, Slice, Split (signature as ``lower_conv``; Resize
is ``lower_resize``).

All of them copy int8 codes without rescaling, so TFLM needs equal input and output parameters; the parameter
resolution in ``mcugraph.export.lower`` guarantees that.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import onnx_ir as ir

from mcugraph.errors import ExportError
from mcugraph.export import layout
from mcugraph.export.context import Lowering
from mcugraph.tflite.schema import schema


def _feeds_only_fully_connected(cx: Lowering, value: ir.Value) -> bool:
    if value.is_graph_output():
        return False
    uses = [use.node for use in value.uses()]
    return bool(uses) and all(
        n.op_type in ("Gemm", "MatMul") and n.inputs[0] is value and cx.const(n.inputs[1]) is not None for n in uses
    )


def reshape(cx: Lowering, node: ir.Node, out: ir.Value, act: str) -> None:
    """Reshape, Flatten, Squeeze, Unsqueeze: RESHAPE, with TRANSPOSEs only where the byte order really changes."""
    x = node.inputs[0]
    slot = cx.slot(x)
    in_shape = tuple(int(d) for d in x.shape)
    out_perm = layout.value_perm(out)
    tfl_shape = layout.permute_shape(in_shape, slot.perm)
    if (
        not getattr(cx.step, "kernel", True)
        and not out.is_graph_output()
        and tfl_shape == layout.permute_shape(out.shape, out_perm)
        and layout.keeps_memory_order(in_shape, slot.perm)
        and layout.keeps_memory_order(tuple(out.shape), out_perm)
    ):
        # The kernel view made this Reshape no kernel (tf2onnx's C == 1 "transpose"): same bytes, same tensor.
        cx.alias(out, dataclasses.replace(slot, perm=out_perm))
        return
    if (
        slot.perm == layout.NHWC
        and len(out.shape) == 2
        and in_shape[0] == 1
        and not layout.keeps_memory_order(in_shape, layout.NHWC)
        and _feeds_only_fully_connected(cx, out)
    ):
        # Flatten after conv layers: keep TFLite's (H, W, C) order and permute the FC weight columns instead.
        order = layout.flatten_feature_order(*in_shape[1:])
        cx.op_reshape(slot.index, cx.output(out, out_perm, feature_order=order))
        return
    same_bytes = layout.keeps_memory_order(in_shape, slot.perm)
    src = cx.input(x, slot.perm if same_bytes else layout.identity(len(in_shape)))
    if layout.keeps_memory_order(tuple(out.shape), out_perm):
        cx.op_reshape(src, cx.output(out, out_perm))
        return
    param = cx.param(out.name) if cx.int8 else None
    mid = cx.temp(out.name, [int(d) for d in out.shape], param)
    cx.op_reshape(src, mid)
    cx.op_transpose(mid, cx.output(out, out_perm), out_perm)


def transpose(cx: Lowering, node: ir.Node, out: ir.Value, act: str) -> None:
    """A Transpose the kernel view calls a layout change (no kernel) becomes an alias of its input with another
    ``perm``; its readers transpose only if they really need to. A Transpose kernel is a TRANSPOSE."""
    x = node.inputs[0]
    slot = cx.slot(x)
    rank = len(x.shape)
    attr = node.attributes.get("perm")
    t = tuple(attr.as_ints()) if attr is not None else tuple(reversed(range(rank)))
    inverse = tuple(t.index(i) for i in range(rank))
    if not getattr(cx.step, "kernel", True) and not out.is_graph_output():
        # out = x.transpose(t), so the tensor holding x.transpose(slot.perm) holds out.transpose(inverse[slot.perm]).
        cx.alias(out, dataclasses.replace(slot, perm=tuple(inverse[p] for p in slot.perm)))
        return
    out_perm = layout.value_perm(out)
    needed = tuple(t[i] for i in out_perm)  # the layout of x that is out's layout
    cx.op_transpose(slot.index, cx.output(out, out_perm), layout.transpose_between(slot.perm, needed))


def identity(cx: Lowering, node: ir.Node, out: ir.Value, act: str) -> None:
    x = node.inputs[0]
    if cx.step.kernel:  # the kernel view made it a RESHAPE copy (a graph output keeps its own name)
        slot = cx.slot(x)
        cx.op_reshape(slot.index, cx.output(out, slot.perm))
        return
    cx.alias(out, cx.slot(x))


def pad(cx: Lowering, node: ir.Node, out: ir.Value, act: str) -> None:
    mode = node.attributes.get("mode")
    if mode is not None and mode.as_string() != "constant":
        raise ExportError(f"node '{node.name}' (Pad): mode '{mode.as_string()}' has no TFLM kernel; use constant")
    x = node.inputs[0]
    slot = cx.slot(x)
    rank = len(x.shape)
    pads = cx.const(node.inputs[1]) if len(node.inputs) > 1 else None
    pads = [int(p) for p in pads] if pads is not None else list(node.attributes["pads"].as_ints())
    if len(node.inputs) > 3 and node.inputs[3] is not None:  # pads of the listed axes only (opset 18)
        axes = cx.const(node.inputs[3])
        if axes is None:
            raise ExportError(f"node '{node.name}' (Pad): the axes input must be a constant for TFLite")
        axes = [int(a) % rank for a in axes.reshape(-1)]
        full = [0] * (2 * rank)
        for i, a in enumerate(axes):
            full[a], full[a + rank] = pads[i], pads[i + len(axes)]
        pads = full
    if any(p < 0 for p in pads):
        raise ExportError(f"node '{node.name}' (Pad): negative pads (cropping) are not supported; use Slice")
    value = cx.const(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] is not None else None
    value = float(value) if value is not None else 0.0
    paddings = cx.int32("paddings", [[pads[p], pads[p + rank]] for p in slot.perm])
    out_index = cx.output(out, slot.perm)
    if value == 0.0:
        cx.fm.op("PAD", [slot.index, paddings], [out_index], schema.PadOptionsT())
        return
    const = cx.float_const(f"{node.name}/value", np.array(value, np.float32), cx.tensor_param(slot.index))
    cx.fm.op("PADV2", [slot.index, paddings, const], [out_index], schema.PadV2OptionsT())


def slice_(cx: Lowering, node: ir.Node, out: ir.Value, act: str) -> None:
    x = node.inputs[0]
    slot = cx.slot(x)
    shape = [int(d) for d in x.shape]
    rank = len(shape)
    arrays = [cx.const(v) if v is not None else None for v in list(node.inputs[1:]) + [None] * 4][:4]
    if arrays[0] is None or arrays[1] is None:
        raise ExportError(f"node '{node.name}' (Slice): starts and ends must be constants for TFLite")
    starts, ends = arrays[0].tolist(), arrays[1].tolist()
    axes = arrays[2].tolist() if arrays[2] is not None else list(range(len(starts)))
    steps = arrays[3].tolist() if arrays[3] is not None else [1] * len(starts)
    begin, end, strides = [0] * rank, list(shape), [1] * rank
    for s, e, a, st in zip(starts, ends, axes, steps, strict=True):
        a %= rank
        if st <= 0:
            raise ExportError(f"node '{node.name}' (Slice): step {st} on axis {a}; only positive steps are supported")
        dim = shape[a]
        begin[a] = min(max(s + dim if s < 0 else s, 0), dim)
        end[a] = min(max(e + dim if e < 0 else e, 0), dim)
        strides[a] = st
    inputs = [slot.index] + [cx.int32(n, [v[p] for p in slot.perm]) for n, v in
                             (("begin", begin), ("end", end), ("strides", strides))]
    cx.fm.op("STRIDED_SLICE", inputs, [cx.output(out, slot.perm)], schema.StridedSliceOptionsT())


def split(cx: Lowering, node: ir.Node, out: ir.Value, act: str) -> None:
    x = node.inputs[0]
    slot = cx.slot(x)
    rank = len(x.shape)
    axis = (node.attributes["axis"].as_int() if "axis" in node.attributes else 0) % rank
    sizes = [int(o.shape[axis]) for o in node.outputs]
    tfl_axis = slot.perm.index(axis)
    outputs = [cx.output(o, slot.perm) for o in node.outputs]
    if len(set(sizes)) == 1:
        options = schema.SplitOptionsT()
        options.numSplits = len(sizes)
        cx.fm.op("SPLIT", [cx.int32("axis", np.array(tfl_axis)), slot.index], outputs, options)
        return
    options = schema.SplitVOptionsT()
    options.numSplits = len(sizes)
    cx.fm.op("SPLIT_V", [slot.index, cx.int32("sizes", sizes), cx.int32("axis", np.array(tfl_axis))], outputs,
             options)


def gather(cx: Lowering, node: ir.Node, out: ir.Value, act: str) -> None:
    """GATHER with constant indices (negative ones counted from the end), on the input's own layout when the
    indices are 1-D (the rank is kept), else on the ONNX order."""
    x = node.inputs[0]
    indices = cx.const(node.inputs[1])
    if indices is None:
        raise ExportError(f"node '{node.name}' (Gather): the indices must be a constant for TFLite")
    rank = len(x.shape)
    axis = (node.attributes["axis"].as_int() if "axis" in node.attributes else 0) % rank
    indices = np.where(indices < 0, indices + int(x.shape[axis]), indices)
    slot = cx.slot(x)
    perm = slot.perm if indices.ndim == 1 else layout.identity(rank)
    if len(out.shape) != rank and not layout.is_identity(perm):
        perm = layout.identity(rank)
    options = schema.GatherOptionsT()
    options.axis = perm.index(axis)
    out_perm = perm if len(out.shape) == rank else layout.identity(len(out.shape))
    cx.fm.op("GATHER", [cx.input(x, perm), cx.int32("indices", indices)], [cx.output(out, out_perm)], options)

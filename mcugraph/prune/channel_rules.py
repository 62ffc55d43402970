"""Per-op rules of the channel-group walk: how each ONNX op moves, merges or freezes channel layouts.

A *layout* is (channel axis, segments) for one value; a segment (element, offset, size, block) says that
channel ``c`` of union-find element ``element`` sits at ``[offset + c*block, offset + (c+1)*block)`` on that axis.
Every value has at most one axis that depends on channel groups; an op that could break this (cross-channel
mixing, shape logic not understood) freezes the groups it reads and gives its outputs fresh frozen groups.
:func:`mcugraph.prune.channel_groups.channel_groups` drives the walk and packs the result.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import onnx_ir as ir

from mcugraph.ops import facts
from mcugraph.ops import table as rules


@dataclasses.dataclass(frozen=True)
class ChannelUse:
    """Channel ``c`` of the group occupies ``[offset + c*block, offset + (c+1)*block)`` along ``axis`` of ``tensor``."""

    tensor: str
    axis: int
    offset: int = 0
    block: int = 1


# (group element, offset, size, block)
Segment = tuple[int, int, int, int]



def node_label(node: ir.Node, index: int) -> str:
    """How groups name a node: its name, or ``#index`` (position in the graph) when it has none."""
    return node.name or f"#{index}"


class Walker:
    """Mutable state of the walk: a union-find over group elements and the uses recorded on each."""

    def __init__(self, model: ir.Model):
        self.graph = model.graph
        self.parent: list[int] = []
        self.sizes: list[int] = []
        self.prunable: list[bool] = []
        self.producers: list[list[str]] = []
        self.weights: list[list[ChannelUse]] = []
        self.shapes: list[list[ChannelUse]] = []
        self.depthwise: list[list[str]] = []
        self.why: list[str] = []  # why an element is not prunable (first reason wins): node, op, what blocks it
        self.layout: dict[str, tuple[int, list[Segment]]] = {}
        self.label = {id(node): node_label(node, i) for i, node in enumerate(model.graph)}

    # --- union-find ---------------------------------------------------------------------------------------
    def new(self, size: int, prunable: bool, producer: str | None = None, why: str = "") -> int:
        self.parent.append(len(self.parent))
        self.why.append("" if prunable else why)
        self.sizes.append(size)
        self.prunable.append(prunable)
        self.producers.append([producer] if producer else [])
        self.weights.append([])
        self.shapes.append([])
        self.depthwise.append([])
        return len(self.parent) - 1

    def find(self, g: int) -> int:
        while self.parent[g] != g:
            self.parent[g] = self.parent[self.parent[g]]
            g = self.parent[g]
        return g

    def union(self, a: int, b: int) -> None:
        a, b = self.find(a), self.find(b)
        if a == b:
            return
        if self.sizes[a] != self.sizes[b]:  # cannot happen in a valid model; never prune what we do not get
            self.block(a, "merged with a group of another size")
            self.block(b, "merged with a group of another size")
            return
        a, b = min(a, b), max(a, b)
        self.parent[b] = a
        self.prunable[a] = self.prunable[a] and self.prunable[b]
        self.why[a] = self.why[a] or self.why[b]

    def block(self, g: int, why: str) -> None:
        """Make the group of element ``g`` non-prunable, remembering the first reason (shown by analyze --groups)."""
        root = self.find(g)
        self.prunable[root] = False
        self.why[root] = self.why[root] or why

    def freeze(self, segments: list[Segment], why: str) -> None:
        for g, *_ in segments:
            self.block(g, why)

    # --- helpers ------------------------------------------------------------------------------------------
    def const(self, value: ir.Value | None) -> np.ndarray | None:
        """The array of ``value`` if it is an initializer (what remove-channels can slice), else None."""
        if value is None or value.name not in self.graph.initializers or value.const_value is None:
            return None
        return value.const_value.numpy()

    def weight(self, value: ir.Value, segments: list[Segment], axis: int) -> None:
        """Record that ``value`` holds these segments on ``axis``; a tensor shared by several nodes cannot be
        sliced for one of them alone, so its groups are frozen (``mcugraph.prune.api`` unshares them first)."""
        users = len(value.uses())
        for g, offset, _, block in segments:
            self.weights[g].append(ChannelUse(value.name, axis, offset, block))
            if users > 1:
                self.block(g, f"weight '{value.name}' is shared by {users} nodes")

    def fresh(self, value: ir.Value, prunable: bool = False, producer: str | None = None, why: str = "") -> None:
        shape = value.shape
        if shape is None or len(shape) == 0:
            return
        axis = 1 if len(shape) > 1 else 0
        size = int(shape[axis])
        self.layout[value.name] = (axis, [(self.new(size, prunable, producer, why), 0, size, 1)])

    def describe(self, node: ir.Node) -> str:
        return f"node '{self.label[id(node)]}' ({node.op_type})"

    def unknown(self, node: ir.Node, why: str = "is not followed by the channel walk") -> None:
        for value in node.inputs:
            if value is not None and value.name in self.layout:
                self.freeze(self.layout[value.name][1], f"{self.describe(node)} {why}")
        for value in node.outputs:
            self.fresh(value, why=f"output of {self.describe(node)}, which {why}")

    def merge(self, a: list[Segment], b: list[Segment], node: ir.Node) -> bool:
        """Union two layouts segment by segment; False (and both frozen) when their segments do not line up."""
        if [(o, s, k) for _, o, s, k in a] != [(o, s, k) for _, o, s, k in b]:
            why = f"{self.describe(node)} joins operands whose channel layouts do not line up"
            self.freeze(a, why)
            self.freeze(b, why)
            return False
        for (ga, *_), (gb, *_) in zip(a, b, strict=False):
            self.union(ga, gb)
        return True


def _axis_list(node: ir.Node, walker: Walker, input_index: int = 1) -> list[int] | None:
    if "axes" in node.attributes:
        return list(node.attributes["axes"].value)
    if len(node.inputs) > input_index:
        array = walker.const(node.inputs[input_index])
        return None if array is None else [int(a) for a in array.reshape(-1)]
    return None


def visit(w: Walker, node: ir.Node) -> None:
    op = node.op_type
    ins = node.inputs
    x = ins[0] if ins else None
    lay = w.layout.get(x.name) if x is not None else None
    out = node.outputs[0] if node.outputs else None
    row = facts(op, node.domain)
    rule = row.channels if row is not None else None  # the op table's channel rule
    if rule is None or rule == rules.FREEZE or out is None or out.shape is None:
        return w.unknown(node)

    if rule in (rules.CONV, rules.CONV_TRANSPOSE) and len(ins) > 1:
        return _conv(w, node, lay, transposed=rule == rules.CONV_TRANSPOSE)
    if rule == rules.GEMM and len(ins) > 1 and len(x.shape) == 2:
        return _gemm(w, node, lay)

    if lay is None:
        return w.unknown(node)
    axis, segs = lay

    if rule in (rules.PER_CHANNEL, rules.PER_CHANNEL_NCHW):
        if len(out.shape) != len(x.shape) or out.shape[axis] != x.shape[axis]:
            return w.unknown(node)
        if rule == rules.PER_CHANNEL_NCHW and axis != 1:
            return w.unknown(node, "mixes along the tracked axis")  # treats axis 1 as channels
        if op in ("Softmax", "LogSoftmax"):
            softmax_axis = node.attributes["axis"].value if "axis" in node.attributes else -1
            if softmax_axis % len(x.shape) == axis:
                return w.unknown(node, "normalises across channels")
        if op == "Pad" and not _pad_spares(node, w, axis, len(x.shape)):
            return w.unknown(node)
        if op == "BatchNormalization":
            params = ins[1:5]
            if any(w.const(p) is None for p in params):
                return w.unknown(node)
            for p in params:
                w.weight(p, segs, 0)
        for value in node.outputs[:1]:
            w.layout[value.name] = (axis, list(segs))
        return None

    if rule == rules.ELEMENTWISE:
        return _elementwise(w, node)

    if rule == rules.CONCAT:
        return _concat(w, node)

    if rule == rules.RESHAPE:
        return _reshape(w, node, axis, segs)

    if rule == rules.TRANSPOSE:
        perm = list(node.attributes["perm"].value) if "perm" in node.attributes else list(reversed(range(len(x.shape))))
        w.layout[out.name] = (perm.index(axis), list(segs))
        return None

    if rule == rules.AXES:
        axes = _axis_list(node, w)
        if axes is None:
            return w.unknown(node)
        if op == "Unsqueeze":
            rank = len(out.shape)
            inserted = {a % rank for a in axes}
            kept = [i for i in range(rank) if i not in inserted]
            w.layout[out.name] = (kept[axis], list(segs))
            return None
        axes = [a % len(x.shape) for a in axes]
        if axis in axes:
            return w.unknown(node, "reduces or squeezes the channel axis")
        keepdims = op != "Squeeze" and (node.attributes["keepdims"].value if "keepdims" in node.attributes else 1)
        new_axis = axis if keepdims else axis - sum(a < axis for a in axes)
        w.layout[out.name] = (new_axis, list(segs))
        return None

    if rule == rules.SLICE:
        axes = _axis_list(node, w, 3) if op == "Slice" else None
        if op == "Slice" and axes is None and len(ins) <= 3:
            axes = list(range(len(w.const(ins[1]) if w.const(ins[1]) is not None else [])))
        split_axis = node.attributes["axis"].value if "axis" in node.attributes else 0
        touched = axes if op == "Slice" else [split_axis]
        if touched is None or axis in [a % len(x.shape) for a in touched]:
            return w.unknown(node, "slices the channel axis")
        for value in node.outputs:
            w.layout[value.name] = (axis, list(segs))
        return None

    return w.unknown(node)


def _channel_input(w: Walker, node: ir.Node, lay: tuple[int, list[Segment]] | None, axis: int, blocks: bool = False
                   ) -> list[Segment] | None:
    """The input's segments when its channels sit on ``axis`` (block 1 unless ``blocks``); else frozen, None."""
    if lay is not None and lay[0] == axis and (blocks or all(k == 1 for *_, k in lay[1])):
        return lay[1]
    if lay is not None:  # the tracked dim lands in a spatial/batch axis of the weight op: keep it whole
        w.freeze(lay[1], f"{w.describe(node)} reads the channels on a non-channel axis")
    return None


def _conv(w: Walker, node: ir.Node, lay, transposed: bool = False) -> None:
    """Conv weight (C_out, C_in/group, k...); ConvTranspose weight (C_in, C_out/group, k...): the in/out axes swap."""
    ins, out = node.inputs, node.outputs[0]
    has_bias = len(ins) > 2 and ins[2] is not None
    weight = w.const(ins[1])
    if weight is None or (has_bias and w.const(ins[2]) is None):
        return w.unknown(node)
    segs = _channel_input(w, node, lay, 1)
    group = node.attributes["group"].value if "group" in node.attributes else 1
    cin = int(ins[0].shape[1])
    in_axis, out_axis = (0, 1) if transposed else (1, 0)
    if group == 1:
        if segs is not None:
            w.weight(ins[1], segs, in_axis)
        w.fresh(out, prunable=True, producer=w.label[id(node)])
        new = w.layout[out.name][1]
        w.weight(ins[1], new, out_axis)
        if has_bias:
            w.weight(ins[2], new, 0)
        return None
    if transposed:  # channel c of group k sits at a different weight axis on each side: not sliced yet
        return w.unknown(node, f"is a grouped transposed convolution (group={group}); only group 1 prunes")
    if group == cin and weight.shape[0] == cin and segs is not None:  # depthwise: channel c in = channel c out
        w.weight(ins[1], segs, 0)
        if has_bias:
            w.weight(ins[2], segs, 0)
        for g, *_ in segs:
            w.depthwise[g].append(w.label[id(node)])
        w.layout[out.name] = (1, list(segs))
        return None
    return w.unknown(node, "is a grouped convolution that is not depthwise")


def _gemm(w: Walker, node: ir.Node, lay) -> None:
    ins, out = node.inputs, node.outputs[0]
    attrs = {k: a.value for k, a in node.attributes.items()}
    weight = w.const(ins[1])
    has_c = len(ins) > 2 and ins[2] is not None
    bias = w.const(ins[2]) if has_c else None
    if weight is None or weight.ndim != 2 or attrs.get("transA", 0) or (has_c and bias is None):
        return w.unknown(node)
    trans_b = attrs.get("transB", 0)
    segs = _channel_input(w, node, lay, 1, blocks=True)
    if segs is not None:
        w.weight(ins[1], segs, 1 if trans_b else 0)
    w.fresh(out, prunable=True, producer=w.label[id(node)])
    new = w.layout[out.name][1]
    w.weight(ins[1], new, 0 if trans_b else 1)
    if bias is not None and bias.ndim >= 1 and bias.shape[-1] == out.shape[1] and bias.shape[-1] > 1:
        w.weight(ins[2], new, bias.ndim - 1)
    return None


def _pad_spares(node: ir.Node, w: Walker, axis: int, rank: int) -> bool:
    """True when a Pad leaves the channel axis alone."""
    pads = w.const(node.inputs[1]) if len(node.inputs) > 1 else None
    if pads is None:
        return False
    pads = [int(p) for p in pads.reshape(-1)]
    axes = list(range(rank))
    if len(node.inputs) > 3 and node.inputs[3] is not None:
        explicit = w.const(node.inputs[3])
        if explicit is None:
            return False
        axes = [int(a) % rank for a in explicit.reshape(-1)]
    n = len(axes)
    return all(pads[i] == 0 and pads[i + n] == 0 for i, a in enumerate(axes) if a == axis)


def _elementwise(w: Walker, node: ir.Node) -> None:
    out = node.outputs[0]
    rank = len(out.shape)
    out_axis = None
    layouts: list[list[Segment]] = []
    constants = []
    for value in node.inputs:
        if value is None:
            continue
        array = w.const(value)
        if array is not None:
            constants.append((value, array))
            continue
        lay = w.layout.get(value.name)
        if lay is None:
            return w.unknown(node)
        vaxis = lay[0] + rank - len(value.shape)
        if value.shape[lay[0]] == 1 and out.shape[vaxis] != 1:
            w.freeze(lay[1], f"{w.describe(node)} broadcasts its one channel")  # not the output's channels
            continue
        if out_axis is not None and vaxis != out_axis:
            return w.unknown(node, "combines operands with channels on different axes")
        out_axis = vaxis
        layouts.append(lay[1])
    if out_axis is None:
        return w.unknown(node)
    for other in layouts[1:]:
        if not w.merge(layouts[0], other, node):
            return w.unknown(node)
    segs = layouts[0]
    for value, array in constants:
        caxis = out_axis - (rank - array.ndim)
        if caxis < 0 or array.shape[caxis] == 1:
            continue
        w.weight(value, segs, caxis)
    w.layout[out.name] = (out_axis, list(segs))
    return None


def _concat(w: Walker, node: ir.Node) -> None:
    out = node.outputs[0]
    rank = len(out.shape)
    cat_axis = node.attributes["axis"].value % rank
    layouts = [w.layout.get(v.name) for v in node.inputs]
    if all(lay is not None for lay in layouts) and len({lay[0] for lay in layouts}) == 1 and layouts[0][0] != cat_axis:
        for lay in layouts[1:]:  # joined along another axis: every input keeps the same channels
            if not w.merge(layouts[0][1], lay[1], node):
                return w.unknown(node)
        w.layout[out.name] = (layouts[0][0], list(layouts[0][1]))
        return None
    segments: list[Segment] = []
    base = 0
    for value, lay in zip(node.inputs, layouts, strict=True):
        if lay is None or lay[0] != cat_axis or len(value.shape) != rank:
            if lay is not None:
                return w.unknown(node)
            size = int(value.shape[cat_axis])
            lay = (cat_axis, [(w.new(size, False, why=f"constant input of {w.describe(node)}"), 0, size, 1)])
        segments += [(g, offset + base, size, block) for g, offset, size, block in lay[1]]
        base += int(value.shape[cat_axis])
    w.layout[out.name] = (cat_axis, segments)
    return None


def _reshape(w: Walker, node: ir.Node, axis: int, segs: list[Segment]) -> None:
    """Find the output axis holding the channel axis, possibly merged with the dims after it (block *= their size)."""
    x, out = node.inputs[0], node.outputs[0]
    ins, outs = [int(d) for d in x.shape], [int(d) for d in out.shape]
    before = math.prod(ins[:axis])
    for b in range(len(outs)):
        if math.prod(outs[:b]) != before:
            continue
        for k in range(axis + 1, len(ins) + 1):
            if math.prod(ins[axis:k]) == outs[b]:
                break
        else:
            continue
        block = math.prod(ins[axis + 1:k])
        new = [(g, offset * block, size, blk * block) for g, offset, size, blk in segs]
        if node.op_type == "Reshape":
            target = w.const(node.inputs[1])
            if target is None:
                return w.unknown(node)
            if int(target.reshape(-1)[b]) > 0:
                shared = len(node.inputs[1].uses()) > 1
                for g, offset, _, blk in new:
                    w.shapes[g].append(ChannelUse(node.inputs[1].name, b, offset, blk))
                    if shared:
                        w.block(g, f"shape '{node.inputs[1].name}' of {w.describe(node)} is shared")
        w.layout[out.name] = (b, new)
        return None
    return w.unknown(node)

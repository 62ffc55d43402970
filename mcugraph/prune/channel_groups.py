"""Channel groups: the sets of channels that must be removed together, found by one walk over the graph.

A conv (or Gemm/MatMul) creates a group of output channels. The group flows through per-channel ops (activations,
pools, pads, BatchNorm, depthwise convs) unchanged, is merged with others by elementwise Add/Mul/Sub/Div (all
operands must keep the same channels: union-find), is placed at an offset by a Concat, and becomes blocks of H*W
features when a Flatten/Reshape feeds a Gemm. Every value carries a *layout*: its channel axis and the list of
group segments along it. Anything not understood is conservative: the groups it touches become non-prunable, as do
the groups of graph inputs and outputs. Run it on the canonicalised IR (``mcugraph.CANONICALIZE``), where BN is
folded and Flatten is a Reshape with a constant target; raw exports work too. Complexity: O(nodes * segments).
"""

from __future__ import annotations

import dataclasses

import onnx_ir as ir

from mcugraph.prune.channel_rules import ChannelUse, Walker, node_label, visit

__all__ = ["ChannelGroup", "ChannelUse", "channel_groups", "format_groups", "node_label"]


@dataclasses.dataclass(frozen=True)
class ChannelGroup:
    """``weights``: initializer slices; ``activations``: values carrying the group; ``shapes``: Reshape targets
    (``axis`` = index in the int64 target vector, which shrinks by ``block`` per removed channel);
    ``depthwise``: depthwise Conv nodes whose ``group`` shrinks by one per removed channel (a node is listed once
    per segment of the group in its input)."""

    id: int
    size: int
    prunable: bool
    weights: tuple[ChannelUse, ...]
    activations: tuple[ChannelUse, ...]
    producers: tuple[str, ...]
    shapes: tuple[ChannelUse, ...] = ()
    depthwise: tuple[str, ...] = ()
    reason: str = ""  # why a non-prunable group is frozen: the node, its op and what blocks it


def channel_groups(model: ir.Model) -> tuple[ChannelGroup, ...]:
    """Every channel group of ``model``, ordered by first appearance (ids 0, 1, ...)."""
    w = Walker(model)
    for value in model.graph.inputs:
        if not value.is_initializer():
            w.fresh(value, why=f"graph input '{value.name}' keeps its shape")
    for node in model.graph:
        visit(w, node)
    for value in model.graph.outputs:
        if value.name in w.layout:
            w.freeze(w.layout[value.name][1], f"graph output '{value.name}' keeps its shape")
    activations: dict[int, list[ChannelUse]] = {}
    for name, (axis, segs) in w.layout.items():
        for g, offset, _, block in segs:
            activations.setdefault(w.find(g), []).append(ChannelUse(name, axis, offset, block))
    members: dict[int, list[int]] = {}
    for g in range(len(w.parent)):
        members.setdefault(w.find(g), []).append(g)
    groups = []
    for new_id, root in enumerate(sorted(r for r in members if r in activations)):
        gs = members[root]
        groups.append(ChannelGroup(
            id=new_id,
            size=w.sizes[root],
            prunable=w.prunable[root],
            weights=tuple(dict.fromkeys(u for g in gs for u in w.weights[g])),
            activations=tuple(dict.fromkeys(activations[root])),
            producers=tuple(dict.fromkeys(p for g in gs for p in w.producers[g])),
            shapes=tuple(dict.fromkeys(u for g in gs for u in w.shapes[g])),
            depthwise=tuple(n for g in gs for n in w.depthwise[g]),  # once per segment: Concat(a, a) counts twice
            reason="" if w.prunable[root] else w.why[root] or "not prunable",
        ))
    return tuple(groups)


def format_groups(groups: tuple[ChannelGroup, ...]) -> str:
    """A table of the groups: id, channels, prunable, producers (node names); why a group is not prunable."""
    lines = [f"{'group':>5}  {'channels':>8}  {'prunable':<8}  producers"]
    for g in groups:
        line = f"{g.id:>5}  {g.size:>8}  {'yes' if g.prunable else 'no':<8}  {', '.join(g.producers) or '-'}"
        lines.append(line + (f"  [not prunable: {g.reason}]" if g.reason else ""))
    prunable = [g for g in groups if g.prunable]
    lines.append(f"{len(groups)} groups, {len(prunable)} prunable with {sum(g.size for g in prunable)} channels")
    return "\n".join(lines)

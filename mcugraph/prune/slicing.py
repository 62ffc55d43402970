"""Physically remove channels: from a live :class:`GraphModule` (and its optimizer state) or, through
``passes/remove_channels.py``, from the IR.

``keep`` always names ORIGINAL channel indices, i.e. indices into the groups of ``channel_groups`` on the model
the module was built from. Slicing the module several times is therefore cumulative and order-free: each call
keeps a subset of what is still there, and the same ``keep`` given to the ``remove-channels`` pass on the original
model yields the same shapes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import torch

from mcugraph.errors import MCUGraphError, PipelineError
from mcugraph.prune.channel_groups import ChannelGroup, ChannelUse


def check_keep(
    groups: Sequence[ChannelGroup],
    keep: Mapping[int, Sequence[int]],
    present: Mapping[int, Sequence[int]] | None = None,
    error: type[MCUGraphError] = PipelineError,
    where: str = "remove-channels",
) -> dict[int, tuple[int, ...]]:
    """``keep`` validated and sorted, restricted to groups that lose channels.

    ``present[g]``: the channels of group ``g`` still there (all of them when absent). Raises ``error`` for an
    unknown group, an empty keep, an index not present, or a channel removed from a non-prunable group.
    """
    by_id = {g.id: g for g in groups}
    present = present or {}
    changed = {}
    for gid, indices in keep.items():
        group = by_id.get(int(gid))
        if group is None:
            raise error(f"{where}: no channel group {gid}; the model has groups 0..{len(groups) - 1} "
                        "(see `mcugraph analyze --groups`)")
        now = tuple(present.get(group.id, range(group.size)))
        wanted = tuple(sorted({int(i) for i in indices}))
        if not wanted:
            raise error(f"{where}: keep for group {gid} is empty; every group needs at least one channel")
        stray = sorted(set(wanted) - set(now))
        if stray:
            raise error(f"{where}: group {gid} has no channel(s) {stray[:5]} (channels present: "
                        f"{len(now)} of {group.size}, indices are original channel numbers)")
        if len(wanted) == len(now):
            continue
        if not group.prunable:
            raise error(f"{where}: group {gid} (producers {', '.join(group.producers) or 'none'}) is not prunable "
                        "(it reaches a graph output, a graph input or an op mcugraph does not understand)")
        changed[group.id] = wanted
    return changed


def removed_positions(
    uses: Iterable[tuple[ChannelGroup, ChannelUse]], kept: Mapping[int, Sequence[int]]
) -> dict[tuple[str, int], set[int]]:
    """Per (tensor, axis): the positions (original coordinates) that go when groups keep ``kept``."""
    removed: dict[tuple[str, int], set[int]] = {}
    for group, use in uses:
        gone = removed.setdefault((use.tensor, use.axis), set())
        if group.id not in kept:
            continue
        for c in sorted(set(range(group.size)) - set(kept[group.id])):
            start = use.offset + c * use.block
            gone.update(range(start, start + use.block))
    return removed


def shape_deltas(groups: Sequence[ChannelGroup], kept: Mapping[int, Sequence[int]]) -> dict[tuple[str, int], int]:
    """Per (Reshape target, index): how much that entry shrinks (original coordinates)."""
    deltas: dict[tuple[str, int], int] = {}
    for group in groups:
        for use in group.shapes:
            key = (use.tensor, use.axis)
            deltas.setdefault(key, 0)
            if group.id in kept:
                deltas[key] += (group.size - len(kept[group.id])) * use.block
    return deltas


def group_deltas(groups: Sequence[ChannelGroup], kept: Mapping[int, Sequence[int]]) -> dict[str, int]:
    """Per depthwise Conv node: how much its ``group`` attribute shrinks."""
    deltas: dict[str, int] = {}
    for group in groups:
        for node in group.depthwise:
            deltas[node] = deltas.get(node, 0) + group.size - len(kept.get(group.id, range(group.size)))
    return deltas


def weight_uses(groups: Sequence[ChannelGroup]) -> list[tuple[ChannelGroup, ChannelUse]]:
    return [(g, u) for g in groups for u in g.weights]


def activation_uses(groups: Sequence[ChannelGroup]) -> list[tuple[ChannelGroup, ChannelUse]]:
    return [(g, u) for g in groups for u in g.activations]


@torch.no_grad()
def slice_module(
    module,
    groups: Sequence[ChannelGroup],
    keep: Mapping[int, Sequence[int]],
    optimizer: torch.optim.Optimizer | None = None,
) -> None:
    """Keep only channels ``keep[g]`` (original indices) of each group ``g`` in ``module`` (a ``GraphModule``).

    Parameters are sliced in place (``param.data``), so an optimizer keeps referring to them; its per-parameter
    state tensors of the parameter's shape (momentum, Adam moments) and gradients are sliced alike. Reshape
    targets the interpreter holds shrink with the channels. ``module.kept_channels`` records what is left.
    Raises :class:`MCUGraphError` for a bad ``keep`` (see :func:`check_keep`).
    """
    changed = check_keep(groups, keep, module.kept_channels, MCUGraphError, "slice_module")
    if not changed:
        return
    module.kept_channels.update(changed)
    kept = dict(module.kept_channels)
    origin: dict = module.__dict__.setdefault("_slicing_origin", {})  # name -> (original shape, original tensor)
    positions: dict = module.__dict__.setdefault("_slicing_positions", {})  # (name, axis) -> original positions
    for (name, axis), gone in removed_positions(weight_uses(groups), kept).items():
        tensor = module.constant(name)
        shape, _ = origin.setdefault(name, (tuple(tensor.shape), None))
        now = positions.get((name, axis), np.arange(shape[axis]))
        wanted = np.array([p for p in range(shape[axis]) if p not in gone])
        if len(wanted) == len(now):
            continue
        index = torch.as_tensor(np.searchsorted(now, wanted), device=tensor.device)
        _slice_tensor(module, name, tensor, axis, index, optimizer)
        positions[(name, axis)] = wanted
    for (name, entry), delta in shape_deltas(groups, kept).items():
        target = module.constant(name)
        _, original = origin.setdefault(name, (tuple(target.shape), target.clone()))
        updated = original.clone()
        updated.view(-1)[entry] -= delta
        module.set_constant(name, updated)
    for node, delta in group_deltas(groups, kept).items():
        module.set_attribute(node, "group", module.original_attribute(node, "group") - delta)


def _slice_tensor(module, name: str, tensor: torch.Tensor, axis: int, index: torch.Tensor, optimizer) -> None:
    old_shape = tensor.shape
    if not isinstance(tensor, torch.nn.Parameter):
        module.set_constant(name, tensor.index_select(axis, index))
        return
    tensor.data = tensor.data.index_select(axis, index)
    if tensor.grad is not None:
        tensor.grad = tensor.grad.index_select(axis, index)
    if optimizer is None:
        return
    state = optimizer.state.get(tensor)
    for key, value in (state or {}).items():
        if torch.is_tensor(value) and value.shape == old_shape:
            state[key] = value.index_select(axis, index)

"""Which channels a ``keep`` map removes: validation and index/shape bookkeeping shared by the ``remove-channels``
pass (on the IR) and :func:`mcugraph.prune.slicing.slice_module` (on a live torch module).

Torch-free on purpose: the pass registry imports every pass, and ``remove-channels`` must not make every CLI
command pay for importing torch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

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
            raise error(f"{where}: group {gid} (producers {', '.join(group.producers) or 'none'}) is not prunable: "
                        f"{group.reason}; keep all its channels")
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

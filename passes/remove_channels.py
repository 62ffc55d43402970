"""``remove-channels``: physically remove channels of channel groups from the IR."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import numpy as np
import onnx_ir as ir

from mcugraph.errors import PipelineError
from mcugraph.passes._rewrite import require_static_shapes
from mcugraph.prune.channel_groups import ChannelGroup, channel_groups, node_label
from mcugraph.prune.channel_keep import (
    activation_uses,
    check_keep,
    group_deltas,
    removed_positions,
    shape_deltas,
    weight_uses,
)
from mcugraph.registry import register


@register
@dataclasses.dataclass(frozen=True)
class RemoveChannelsPass(ir.passes.InPlacePass):
    """Remove the channels not kept from every group: slice weights, shrink value shapes and Reshape targets.

    ``keep`` maps a group id of ``mcugraph.prune.channel_groups(model)`` to the channel indices to keep (groups not
    named keep all); ``keep_file`` is a JSON file ``{"group id": [indices]}``; ``keep`` may also be a float in
    (0, 1]: every prunable group keeps that fraction (rounded up) of its channels with the largest weight L2 norm.
    Refuses (PipelineError) when a group id is unknown, a keep is empty or names a channel that does not exist, or
    channels would be removed from a non-prunable group (graph inputs/outputs, ops not understood). Keeping every
    channel is not a change: ``modified=False``. Requires static shapes (it shrinks them): a model with a symbolic
    dim is refused before the pass with the fix (``mcugraph.load``).
    """

    name: ClassVar[str] = "remove-channels"
    # It changes what the model computes: verification downstream compares against its result, not the input.
    changes_outputs: ClassVar[bool] = True
    keep: Mapping[int, tuple[int, ...]] | float | str | None = None
    keep_file: str = ""

    def requires(self, model: ir.Model) -> None:
        require_static_shapes(model, self.name)

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        groups = channel_groups(model)
        changed = check_keep(groups, self._requested(model, groups))
        if not changed:
            return ir.passes.PassResult(model, modified=False)
        graph = model.graph
        for (name, axis), gone in removed_positions(weight_uses(groups), changed).items():
            if not gone:
                continue
            value = graph.initializers[name]
            array = value.const_value.numpy()
            kept = np.array([p for p in range(array.shape[axis]) if p not in gone])
            sliced = np.ascontiguousarray(np.take(array, kept, axis=axis))
            value.const_value = ir.tensor(sliced, name=name)
            value.shape = ir.Shape(sliced.shape)
        values = _values_by_name(graph)
        for (name, axis), gone in removed_positions(activation_uses(groups), changed).items():
            value = values[name]
            dims = list(value.shape)
            dims[axis] -= len(gone)
            value.shape = ir.Shape(dims)
        for (name, entry), delta in shape_deltas(groups, changed).items():
            value = graph.initializers[name]
            target = value.const_value.numpy().copy()
            target.reshape(-1)[entry] -= delta
            value.const_value = ir.tensor(target, name=name)
        nodes = {node_label(node, i): node for i, node in enumerate(graph)}
        for name, delta in group_deltas(groups, changed).items():
            node = nodes[name]
            node.attributes["group"] = ir.AttrInt64("group", node.attributes["group"].value - delta)
        return ir.passes.PassResult(model, modified=True)

    def _requested(self, model: ir.Model, groups: tuple[ChannelGroup, ...]) -> dict[int, tuple[int, ...]]:
        if self.keep_file and self.keep is not None:
            raise PipelineError("remove-channels: give keep or keep_file, not both")
        keep = self.keep
        if self.keep_file:
            keep = _read_keep_file(self.keep_file)
        if keep is None:
            return {}
        if isinstance(keep, str):
            try:
                keep = json.loads(keep)
            except json.JSONDecodeError as e:
                raise PipelineError(
                    f"remove-channels: keep={keep!r} is neither a fraction nor JSON {{\"group\": [indices]}}"
                ) from e
        if isinstance(keep, (int, float)) and not isinstance(keep, bool):
            return _keep_fraction(model, groups, float(keep))
        if not isinstance(keep, Mapping):
            raise PipelineError(f"remove-channels: keep must map group ids to channel lists, got {type(keep).__name__}")
        try:
            return {int(g): tuple(int(i) for i in idx) for g, idx in keep.items()}
        except (TypeError, ValueError) as e:
            raise PipelineError(f"remove-channels: keep must map integer group ids to integer lists: {e}") from e


def _read_keep_file(path: str) -> dict:
    try:
        data = json.loads(Path(path).read_text())
    except OSError as e:
        raise PipelineError(f"remove-channels: cannot read keep_file {path}: {e.strerror}") from e
    except json.JSONDecodeError as e:
        raise PipelineError(f"remove-channels: keep_file {path} is not JSON ({e.msg} at line {e.lineno})") from e
    if not isinstance(data, dict):
        raise PipelineError(f"remove-channels: keep_file {path} must hold an object {{\"group id\": [indices]}}")
    return data


def _keep_fraction(model: ir.Model, groups: tuple[ChannelGroup, ...], fraction: float) -> dict[int, tuple[int, ...]]:
    """Magnitude pruning: each prunable group keeps ceil(fraction * size) channels of largest weight L2 norm."""
    if not 0.0 < fraction <= 1.0:
        raise PipelineError(f"remove-channels: keep={fraction} must be a fraction in (0, 1]")
    keep = {}
    for group in groups:
        if not group.prunable:
            continue
        norms = np.zeros(group.size)
        for use in group.weights:
            array = model.graph.initializers[use.tensor].const_value.numpy().astype(np.float64)
            moved = np.moveaxis(array, use.axis, 0)
            span = moved[use.offset:use.offset + group.size * use.block]
            norms += (span.reshape(group.size, -1) ** 2).sum(axis=1)
        # 0.28 * 25 is 7.000000000000001 in floating point: a fraction that is exact on paper keeps 7, not 8.
        count = max(1, math.ceil(fraction * group.size - 1e-9))
        keep[group.id] = tuple(sorted(np.argsort(-norms, kind="stable")[:count].tolist()))
    return keep


def _values_by_name(graph: ir.Graph) -> dict[str, ir.Value]:
    values = {v.name: v for v in graph.inputs}
    for node in graph:
        values.update((v.name, v) for v in node.outputs)
    return values

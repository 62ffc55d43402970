"""Physically remove channels: from a live :class:`GraphModule` (and its optimizer state) or, through
``passes/remove_channels.py``, from the IR.

``keep`` always names ORIGINAL channel indices, i.e. indices into the groups of ``channel_groups`` on the model
the module was built from. Slicing the module several times is therefore cumulative and order-free: each call
keeps a subset of what is still there, and the same ``keep`` given to the ``remove-channels`` pass on the original
model yields the same shapes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from mcugraph.errors import MCUGraphError
from mcugraph.prune.channel_groups import ChannelGroup
from mcugraph.prune.channel_keep import check_keep, group_deltas, removed_positions, shape_deltas, weight_uses
from mcugraph.prune.renorm import batchnorm_weights


@torch.no_grad()
def slice_module(
    module,
    groups: Sequence[ChannelGroup],
    keep: Mapping[int, Sequence[int]],
    optimizer: torch.optim.Optimizer | None = None,
) -> None:
    """Keep only channels ``keep[g]`` (original indices) of each group ``g`` in ``module`` (a ``GraphModule``).

    Parameters are sliced in place (``param.data``), so an optimizer keeps referring to them; its per-parameter
    state tensors of the parameter's shape (momentum, Adam moments) and gradients are sliced alike, and so are the
    BatchNorms put back after convs (``renorm.py``) with their conv's output channels. Reshape targets the
    interpreter holds shrink with the channels. ``module.kept_channels`` records what is left.
    Raises :class:`MCUGraphError` for a bad ``keep`` (see :func:`check_keep`).
    """
    changed = check_keep(groups, keep, module.kept_channels, MCUGraphError, "slice_module")
    if not changed:
        return
    module.kept_channels.update(changed)
    kept = dict(module.kept_channels)
    origin: dict = module.__dict__.setdefault("_slicing_origin", {})  # name -> (original shape, original tensor)
    positions: dict = module.__dict__.setdefault("_slicing_positions", {})  # (name, axis) -> original positions
    batchnorms = batchnorm_weights(module)
    before = {name: positions.get((name, 0)) for name in batchnorms}
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
    for name, norm in batchnorms.items():
        now, wanted = before[name], positions.get((name, 0))
        if wanted is None or (now is not None and len(now) == len(wanted)):
            continue
        now = np.arange(origin[name][0][0]) if now is None else now
        _slice_batchnorm(norm, torch.as_tensor(np.searchsorted(now, wanted), device=norm.weight.device), optimizer)
    for (name, entry), delta in shape_deltas(groups, kept).items():
        target = module.constant(name)
        _, original = origin.setdefault(name, (tuple(target.shape), target.clone()))
        updated = original.clone()
        updated.view(-1)[entry] -= delta
        module.set_constant(name, updated)
    for node, delta in group_deltas(groups, kept).items():
        module.set_attribute(node, "group", module.original_attribute(node, "group") - delta)


def _slice_tensor(module, name: str, tensor: torch.Tensor, axis: int, index: torch.Tensor, optimizer) -> None:
    if not isinstance(tensor, torch.nn.Parameter):
        module.set_constant(name, tensor.index_select(axis, index))
        return
    _slice_parameter(tensor, axis, index, optimizer)


def _slice_batchnorm(norm: torch.nn.BatchNorm2d, index: torch.Tensor, optimizer) -> None:
    for parameter in (norm.weight, norm.bias):
        _slice_parameter(parameter, 0, index, optimizer)
    norm.running_mean = norm.running_mean.index_select(0, index)
    norm.running_var = norm.running_var.index_select(0, index)
    norm.num_features = len(index)


def _slice_parameter(tensor: torch.nn.Parameter, axis: int, index: torch.Tensor, optimizer) -> None:
    old_shape = tensor.shape
    tensor.data = tensor.data.index_select(axis, index)
    if tensor.grad is not None:
        tensor.grad = tensor.grad.index_select(axis, index)
    if optimizer is None:
        return
    state = optimizer.state.get(tensor)
    for key, value in (state or {}).items():
        if torch.is_tensor(value) and value.shape == old_shape:
            state[key] = value.index_select(axis, index)

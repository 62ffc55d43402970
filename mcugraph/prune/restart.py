"""Restart once the widths are known: the pruned network is rebuilt from the model at the gates' widths, with the
channels of largest trained L1 norm, and retrains from their trained values (``restart_weights="trained"``, the
default) or from a fresh draw of its weights (``"fresh"``). With ``restart_ramp`` > 0 (the default) it is rebuilt
at full width instead and narrowed to those widths within the first epochs by the live weights' norms
(``ramp.py``): the widths are the same, the channels that survive are chosen as it trains.

The gates (``gates.py``, ``train.py``) decide *how many* channels each group keeps (by default they can only end at
the balanced allocation, ``allocation.py``; then the restart comes before the first epoch, ``api.py``). *Which*
channels they keep is a Taylor ranking of noisy per-batch gradients, and on real images it picked worse channels
than the trained weights' magnitudes. Cut to a third of its channels the trained network has lost most of its
accuracy before retraining, so it is retrained at the rate of training from scratch; its trained weights are
still the better start at the same total epochs on CIFAR-10 (the measurements:
docs/results/2026-12-02-docstring-measurements.md). The channel choice does not come from the gates either
way (the input model's L1 norms, or the ramp's live ones), which is what lets ``prune`` skip the gate phase when
the floors fix the widths. Every rank computes the same norms and draws the same weights (same seed), so
data-parallel ranks agree without communication (the ramp averages its BatchNorm statistics first).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import onnx_ir as ir
import torch

from mcugraph.prune.gates import FOLDABLE_PRODUCERS


def channel_norms(model: ir.Model, group) -> np.ndarray:
    """L1 norm of each channel of ``group`` over the weights of all its producers (Conv/ConvTranspose/Gemm)."""
    nodes = {node.name: node for node in model.graph}
    total = np.zeros(group.size)
    for name in group.producers:
        node = nodes[name]
        total += _l1(node.inputs[1].const_value.numpy(), FOLDABLE_PRODUCERS[node.op_type])
    return total


def live_channel_norms(module, model: ir.Model, group, scales: Mapping | None = None) -> np.ndarray:
    """:func:`channel_norms` of ``group``'s live channels in ``module`` as the model folded now would have them:
    each producer's output channels times the ``|γ| / σ`` of the BatchNorm after it (``renorm.channel_scales``,
    or ``scales`` when the caller has them for several groups), so that a channel the BatchNorm silences counts as
    small however large its conv weights."""
    from mcugraph.prune.renorm import channel_scales

    nodes = {node.name: node for node in model.graph}
    scales = channel_scales(module) if scales is None else scales
    total = None
    for name in group.producers:
        node = nodes[name]
        weight_name = node.inputs[1].name
        norms = _l1(module.parameter(weight_name).detach().cpu().numpy(), FOLDABLE_PRODUCERS[node.op_type])
        if weight_name in scales:
            norms = norms * scales[weight_name].cpu().numpy()
        total = norms if total is None else total + norms
    return total


def _l1(weight: np.ndarray, axis: int) -> np.ndarray:
    return np.abs(np.moveaxis(weight, axis, 0)).reshape(weight.shape[axis], -1).sum(1)


def magnitude_keep(model: ir.Model, groups: Sequence, widths: Mapping[int, int],
                   norms: Mapping[int, np.ndarray] | None = None) -> dict[int, tuple[int, ...]]:
    """Per group of ``groups`` narrower than its size in ``widths``: the original indices of its ``widths[g]``
    channels of largest L1 norm (ties: lower index first), sorted. ``norms``: :func:`channel_norms` per group id,
    when the caller has them already."""
    keep = {}
    for group in groups:
        width = widths.get(group.id, group.size)
        if width < group.size:
            norm = norms[group.id] if norms is not None else channel_norms(model, group)
            order = np.argsort(-norm, kind="stable")
            keep[group.id] = tuple(sorted(int(c) for c in order[:width]))
    return keep


def restart_at_widths(model: ir.Model, pruner, x, config, epochs_left: int):
    """Replace ``pruner``'s module and optimizer by ``model`` cut to the gates' widths by magnitude, with its trained
    weights (``config.restart_weights == "trained"``, the default) or a fresh draw of them (``"fresh"``).

    With ``config.restart_ramp`` > 0 (trained weights) the module restarts at full width instead, and the returned
    :class:`~mcugraph.prune.ramp.Ramp` narrows it to the gates' widths over that share of the epochs (at most
    ``epochs_left``), called at the start of each epoch; else it returns None.

    ``x``: training inputs for the BatchNorm statistics (``config.renorm``). The gates are updated to name the
    kept channels, so the exact budget check and any further cuts act on the new module.
    """
    from mcugraph.prune.ramp import Ramp
    from mcugraph.prune.renorm import install_batchnorm
    from mcugraph.prune.scratch import reinitialise
    from mcugraph.prune.torch_module import GraphModule

    gates = pruner.gates
    widths = {gid: len(alive) for gid, alive in gates.alive.items()}
    norms = {gid: channel_norms(model, group) for gid, group in gates.groups.items()}
    keep = magnitude_keep(model, list(gates.groups.values()), widths, norms)
    gradual = bool(keep) and config.restart_ramp > 0 and config.restart_weights == "trained" and epochs_left > 0
    module = GraphModule(model).to(config.device)
    if keep and not gradual:
        pruner.slice_fn(module, pruner.groups, keep)
    if config.restart_weights == "fresh":
        reinitialise(module, model, config.seed)
    for gid, group in gates.groups.items():
        kept = list(range(group.size)) if gradual else list(keep.get(gid, range(group.size)))
        gates.alive[gid] = kept
        gates.importance[gid] = torch.as_tensor(norms[gid][kept], dtype=torch.float32)
        gates.probe[gid] = torch.ones(len(kept), device=gates.probe[gid].device, requires_grad=True)
        gates.width[str(gid)].data.fill_(float(len(kept)))
    gates.frozen = True
    optimizer = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=config.retrain_lr)
    if config.renorm:
        install_batchnorm(module, model, x, optimizer, identity=config.restart_weights != "fresh")
    pruner.module, pruner.optimizer, pruner.pruning = module, optimizer, False
    if not gradual:
        return None
    ramp_epochs = max(1, min(epochs_left, math.ceil(config.restart_ramp * config.epochs - 1e-9)))
    return Ramp(pruner, model, widths, first_epoch=pruner.met_at_epoch, epochs=ramp_epochs)

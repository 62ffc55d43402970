"""Gradual narrowing after the restart (``TrainConfig.restart_ramp``): the network restarts at full width from its
trained weights and narrows to the gates' widths over the first ``restart_ramp`` of the epochs, instead of being
cut to them before the first step.

The widths follow the cubic schedule of Zhu & Gupta (2017), ``n(t) = n_end + (n_0 − n_end)(1 − t/T)^3`` at the
start of epoch ``t = 1 … T``: most channels go early, while the network is still close to the trained one, the
last ones slowly. Each cut keeps the channels of largest L1 norm *now* — the live weights times their
BatchNorm's ``|γ|/σ`` (``restart.live_channel_norms``) — so the channels that go are the ones the last epochs of
training made least useful, not the ones that were smallest in the input model.

Why: at flash-bound budgets the balanced allocation is nearly uniform width, so the one-shot restart
(``restart_ramp`` = 0) retrains the same network as L1-norm pruning does and tied it over fifteen seeds (CIFAR-10
ResNet-8 at 1/2 SRAM + 1/8 flash). docs/pruning.md, *Gradual narrowing*, has the measurements.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np
import onnx_ir as ir


def cubic_widths(sizes: Mapping[int, int], targets: Mapping[int, int], step: int, steps: int) -> dict[int, int]:
    """Channels per group at ``step`` (1 … ``steps``) of the cubic schedule from ``sizes`` down to ``targets``;
    exactly ``targets`` from the last step on."""
    left = (1.0 - min(step, steps) / steps) ** 3
    return {gid: min(sizes[gid], math.ceil(targets[gid] + (sizes[gid] - targets[gid]) * left - 1e-9))
            for gid in targets}


@dataclasses.dataclass
class Ramp:
    """Called at the start of every epoch (``run_epochs(before_epoch=...)``): cuts ``pruner``'s module to the
    schedule's widths for that epoch, from ``first_epoch`` (0-based, the restart's) for ``epochs`` epochs."""

    pruner: object  # train.Pruner: its gates name the live channels, its cut() slices module and optimizer
    model: ir.Model  # the model the module was built from (the gates' groups are its groups)
    targets: dict[int, int]  # the gates' widths: where the ramp ends
    first_epoch: int
    epochs: int

    def __call__(self, epoch: int) -> None:
        from mcugraph.prune.renorm import channel_scales
        from mcugraph.prune.restart import live_channel_norms

        step = epoch - self.first_epoch + 1
        if not 1 <= step <= self.epochs:
            return
        gates = self.pruner.gates
        sizes = {gid: group.size for gid, group in gates.groups.items()}
        widths = cubic_widths(sizes, self.targets, step, self.epochs)
        narrower = [gid for gid, width in widths.items() if width < len(gates.alive[gid])]
        if not narrower:
            return
        scales = channel_scales(self.pruner.module)  # once per cut: under torchrun it all-reduces the statistics
        drop = {}
        for gid in narrower:
            norms = live_channel_norms(self.pruner.module, self.model, gates.groups[gid], scales)
            # the live norms become the importance: gates.keep (in cut) keeps them for what is left, for any cut
            # after training (cut_least_important)
            gates.importance[gid] = gates.importance[gid].new_tensor(norms)
            drop[gid] = sorted(int(i) for i in np.argsort(-norms, kind="stable")[widths[gid]:])
        self.pruner.cut(drop)

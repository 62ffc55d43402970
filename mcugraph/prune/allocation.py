"""The uniform allocation: every gated group keeps the same fraction of its channels, the widest fraction whose
modelled resources meet the budgets. It is what a user gets by scaling a network's width, the L1 baseline's widths
(``benchmarks/pruning.py``), and the reference the gates' floors are set from (``ChannelGates.floors``).

Why the gates need a floor: on the CIFAR MobileNetV2 at 1/4 SRAM + 1/8 flash the gates narrowed both residual
streams to 3 channels (of 32 and 48; uniform: 8 and 12). A residual channel feeds every conv of its stage, so it
costs 5-6x the flash of an expansion channel, and its Taylor importance, measured in the wide trained network, did
not rise fast enough to stop the cut; retraining does not repair such a bottleneck. By default
(``TrainConfig.floor`` = 0.75) the gates never go below 3/4 of the uniform allocation: they may move a little width
between groups, and they decide where the resources it leaves unspent go. Share 1 cost a point on the digits
acceptance CNN, whose SRAM-bound first convs do better at the gates' 5/5 channels than at the uniform 4/6. The
measurements behind both choices are in docs/pruning.md (*Gates*, **Floors**). Forced cuts at the end (a TFLM arena above the
model's) may still go below.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from mcugraph.prune.budgets import Budgets


def uniform_counts(groups: Sequence, fraction: float) -> dict[int, int]:
    """Channels per group when each keeps ``fraction`` of its size (rounded up, at least 1)."""
    return {g.id: max(1, math.ceil(fraction * g.size - 1e-9)) for g in groups}


def uniform_fraction(rmodel, groups: Sequence, budgets: Budgets, steps: int = 30) -> float:
    """The largest fraction (bisection to 2^-steps) whose uniform counts meet ``budgets`` in the resource model;
    0.0 when none does."""

    def meets(fraction: float) -> bool:
        counts = {gid: float(n) for gid, n in uniform_counts(groups, fraction).items()}
        return budgets.met_by({r: float(v) for r, v in rmodel.evaluate(counts).items()})

    if meets(1.0):
        return 1.0
    lo, hi = 0.0, 1.0
    for _ in range(steps):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if meets(mid) else (lo, mid)
    return lo


def floors(rmodel, groups: Sequence, budgets: Budgets, share: float, minimum: float = 2.0) -> dict[int, float]:
    """Per group: ``share`` of its uniform-allocation width, at least ``minimum`` channels (never above its size)."""
    fraction = uniform_fraction(rmodel, groups, budgets)
    return {g.id: min(float(g.size), max(minimum, share * fraction * g.size)) for g in groups}

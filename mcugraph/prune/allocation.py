"""The uniform allocation: every gated group keeps the same fraction of its channels, the widest fraction whose
modelled resources meet the budgets. It is what a user gets by scaling a network's width, the L1 baseline's widths
(``benchmarks/pruning.py``), and the reference the gates' floors are set from (``ChannelGates.floors``).

Why the gates need a floor: on the CIFAR MobileNetV2 at 1/4 SRAM + 1/8 flash the gates narrowed both residual
streams to 3 channels (of 32 and 48). A residual channel feeds every conv of its stage, so it costs 5-6x the flash
of an expansion channel, and its Taylor importance, measured in the wide trained network, did not rise fast enough
to stop the cut; a 3-channel stream is a bottleneck that retraining does not repair. The uniform fraction there is
1/4 (8 and 12 channels). Measured with ``benchmarks/pruning_ablation.py --model mobilenetv2`` (int8 in TFLM, 560
held-out images), floor share 0 / 0.5 / 0.75 / 1: seed 0 47.3 / 49.6 / - / 56.6 %, seed 1 - / - / 55.0 / 56.4 %;
uniform-fraction L1 pruning 56.3 % (seed 0). On ResNet-8 the floor changed nothing outside the noise (1/4 SRAM:
share 0.75 53.6 %, 1 54.1 %; 1/2 SRAM: share 0 56.4 %, 1 55.7 %). On the digits acceptance CNN (1/8 SRAM + 1/16 flash, ``benchmarks/pruning_acceptance.py``, seeds 0/1/2) share 1
cost a point: the uniform widths of the SRAM-bound first two convs are 4/6 and the gates' 5/5 is better
(98.61 / 98.33 / 98.33 % with share 1, 99.72 / 99.44 / 98.33 % with 0.75, as without floors). So by default
(``TrainConfig.floor`` = 0.75) the gates never go below 3/4 of the uniform allocation: they may move a little
width between groups, and they decide where the resources it leaves unspent go (the binding budget leaves some in
the groups it does not bind; ResNet-8 at 1/4 SRAM + 1/8 flash: stages 2-3 at 13/10/16/35 channels instead of
8/8/16/16). Forced cuts at the end (a TFLM arena above the model's) may still go below.
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

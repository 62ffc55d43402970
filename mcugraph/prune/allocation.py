"""Allocations of channels to groups that meet the budgets in the resource model: the uniform one (every gated
group keeps the same fraction, the widest that fits: what a user gets by scaling a network's width, the L1
baseline's widths in ``benchmarks/pruning.py``) and the balanced one grown from it by progressive filling, which
sets the gates' floors (``ChannelGates.floors``).

Why the gates need floors, and why the balanced widths: unconstrained gates can narrow a residual stream far
below uniform width — a residual channel feeds every conv of its stage and costs several times the flash of an
expansion channel, and its Taylor importance, measured in the wide trained network, does not rise fast enough to
stop the cut — or spend the flash uniform width leaves on one stage. The balanced allocation spreads what the
budgets leave over the groups they do not bind, and it trained better than the gates' own widths on the CIFAR-10
benchmark (docs/results/2026-12-02-docstring-measurements.md). So by default
(``TrainConfig.floor`` = 1) the gates close channels down to the balanced widths and no further. Forced cuts at the
end (a TFLM arena above the model's) may still go below.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from mcugraph.prune.budgets import Budgets


def uniform_counts(groups: Sequence, fraction: float) -> dict[int, int]:
    """Channels per group when each keeps ``fraction`` of its size (rounded up, at least 1)."""
    return {g.id: max(1, math.ceil(fraction * g.size - 1e-9)) for g in groups}


def meets(rmodel, budgets: Budgets, counts: Mapping[int, float]) -> bool:
    """Whether channel ``counts`` per group (others at full size) meet ``budgets`` in the resource model."""
    return budgets.met_by({r: float(v) for r, v in rmodel.evaluate({g: float(n) for g, n in counts.items()}).items()})


def is_maximal(rmodel, budgets: Budgets, counts: Mapping[int, float], sizes: Mapping[int, int]) -> bool:
    """``counts`` meet ``budgets`` and no group below its size can take one channel more. Resources only grow with
    channels, so any point at or above such counts that meets the budgets is the counts themselves."""
    return meets(rmodel, budgets, counts) and not any(
        meets(rmodel, budgets, {**counts, gid: n + 1}) for gid, n in counts.items() if n < sizes[gid])


def uniform_fraction(rmodel, groups: Sequence, budgets: Budgets, steps: int = 30) -> float:
    """The largest fraction (bisection to 2^-steps) whose uniform counts meet ``budgets`` in the resource model;
    0.0 when none does."""

    def fits(fraction: float) -> bool:
        return meets(rmodel, budgets, uniform_counts(groups, fraction))

    if fits(1.0):
        return 1.0
    lo, hi = 0.0, 1.0
    for _ in range(steps):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def balanced_counts(rmodel, groups: Sequence, budgets: Budgets) -> dict[int, int]:
    """Progressive filling: from the uniform allocation, the narrowest group (by kept fraction) takes one more
    channel while the modelled resources still meet ``budgets``; a group whose next channel breaks a budget stops.

    The result is maximal (no group can take one more channel) and as even as the budgets allow: the groups a budget
    binds (stage 1 under SRAM) stay at the uniform width, the others grow on together until another budget binds
    them (``tests/test_prune_allocation.py``: ResNet-8 at 1/4 SRAM, flash binding the wider stages).
    """
    counts = uniform_counts(groups, uniform_fraction(rmodel, groups, budgets))
    sizes = {g.id: g.size for g in groups}
    growing = {gid for gid, n in counts.items() if n < sizes[gid]}
    while growing:
        gid = min(growing, key=lambda g: (counts[g] / sizes[g], g))
        if meets(rmodel, budgets, {**counts, gid: counts[gid] + 1}):
            counts[gid] += 1
            if counts[gid] >= sizes[gid]:
                growing.discard(gid)
        else:
            growing.discard(gid)
    return counts


def floors(rmodel, groups: Sequence, budgets: Budgets, share: float, minimum: float = 2.0) -> dict[int, float]:
    """Per group: ``share`` of its balanced-allocation width, at least ``minimum`` channels (never above its size)."""
    counts = balanced_counts(rmodel, groups, budgets)
    return {g.id: min(float(g.size), max(minimum, share * counts[g.id])) for g in groups}

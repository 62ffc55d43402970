"""Arena planning: a byte offset for every tensor so that no two tensors live at the same step overlap.

``plan_arena`` tries several greedy first-fit placements (TFLM's own: largest buffer first; then by first use, by
lifetime length, by size x lifetime, ...) and, while the arena is above the lower bound, an exact branch and bound
over placements and then a local search over the placement order, within a time limit; it keeps the smallest
arena. The lower bound is the peak live bytes of the order (:func:`~mcugraph.memory.peak.peak_memory`): no plan can
go below it, and first-fit usually reaches it; placement is NP-hard in general (dynamic storage allocation), so
``ArenaPlan.optimal`` says when the bound was reached or the exact search finished. ``tflm_greedy_plan``
reproduces TFLM's ``GreedyMemoryPlanner`` (no in-place, buffers added in tensor order, stable sort by size) so
its ``arena_bytes`` is TFLM's "Arena allocation head"; ``plan_linear`` is the no-reuse baseline.

Kernel scratch buffers (:mod:`mcugraph.memory.scratch`) are buffers live at their kernel's step only. An offline
plan can only give tensors offsets: TFLM places the offline tensors first and then each scratch buffer itself,
largest first, at the lowest gap among buffers live at the same step. So every placement ``plan_arena`` tries
reserves room for the scratch buffers, then drops their offsets and places them by TFLM's rule
(:func:`tflm_scratch_offsets`); the arena it reports and minimises is that one, so it is TFLM's head exactly.
"""

from __future__ import annotations

import bisect
import dataclasses
import random
import time
from collections.abc import Sequence

from mcugraph.errors import ExportError
from mcugraph.kernel_graph import KernelGraph
from mcugraph.memory.inplace import arena_bytes
from mcugraph.memory.liveness import lifetimes, ordered_kernels
from mcugraph.memory.peak import Buffer, buffers, inplace_pairs, peak_memory, placements, scratch_name


@dataclasses.dataclass(frozen=True)
class ArenaPlan:
    offsets: dict[str, int]  # tensor -> byte offset in the arena
    sizes: dict[str, int]  # tensor -> bytes it occupies (16-byte rounded)
    arena_bytes: int  # max(offset + size): the arena TFLM needs for activations
    lower_bound_bytes: int  # peak live bytes of this order: no plan of this order can be smaller
    order: tuple[str, ...]  # the kernel order the plan is valid for
    aliases: dict[str, str] = dataclasses.field(default_factory=dict)  # in-place: output -> input sharing bytes
    method: str = ""  # which placement won
    optimal: bool = False  # no placement of this order is smaller (arena == lower bound, or exact search finished)
    # Kernel scratch buffers ("<kernel>/scratch<i>", peak.scratch_name): where TFLM will put them given ``offsets``
    # (they are not part of an offline plan), and their 16-byte rounded bytes.
    scratch_offsets: dict[str, int] = dataclasses.field(default_factory=dict)
    scratch_sizes: dict[str, int] = dataclasses.field(default_factory=dict)
    # Tensors sharing bytes in place -> (owner tensor, byte offset inside it): peak.placements of the plan's order
    # (in-place pairs at offset 0, concatenation inputs inside the output); empty for a plan without in-place.
    shared: dict[str, tuple[str, int]] = dataclasses.field(default_factory=dict)


def _first_fit(bufs: Sequence[Buffer], ranking: Sequence[int], fixed: dict[int, int] | None = None) -> list[int]:
    """TFLM's placement: each buffer, in ``ranking`` order, goes into the lowest gap among time-overlapping ones.

    ``fixed``: buffers already at an offset (TFLM's offline-planned ones), placed before any of ``ranking``.
    """
    offsets = [0] * len(bufs)
    placed: list[tuple[int, int, int]] = []  # (offset, end, buffer index), sorted by offset
    for i, offset in (fixed or {}).items():
        offsets[i] = offset
        bisect.insort_right(placed, (offset, offset + bufs[i].nbytes, i), key=lambda e: e[0])
    for i in ranking:
        b = bufs[i]
        candidate = 0
        for offset, end, j in placed:
            other = bufs[j]
            if other.first > b.last or b.first > other.last:
                continue
            if offset - candidate >= b.nbytes:
                break
            candidate = max(candidate, end)
        offsets[i] = candidate
        bisect.insort_right(placed, (candidate, candidate + b.nbytes, i), key=lambda e: e[0])
    return offsets


def _with_tflm_scratch(bufs: Sequence[Buffer], offsets: Sequence[int]) -> list[int]:
    """``offsets`` with every scratch buffer moved where TFLM puts it, given the other (offline) buffers' offsets."""
    if not any(b.scratch for b in bufs):
        return list(offsets)
    fixed = {i: offsets[i] for i, b in enumerate(bufs) if not b.scratch}
    return _first_fit(bufs, _tflm_ranking([b for b in bufs if b.scratch], [i for i, b in enumerate(bufs) if b.scratch]),
                      fixed)


def _arena(bufs: Sequence[Buffer], offsets: Sequence[int]) -> int:
    return max((o + b.nbytes for o, b in zip(offsets, bufs, strict=True)), default=0)


def _tflm_ranking(bufs: Sequence[Buffer], index: Sequence[int] | None = None) -> list[int]:
    """TFLM's placement order of online buffers ``bufs`` (``index``: their positions in the planner's list)."""
    # TFLM fills its sort array from the tail (last added buffer first), then sorts it by size with a stable
    # bubble sort: so among equal sizes the buffer added LAST (highest tensor index) is placed first.
    index = list(range(len(bufs))) if index is None else list(index)
    return [index[j] for j in sorted(range(len(bufs)), key=lambda j: (-bufs[j].nbytes, -index[j]))]


# Placement orders tried by plan_arena: key(buffer index in tensor order, buffer) -> sort key.
_RANKINGS = {
    "tflm-greedy": lambda i, b: (-b.nbytes, -i),  # exactly TFLM's order, so we are never worse than TFLM
    "greedy-by-size": lambda i, b: (-b.nbytes, i),
    "greedy-by-size-last-first": lambda i, b: (-b.nbytes, -b.first),
    "greedy-by-size-then-first-use": lambda i, b: (-b.nbytes, b.first),
    "greedy-by-first-use": lambda i, b: (b.first, -b.nbytes),
    "greedy-by-lifetime": lambda i, b: (-(b.last - b.first), -b.nbytes),
    "greedy-by-area": lambda i, b: (-b.nbytes * (b.last - b.first + 1), b.first),
    "greedy-by-last-use": lambda i, b: (-b.last, -b.nbytes),
}


def _plan(graph: KernelGraph, order, bufs, offsets, lower_bound, aliases, method, optimal=False, shared=None) -> ArenaPlan:
    result_offsets, sizes, scratch_offsets, scratch_sizes = {}, {}, {}, {}
    for b, offset in zip(bufs, offsets, strict=True):
        for t in b.tensors:
            (scratch_offsets if b.scratch else result_offsets)[t] = offset + b.offset_of(t)
            # A tensor inside a concatenation's output occupies its own bytes; a chain member the whole slot.
            own = arena_bytes(graph.tensors[t].nbytes) if b.inner else b.nbytes
            (scratch_sizes if b.scratch else sizes)[t] = own
    return ArenaPlan(
        offsets=result_offsets, sizes=sizes, arena_bytes=_arena(bufs, offsets), lower_bound_bytes=lower_bound,
        order=tuple(k.name for k in ordered_kernels(graph, order)), aliases=aliases, method=method,
        optimal=optimal or _arena(bufs, offsets) <= lower_bound,
        scratch_offsets=scratch_offsets, scratch_sizes=scratch_sizes, shared=dict(shared or {}),
    )


def plan_arena(
    graph: KernelGraph,
    order: Sequence[str] | None = None,
    inplace: bool = True,
    time_limit_s: float = 0.5,
    seed: int = 0,
) -> ArenaPlan:
    """The smallest arena found for ``order`` within about ``time_limit_s`` seconds.

    Best of several greedy first-fit placements; while above the lower bound, an exact branch and bound over
    placements (half the time), then local search on the placement order (the rest).
    """
    bufs = buffers(graph, order, inplace, scratch=True)
    aliases = inplace_pairs(graph, order) if inplace else {}
    lower_bound = peak_memory(graph, order, inplace).peak_bytes
    best_method, best_ranking, best_offsets, best = "", [], [], 0
    for method, key in _RANKINGS.items():
        ranking = sorted(range(len(bufs)), key=lambda i: key(i, bufs[i]))
        offsets = _with_tflm_scratch(bufs, _first_fit(bufs, ranking))
        arena = _arena(bufs, offsets)
        if not best_method or arena < best:
            best_method, best_ranking, best_offsets, best = method, ranking, offsets, arena
    start = time.perf_counter()
    optimal = best <= lower_bound
    if not optimal:
        found, optimal = _exact_placement(bufs, best, lower_bound, start + time_limit_s / 2)
        if found is not None:
            raw = _arena(bufs, found)
            found = _with_tflm_scratch(bufs, found)
            optimal = optimal and _arena(bufs, found) == raw  # TFLM's own scratch placement may lose the optimum
        if found is not None and _arena(bufs, found) < best:
            best_method, best_offsets, best = "exact", found, _arena(bufs, found)
            best_ranking = sorted(range(len(bufs)), key=lambda i: (found[i], i))
    # Local search on the placement order: move one buffer earlier; keep moves that do not grow the arena.
    rng = random.Random(seed)
    improved = False
    while not optimal and len(bufs) > 1 and time.perf_counter() < start + time_limit_s:
        ranking = list(best_ranking)
        i, j = sorted(rng.sample(range(len(ranking)), 2))
        ranking.insert(i, ranking.pop(j))
        offsets = _with_tflm_scratch(bufs, _first_fit(bufs, ranking))
        arena = _arena(bufs, offsets)
        if arena <= best:
            improved |= arena < best
            best_ranking, best_offsets, best = ranking, offsets, arena
            optimal = best <= lower_bound
    method = f"{best_method}+local-search" if improved else best_method
    shared = placements(graph, order, inplace)
    return _plan(graph, order, bufs, best_offsets, lower_bound, aliases, method, optimal, shared)


def _lowest_offset(b: Buffer, placed: Sequence[tuple[int, int, Buffer]]) -> int:
    """The lowest offset where ``b`` overlaps no time-overlapping buffer of ``placed`` (sorted by offset)."""
    candidate = 0
    for offset, end, other in placed:
        if other.first > b.last or b.first > other.last:
            continue
        if offset - candidate >= b.nbytes:
            break
        candidate = max(candidate, end)
    return candidate


def _exact_placement(bufs: Sequence[Buffer], bound: int, lower_bound: int, deadline: float):
    """Branch and bound for an arena below ``bound``: (offsets or None, proven optimal).

    Any placement can be pushed down until each buffer sits at its lowest free offset given the buffers below it,
    so it suffices to place buffers one at a time at their lowest free offset, in non-decreasing (offset, index)
    order. A branch dies as soon as some unplaced buffer cannot fit under the best arena found so far (its lowest
    free offset only grows as more buffers are placed).
    """
    best: list = [bound, None]
    placed: list[tuple[int, int, Buffer]] = []
    offsets = [0] * len(bufs)
    unplaced = set(range(len(bufs)))
    visits = 0
    low = min((b.first for b in bufs), default=0)
    steps = max((b.last for b in bufs), default=0) - low + 1

    def search(last: tuple[int, int], arena: int) -> bool:
        nonlocal visits
        if not unplaced:
            best[0], best[1] = arena, list(offsets)
            return arena <= lower_bound  # cannot do better: stop
        visits += 1
        if time.perf_counter() > deadline:
            raise TimeoutError
        # Capacity: every buffer still to place goes at or above the last offset, so at each step the unplaced
        # live buffers must fit between that offset and the best arena, beside what placed buffers hold there.
        room = [best[0] - 1 - last[0]] * steps
        for offset, end, b in placed:
            if end > last[0]:
                for t in range(b.first - low, b.last - low + 1):
                    room[t] -= end - max(offset, last[0])
        for i in unplaced:
            b = bufs[i]
            for t in range(b.first - low, b.last - low + 1):
                room[t] -= b.nbytes
                if room[t] < 0:
                    return False
        options = []
        for i in unplaced:
            offset = _lowest_offset(bufs[i], placed)
            if offset + bufs[i].nbytes >= best[0]:
                return False
            if (offset, i) > last:
                options.append((offset, i))
        for offset, i in sorted(options):
            offsets[i] = offset
            unplaced.discard(i)
            entry = (offset, offset + bufs[i].nbytes, bufs[i])
            bisect.insort_right(placed, entry, key=lambda e: e[0])
            done = search((offset, i), max(arena, entry[1]))
            placed.remove(entry)
            unplaced.add(i)
            if done:
                return True
        return False

    try:
        search((-1, -1), 0)
    except TimeoutError:
        return best[1], False
    return best[1], True


def tflm_greedy_plan(graph: KernelGraph, order: Sequence[str] | None = None) -> ArenaPlan:
    """What TFLM's GreedyMemoryPlanner computes without an offline plan: its arena is TFLM's "head" bytes."""
    bufs = buffers(graph, order, inplace=False, scratch=True)
    scratch = [b for b in bufs if b.scratch]  # TFLM adds scratch buffers after every tensor, in operator order
    bufs = [b for b in bufs if not b.scratch]
    planned = {t for b in bufs for t in b.tensors}
    # TFLM also plans tensors no operator touches, all at the pseudo-step -1 (they overlap only each other);
    # they must take their place in tensor order for the tie-break of the size sort to match.
    index = {t: i for i, t in enumerate(graph.tensors)}
    orphans = [
        Buffer((t,), arena_bytes(info.nbytes), -1, -1)
        for t, info in graph.tensors.items()
        if t not in planned and not info.constant and info.nbytes > 0
    ]
    bufs = sorted(bufs + orphans, key=lambda b: index[b.tensors[0]]) + scratch
    offsets = _first_fit(bufs, _tflm_ranking(bufs))
    lower_bound = peak_memory(graph, order, inplace=False).peak_bytes
    return _plan(graph, order, bufs, offsets, lower_bound, {}, "tflm-greedy")


def plan_linear(graph: KernelGraph, order: Sequence[str] | None = None) -> ArenaPlan:
    """The baseline without reuse: every tensor (and scratch buffer) its own slot, one after the other."""
    bufs = buffers(graph, order, inplace=False, scratch=True)
    offsets, end = [], 0
    for b in bufs:
        offsets.append(end)
        end += b.nbytes
    lower_bound = peak_memory(graph, order, inplace=False).peak_bytes
    return _plan(graph, order, bufs, offsets, lower_bound, {}, "linear")


def check_plan(plan: ArenaPlan, graph: KernelGraph) -> None:
    """Raise :class:`ExportError` if a tensor lacks a slot or two buffers live at the same step share bytes.

    Only tensors that :func:`~mcugraph.memory.peak.placements` lets share bytes for ``plan.order`` may overlap, and
    only at their relative offsets (an in-place pair: the same offset; a concatenation input: its place inside the
    output). O(steps x live tensors^2).
    """
    live = lifetimes(graph, plan.order)
    allowed = inplace_pairs(graph, plan.order)
    for out, source in plan.aliases.items():
        if allowed.get(out) != source:
            raise ExportError(
                f"arena plan lets '{out}' overwrite '{source}', which is not an allowed in-place pair for this "
                "order; plan again with plan_arena"
            )
    for t in live:
        if t not in plan.offsets:
            raise ExportError(f"arena plan has no offset for tensor '{t}'; plan again with plan_arena")
        need = arena_bytes(graph.tensors[t].nbytes)
        if plan.sizes.get(t, 0) < need or plan.offsets[t] < 0 or plan.offsets[t] + need > plan.arena_bytes:
            raise ExportError(
                f"arena plan gives tensor '{t}' bytes [{plan.offsets[t]}, {plan.offsets[t] + plan.sizes.get(t, 0)})"
                f" but it needs {need} bytes inside an arena of {plan.arena_bytes}; plan again with plan_arena"
            )

    # Tensors that may share bytes: same owner, each at its own offset inside it (in-place pairs: offset 0).
    allowed_shared = placements(graph, plan.order)
    shared = plan.shared
    for t, place in shared.items():
        if allowed_shared.get(t) != place:
            raise ExportError(
                f"arena plan puts '{t}' inside '{place[0]}' at byte {place[1]}, which in-place reuse does not allow "
                "for this order; plan again with plan_arena"
            )

    def home(t: str, start: int) -> tuple[str, int]:
        owner, inner = shared.get(t, (t, 0))
        return owner, start - inner

    steps = len(plan.order)
    # (name, start, end) of every buffer live at each step: tensors, then the step's kernel scratch buffers.
    at_step: list[list[tuple[str, int, int]]] = [[] for _ in range(max(steps, 1))]
    for t, (first, last) in live.items():
        for step in range(first, min(last, steps - 1) + 1):
            at_step[step].append((t, plan.offsets[t], plan.offsets[t] + arena_bytes(graph.tensors[t].nbytes)))
    kernels = {k.name: k for k in graph.kernels}
    for step, name in enumerate(plan.order):
        for i, nbytes in enumerate(kernels[name].scratch_bytes):
            s = scratch_name(name, i)
            if nbytes <= 0:
                continue
            if s not in plan.scratch_offsets or plan.scratch_offsets[s] + arena_bytes(nbytes) > plan.arena_bytes:
                raise ExportError(
                    f"arena plan has no room for scratch buffer '{s}' ({arena_bytes(nbytes)} B) inside an arena of "
                    f"{plan.arena_bytes}; plan again with plan_arena"
                )
            at_step[step].append((s, plan.scratch_offsets[s], plan.scratch_offsets[s] + arena_bytes(nbytes)))
    for step, entries in enumerate(at_step):
        for i, (a, a_start, a_end) in enumerate(entries):
            for b, b_start, b_end in entries[i + 1:]:
                if a_start >= b_end or b_start >= a_end:
                    continue
                if a in live and b in live and a in shared and home(a, a_start) == home(b, b_start):
                    continue
                raise ExportError(
                    f"arena plan overlaps live tensors '{a}' [{a_start}, {a_end}) and '{b}' [{b_start}, {b_end}) "
                    f"at step {step} ({plan.order[step] if step < steps else '-'}); plan again with plan_arena"
                )


def _ordinal(i: int) -> str:
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return alphabet[i] if i < len(alphabet) else "*"


def format_plan(plan: ArenaPlan, graph: KernelGraph, width: int = 80) -> str:
    """ASCII picture of ``plan`` like TFLM's PrintMemoryPlan: one row per step, one character per buffer.

    An in-place chain shares its first tensor's character, scratch buffers are ``#``; ``!`` marks bytes claimed twice
    at one step (a bug).
    """
    live = lifetimes(graph, plan.order)
    names = [t for t in graph.tensors if t in live and t in plan.offsets]

    def root(t: str) -> str:
        while t in plan.aliases:
            t = plan.aliases[t]
        return t

    roots = list(dict.fromkeys(root(t) for t in names))
    char = {r: _ordinal(i) for i, r in enumerate(roots)}
    scale = max(plan.arena_bytes, 1)
    lines = [f"arena {plan.arena_bytes} B (lower bound {plan.lower_bound_bytes} B, {plan.method or 'plan'})"]
    for t in names:
        first, last = live[t]
        alias = f" reuses {plan.aliases[t]}" if t in plan.aliases else ""
        lines.append(f"  {char[root(t)]} {t}: {plan.sizes[t]} B at {plan.offsets[t]}, steps {first}..{last}{alias}")
    for s, start in plan.scratch_offsets.items():
        lines.append(f"  # {s}: {plan.scratch_sizes[s]} B at {start} (placed by TFLM)")
    kernels = {k.name: k for k in graph.kernels}
    for step, kernel_name in enumerate(plan.order):
        row = ["."] * width
        used: dict[str, int] = {}
        for t in names:
            first, last = live[t]
            if not first <= step <= last:
                continue
            start, size, ch = plan.offsets[t], plan.sizes[t], char[root(t)]
            used[root(t)] = max(used.get(root(t), 0), size)  # an in-place pair counts once
            for c in range(start * width // scale, (start + size) * width // scale):
                row[c] = ch if row[c] in (".", ch) else "!"
        for s, start in plan.scratch_offsets.items():
            if s.rsplit("/scratch", 1)[0] == kernel_name:  # scratch buffers: '#', live at their kernel only
                used[s] = plan.scratch_sizes[s]
                for c in range(start * width // scale, (start + plan.scratch_sizes[s]) * width // scale):
                    row[c] = "#" if row[c] == "." else "!"
        lines.append(f"{step:>3}: {''.join(row)} {sum(used.values()):>8} B  {kernels[kernel_name].op}")
    return "\n".join(lines)

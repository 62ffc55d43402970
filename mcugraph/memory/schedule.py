"""The kernel order with the smallest peak SRAM: exact search over sets of computed kernels, with fallbacks.

The live bytes after computing a set S of kernels depend only on S, and so does the cost of running kernel k next
(S's live bytes + k's new outputs, minus what it writes in place). So the best peak to reach S is a function of S
(Liberis & Lane, "Neural networks on microcontrollers: saving memory at inference via operator reordering", and
tflite-tools do the same): a breadth-first dynamic programme over S, level by level, keeping the best peak per S and
pruning every partial order already no better than the best complete order known (the given order, then a beam
search). Only sets closed under predecessors are visited, so a chain costs O(n) and k parallel chains O(n^k).

Graphs too wide for that are cut at articulation kernels (every other kernel is an ancestor or a descendant): every
topological order runs the kernels between two such cuts as one contiguous segment, so segments are searched
separately and exactly. A segment whose search exceeds ``max_states`` or the time limit keeps its beam-search order;
the result says ``optimal=False`` unless a proven segment already peaks at least as high. From any set, a ready
kernel that neither raises the peak so far nor grows the live bytes is run at once without branching (running it
later could only keep its dying inputs live longer). The result is never worse than the given order.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

from mcugraph.kernel_graph import KernelGraph
from mcugraph.memory.inplace import arena_bytes, inplace_candidates
from mcugraph.memory.liveness import in_arena, ordered_kernels
from mcugraph.memory.peak import peak_memory


@dataclasses.dataclass(frozen=True)
class Schedule:
    order: tuple[str, ...]  # kernel names
    peak_bytes: int  # peak live arena bytes of ``order`` (the lower bound for any arena plan of it)
    given_peak_bytes: int  # the same for the graph's stored order
    optimal: bool  # True when the search proved no order has a smaller peak
    seconds: float
    states: int = 0  # sets of computed kernels visited (a measure of the search's work)


class _Budget(Exception):
    pass


class _Model:
    """The graph as bit masks over kernel indices (stored order), for fast set-of-kernels arithmetic."""

    def __init__(self, graph: KernelGraph, inplace: bool):
        kernels = ordered_kernels(graph)  # checks the stored order is topological
        self.n = len(kernels)
        self.names = [k.name for k in kernels]
        producer = {t: i for i, k in enumerate(kernels) for t in k.outputs}
        graph_outputs = set(graph.outputs)
        self.size = {t: arena_bytes(graph.tensors[t].nbytes) for t in graph.tensors if in_arena(graph, t)}
        self.consumers = {t: 0 for t in self.size}
        for i, k in enumerate(kernels):
            for t in k.inputs:
                if t in self.size:
                    self.consumers[t] |= 1 << i
        self.pred = [0] * self.n
        for i, k in enumerate(kernels):
            for t in k.inputs:
                if t in producer:
                    self.pred[i] |= 1 << producer[t]
        # Tensors whose bytes stay live to the end regardless of readers.
        self.pinned = {t for t in graph_outputs if t in self.size}
        self.outs = [tuple(t for t in dict.fromkeys(k.outputs) if t in self.size) for k in kernels]
        self.first_output = [k.outputs[0] if k.outputs else None for k in kernels]
        self.ins = [tuple(t for t in dict.fromkeys(k.inputs) if t in self.size) for k in kernels]
        self.inplace = [inplace_candidates(k, graph) if inplace else () for k in kernels]
        inputs = [t for t in dict.fromkeys(graph.inputs) if t in self.size]
        self.start_live = sum(self.size[t] for t in inputs)
        # A graph input nobody reads lives only at step 0 (TFLM marks it created at the start, used never).
        self.unread_inputs = sum(self.size[t] for t in inputs if not self.consumers[t] and t not in self.pinned)
        # Per kernel, precomputed for step(): (tensor, bytes, reader mask or None if pinned, in-place candidate)
        # for each input; bytes of all outputs; bytes of the outputs that stay live after the kernel.
        self.reads = []
        for k in range(self.n):
            ok = self.outs[k] and self.outs[k][0] == self.first_output[k]
            candidates = self.inplace[k] if ok else ()
            self.reads.append([
                (t, self.size[t], None if t in self.pinned else self.consumers[t], t in candidates)
                for t in sorted(self.ins[k], key=lambda t: candidates.index(t) if t in candidates else len(candidates))
            ])
        # A kernel's scratch buffers are live only while it runs: they add to its step, never to what stays live.
        self.scratch = [sum(arena_bytes(b) for b in k.scratch_bytes) for k in kernels]
        self.written = [sum(self.size[t] for t in outs) + s for outs, s in zip(self.outs, self.scratch, strict=True)]
        self.kept = [sum(self.size[t] for t in outs if t in self.pinned or self.consumers[t]) for outs in self.outs]
        anc = [0] * self.n
        for i in range(self.n):
            for j in _bits(self.pred[i]):
                anc[i] |= anc[j] | (1 << j)
        self.ancestors = anc

    def step(self, done: int, live: int, k: int) -> tuple[int, int]:
        """(bytes live while kernel k runs after the set ``done``, bytes live after it)."""
        after = done | (1 << k)
        freed = 0
        reused = 0
        for _, size, readers, candidate in self.reads[k]:
            if readers is not None and not readers & ~after:  # no reader left: the tensor dies here
                freed += size
                if candidate and not reused:
                    reused = size  # the first output is written over it (in place): no new bytes
        during = live + self.written[k] - reused
        new_live = live - freed + self.kept[k]
        if not done:
            new_live -= self.unread_inputs
        return during, new_live

    def ready(self, done: int, allowed: int) -> list[int]:
        return [i for i in _bits(allowed & ~done) if self.pred[i] & ~done == 0]


def _bits(mask: int) -> list[int]:
    result = []
    while mask:
        low = mask & -mask
        result.append(low.bit_length() - 1)
        mask ^= low
    return result


def _segments(model: _Model) -> list[int]:
    """Kernel masks of the segments every topological order runs contiguously, in execution order."""
    n, full = model.n, (1 << model.n) - 1
    desc = [0] * n
    for i in reversed(range(n)):
        for j in _bits(model.pred[i]):
            desc[j] |= desc[i] | (1 << i)
    cuts = [i for i in range(n) if (model.ancestors[i] | desc[i] | (1 << i)) == full]
    groups: dict[tuple[int, int], int] = {}
    cut_mask = sum(1 << c for c in cuts)
    for i in range(n):
        before = (model.ancestors[i] & cut_mask).bit_count()
        key = (before, 1) if i in cuts else (before, 0)
        groups[key] = groups.get(key, 0) | (1 << i)
    return [groups[key] for key in sorted(groups)]


def _search(model: _Model, segment: int, base: int, base_live: int, bound: int, width: int | None,
            deadline: float, max_states: int) -> tuple[list[int] | None, int, int]:
    """Best order of ``segment`` after ``base``: (order or None if none beats ``bound``, its peak, states).

    ``width=None`` is the exact programme (prunes at ``bound``); an int keeps that many best states per level.
    """
    level = {base: (0, base_live)}
    parent: dict[int, tuple[int, int]] = {}
    states = expanded = 0
    for _ in range((segment).bit_count()):
        nxt: dict[int, tuple[int, int]] = {}
        for done, (peak, live) in level.items():
            moves = [(k, *model.step(done, live, k)) for k in model.ready(done, segment)]
            # A kernel that neither raises the peak so far nor grows the live bytes can run first without loss
            # (running it earlier only frees bytes sooner), so it is the only move tried from here.
            free = next(((k, d, a) for k, d, a in moves if d <= peak and a <= live), None)
            for k, during, after in [free] if free else moves:
                p = max(peak, during)
                if p >= bound:
                    continue
                key = done | (1 << k)
                if key not in nxt or (p, after) < nxt[key]:
                    nxt[key] = (p, after)
                    parent[key] = (done, k)
            expanded += 1
            if expanded % 256 == 0 and (
                (width is None and len(parent) > max_states) or time.perf_counter() > deadline
            ):
                raise _Budget
        states += len(nxt)
        if not nxt:
            return None, bound, states
        if width is not None and len(nxt) > width:
            nxt = dict(sorted(nxt.items(), key=lambda kv: kv[1])[:width])
        elif width is None and (states > max_states or time.perf_counter() > deadline):
            raise _Budget
        level = nxt
    (end, (peak, _)), = level.items()
    order = []
    while end != base:
        end, k = parent[end]
        order.append(k)
    return order[::-1], peak, states


def schedule_min_peak(
    graph: KernelGraph,
    inplace: bool = True,
    time_limit_s: float = 10.0,
    max_states: int = 200_000,
    beam_width: int = 64,
) -> Schedule:
    """The topological order of ``graph``'s kernels with the smallest peak live arena bytes (see module doc)."""
    start = time.perf_counter()
    deadline = start + time_limit_s
    model = _Model(graph, inplace)
    given = peak_memory(graph, inplace=inplace).peak_bytes
    order: list[int] = []
    proven_peak, unproven_peak = 0, 0  # the largest segment peak proven minimal / not proven
    states = 0
    base, base_live = 0, model.start_live
    for segment in _segments(model):
        seg_given = _bits(segment)  # ascending index = stored order, which is topological
        best, (best_peak, _) = seg_given, _replay(model, base, base_live, seg_given)
        proven = True
        if len(seg_given) > 1:
            args = (model, segment, base, base_live)
            try:
                beam, beam_peak, s = _search(*args, best_peak, beam_width, deadline, max_states)
                states += s
                if beam is not None:
                    best, best_peak = beam, beam_peak
                exact, exact_peak, s = _search(*args, best_peak, None, deadline, max_states)
                states += s
                if exact is not None:
                    best, best_peak = exact, exact_peak
            except _Budget:
                proven = False
        if proven:
            proven_peak = max(proven_peak, best_peak)
        else:
            unproven_peak = max(unproven_peak, best_peak)
        order.extend(best)
        _, base_live = _replay(model, base, base_live, best)
        base |= segment
    # A proven segment's peak bounds every order's peak from below, so an unproven segment that stays under the
    # largest of them cannot be what makes the whole order suboptimal.
    optimal = unproven_peak <= proven_peak
    names = tuple(model.names[i] for i in order)
    peak = peak_memory(graph, names, inplace=inplace).peak_bytes
    if peak > given:  # cannot happen when the step model matches peak_memory; the guarantee is kept anyway
        names, peak, optimal = tuple(model.names), given, False
    return Schedule(names, peak, given, optimal, time.perf_counter() - start, states)


def _replay(model: _Model, base: int, live: int, order: Sequence[int]) -> tuple[int, int]:
    """(peak bytes while running ``order`` after the set ``base`` with ``live`` bytes, bytes live after it)."""
    done, peak = base, 0
    for k in order:
        during, live = model.step(done, live, k)
        peak = max(peak, during)
        done |= 1 << k
    return peak, live

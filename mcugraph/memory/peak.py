"""Live arena bytes at every step of a kernel order, and the peak: the smallest arena any planner can reach.

Every tensor counts its size rounded up to 16 bytes (TFLM's buffer alignment), and so does every scratch buffer
a kernel asks TFLM for (:mod:`mcugraph.memory.scratch`), at that kernel's step only. With ``inplace=True`` the pairs of
:func:`inplace_pairs` share one buffer: the output of an in-place kernel takes the bytes of the input that dies
there (see :mod:`mcugraph.memory.inplace` for which kernels may), and the inputs of an in-place concatenation
sit inside its output (:func:`placements`). Complexity O(steps x tensors).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from mcugraph.kernel_graph import KernelGraph
from mcugraph.memory.inplace import arena_bytes, concat_parts, inplace_candidates, pad_placement
from mcugraph.memory.liveness import lifetimes, ordered_kernels


@dataclasses.dataclass(frozen=True)
class MemoryProfile:
    order: tuple[str, ...]  # kernel names, one per step
    live_bytes: tuple[int, ...]  # arena bytes live at each step (16-byte rounded, in-place pairs counted once,
    # the kernel's scratch buffers included)
    live_tensors: tuple[tuple[str, ...], ...]  # tensors live at each step (scratch buffers not listed)
    peak_bytes: int
    peak_step: int  # first step that reaches peak_bytes (-1 for a graph without kernels)


@dataclasses.dataclass(frozen=True)
class Buffer:
    """One arena slot: a tensor, or a chain of tensors that reuse each other's bytes in place."""

    tensors: tuple[str, ...]  # the first one owns the bytes; each later one overwrites the one before
    nbytes: int  # 16-byte rounded
    first: int
    last: int
    scratch: bool = False  # a kernel's scratch buffer (tensors = its name, see scratch_name): TFLM places it online
    # Byte offset of each tensor inside the buffer, when some differ from 0 (the inputs of an in-place
    # concatenation sit inside its output); empty: every tensor starts at the buffer's offset.
    inner: tuple[int, ...] = ()

    def offset_of(self, tensor: str) -> int:
        """Where ``tensor`` starts, relative to the buffer's offset."""
        return self.inner[self.tensors.index(tensor)] if self.inner else 0


def inplace_pairs(graph: KernelGraph, order: Sequence[str] | None = None) -> dict[str, str]:
    """Output tensor -> the input tensor whose bytes it reuses, for every allowed in-place kernel in ``order``."""
    kernels = ordered_kernels(graph, order)
    live = lifetimes(graph, order)
    outputs = set(graph.outputs)
    pairs: dict[str, str] = {}
    for step, kernel in enumerate(kernels):
        if not kernel.outputs or kernel.outputs[0] not in live:
            continue
        for t in inplace_candidates(kernel, graph):
            if t in live and live[t][1] == step and t not in outputs:
                pairs[kernel.outputs[0]] = t
                break
    return pairs


def inplace_concat_parts(graph: KernelGraph, order: Sequence[str] | None = None) -> dict[str, tuple[str, int]]:
    """Concatenation input -> (its output, byte offset inside it), for every in-place concatenation in ``order``.

    A concatenation qualifies when :func:`mcugraph.memory.inplace.concat_parts` allows it and every input dies
    there (no later reader, not a graph input or output).
    """
    return _placed_where_they_die(graph, order, concat_parts)


def inplace_pads(graph: KernelGraph, order: Sequence[str] | None = None) -> dict[str, tuple[str, int]]:
    """PAD input -> (its output, byte offset inside it), for every PAD whose input dies there (see
    :func:`mcugraph.memory.inplace.pad_placement`)."""
    return _placed_where_they_die(graph, order, lambda kernel, g: [p] if (p := pad_placement(kernel, g)) else None)


def _placed_where_they_die(graph, order, members) -> dict[str, tuple[str, int]]:
    """Input -> (the kernel's output, byte offset) for kernels whose in-place ``members(kernel, graph)`` (a list of
    (input, offset), or None) all die at that kernel and are neither graph inputs nor outputs."""
    kernels = ordered_kernels(graph, order)
    live = lifetimes(graph, order)
    pinned = set(graph.outputs) | set(graph.inputs)
    result: dict[str, tuple[str, int]] = {}
    for step, kernel in enumerate(kernels):
        parts = members(kernel, graph)
        if parts and all(t in live and live[t][1] == step and t not in pinned for t, _ in parts):
            result.update((t, (kernel.outputs[0], offset)) for t, offset in parts)
    return result


def placements(graph: KernelGraph, order: Sequence[str] | None = None, inplace: bool = True) -> dict[str, tuple[str, int]]:
    """Tensor -> (the tensor owning its bytes, byte offset inside them), for every tensor sharing bytes in place.

    In-place pairs share an offset; a PAD's input sits at the end of its output, concatenation inputs at their
    offset inside the output. A group's bytes are reserved from its first member's first step, so an in-place
    PAD holds its whole output while its input is computed, and an in-place concatenation its whole output while
    its first input is: a PAD is kept only where that does not raise the peak, a concatenation only where it
    lowers it (else they copy, as TFLM would), and each only where its offsets agree with the group it joins. The relations are joined by a
    union-find that keeps each tensor's offset relative to its group's root. The owner is the group member at
    the lowest offset. Tensors sharing nothing are absent.
    """
    if not inplace:
        return {}
    live = lifetimes(graph, order)
    steps = len(ordered_kernels(graph, order))
    parent: dict[str, tuple[str, int]] = {}  # tensor -> (parent, offset of tensor - offset of parent)

    def find(t: str) -> tuple[str, int]:  # (root, offset of t - offset of root)
        delta = 0
        while t in parent:
            t, step = parent[t]
            delta += step
        return t, delta

    def union(a: str, b: str, delta: int) -> bool:  # offset(a) = offset(b) + delta
        (ra, da), (rb, db) = find(a), find(b)
        if ra == rb:
            return da == db + delta
        parent[ra] = (rb, db + delta - da)
        return True

    def resolved() -> dict[str, tuple[str, int]]:
        groups: dict[str, list[tuple[str, int]]] = {}
        for t in {*parent, *(p for p, _ in parent.values())}:
            root, offset = find(t)
            groups.setdefault(root, []).append((t, offset))
        result: dict[str, tuple[str, int]] = {}
        for members in groups.values():
            low = min(offset for _, offset in members)
            owner = min(members, key=lambda m: (m[1], m[0]))[0]
            result.update((t, (owner, offset - low)) for t, offset in members)
        return result

    for out, source in inplace_pairs(graph, order).items():
        union(out, source, 0)
    by_output: dict[str, list[tuple[str, int]]] = {}
    for part, (out, offset) in inplace_concat_parts(graph, order).items():
        by_output.setdefault(out, []).append((part, offset))
    pads = {out: [(source, offset)] for source, (out, offset) in inplace_pads(graph, order).items()}
    peak = _tensor_peak(_slots(graph, live, resolved()), steps)
    for out, parts in [*pads.items(), *by_output.items()]:
        saved = dict(parent)
        joined = all(union(part, out, offset) for part, offset in parts)
        new_peak = _tensor_peak(_slots(graph, live, resolved()), steps) if joined else peak
        if joined and (new_peak < peak or (out in pads and new_peak == peak)):
            peak = new_peak
        else:
            parent.clear()
            parent.update(saved)
    return resolved()


def _slots(graph: KernelGraph, live: dict[str, tuple[int, int]], shared: dict[str, tuple[str, int]]) -> list[Buffer]:
    """One buffer per group of tensors sharing bytes (``shared``, see :func:`placements`), in tensor order."""
    chains: dict[str, list[str]] = {}
    for t in (t for t in graph.tensors if t in live):  # tensor order: TFLM adds buffers in tensor order
        chains.setdefault(shared[t][0] if t in shared else t, []).append(t)
    result = []
    for members in chains.values():
        members.sort(key=lambda t: live[t])
        inner = tuple(shared[t][1] if t in shared else 0 for t in members)
        result.append(Buffer(
            tensors=tuple(members),
            nbytes=max(o + arena_bytes(graph.tensors[t].nbytes) for t, o in zip(members, inner, strict=True)),
            first=min(live[t][0] for t in members),
            last=max(live[t][1] for t in members),
            inner=inner if any(inner) else (),
        ))
    return result


def _tensor_peak(slots: Sequence[Buffer], steps: int) -> int:
    live_bytes = [0] * max(steps, 1)
    for b in slots:
        for step in range(b.first, min(b.last, steps - 1) + 1):
            live_bytes[step] += b.nbytes
    return max(live_bytes)


def scratch_name(kernel: str, index: int) -> str:
    """The name of the ``index``-th scratch buffer of ``kernel`` in plans and buffer lists."""
    return f"{kernel}/scratch{index}"


def buffers(
    graph: KernelGraph, order: Sequence[str] | None = None, inplace: bool = True, scratch: bool = False
) -> list[Buffer]:
    """The arena slots of ``order``: one per tensor, in-place chains merged, in the graph's tensor order.

    With ``scratch=True`` each kernel's scratch buffers follow (live at that kernel's step only), in step order and
    then request order: where TFLM adds them to its planner (after every tensor, in operator order).
    """
    result = _slots(graph, lifetimes(graph, order), placements(graph, order, inplace))
    if scratch:
        for step, kernel in enumerate(ordered_kernels(graph, order)):
            for i, nbytes in enumerate(kernel.scratch_bytes):
                if nbytes > 0:
                    result.append(Buffer((scratch_name(kernel.name, i),), arena_bytes(nbytes), step, step, True))
    return result


def peak_memory(graph: KernelGraph, order: Sequence[str] | None = None, inplace: bool = True) -> MemoryProfile:
    """Arena bytes live at each step of ``order`` (default: stored order) and their maximum."""
    kernels = ordered_kernels(graph, order)
    live = lifetimes(graph, order)
    steps = len(kernels)
    live_bytes = [0] * steps
    live_tensors: list[list[str]] = [[] for _ in range(steps)]
    for buffer in buffers(graph, order, inplace, scratch=True):
        for step in range(buffer.first, min(buffer.last, steps - 1) + 1):
            live_bytes[step] += buffer.nbytes
    for t, (first, last) in live.items():
        for step in range(first, min(last, steps - 1) + 1):
            live_tensors[step].append(t)
    peak = max(live_bytes, default=0)
    return MemoryProfile(
        order=tuple(k.name for k in kernels),
        live_bytes=tuple(live_bytes),
        live_tensors=tuple(tuple(ts) for ts in live_tensors),
        peak_bytes=peak,
        peak_step=live_bytes.index(peak) if steps else -1,
    )

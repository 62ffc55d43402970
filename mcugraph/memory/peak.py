"""Live arena bytes at every step of a kernel order, and the peak: the smallest arena any planner can reach.

Every tensor counts its size rounded up to 16 bytes (TFLM's buffer alignment), and so does every scratch buffer
a kernel asks TFLM for (:mod:`mcugraph.memory.scratch`), at that kernel's step only. With ``inplace=True`` the pairs of
:func:`inplace_pairs` share one buffer: the output of an in-place kernel takes the bytes of the input that dies
there (see :mod:`mcugraph.memory.inplace` for which kernels may). Complexity O(steps x tensors).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from mcugraph.kernel_graph import KernelGraph
from mcugraph.memory.inplace import arena_bytes, inplace_candidates
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
    live = lifetimes(graph, order)
    pairs = inplace_pairs(graph, order) if inplace else {}
    chains: dict[str, list[str]] = {}
    for t in (t for t in graph.tensors if t in live):  # tensor order: TFLM adds buffers in tensor order
        root = t
        while root in pairs:
            root = pairs[root]
        chains.setdefault(root, []).append(t)
    result = []
    for members in chains.values():
        members.sort(key=lambda t: live[t])
        result.append(Buffer(
            tensors=tuple(members),
            nbytes=max(arena_bytes(graph.tensors[t].nbytes) for t in members),
            first=min(live[t][0] for t in members),
            last=max(live[t][1] for t in members),
        ))
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

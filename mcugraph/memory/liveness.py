"""When each tensor is live, under TFLM's rules (``micro_allocation_info.cc``).

Steps are kernel positions ``0 .. n-1`` in the chosen order. A tensor is live from the step of the kernel that
writes it (graph inputs: step 0) to the step of its last reader (graph outputs: the last step); a kernel's inputs
and outputs are live at the same step, because TFLM never writes an output over an input. A tensor nobody reads
lives only at the step that writes it. Constants (weights, biases) live in flash and zero-byte tensors take no
arena: neither has a lifetime.

One corner differs from TFLM: a graph input that no kernel reads is live at step 0 here, beside the first
kernel's tensors; TFLM keeps it only in its "before the first operator" scope, beside the other graph inputs
(``mcugraph.tflite.schedule`` places such inputs itself).
"""

from __future__ import annotations

from collections.abc import Sequence

from mcugraph.errors import InvalidModelError
from mcugraph.kernel_graph import Kernel, KernelGraph


def in_arena(graph: KernelGraph, name: str) -> bool:
    """True when tensor ``name`` needs arena bytes (not a constant, not empty)."""
    info = graph.tensors[name]
    return not info.constant and info.nbytes > 0


def ordered_kernels(graph: KernelGraph, order: Sequence[str] | None = None) -> tuple[Kernel, ...]:
    """The kernels in ``order`` (default: stored order); raise if it is not a topological order of the graph."""
    if order is not None:
        names = {k.name for k in graph.kernels}
        unknown = [n for n in order if n not in names]
        if unknown or len(order) != len(names) or len(set(order)) != len(order):
            missing = sorted(names - set(order))[:3]
            raise InvalidModelError(
                f"kernel order must name each of the {len(names)} kernels once; unknown: {unknown[:3]}, "
                f"missing: {missing}, given {len(order)} names; pass names from the KernelGraph"
            )
    kernels = graph.kernels if order is None else graph.reordered(order).kernels
    written = {t for t in graph.inputs}
    for step, kernel in enumerate(kernels):
        for t in kernel.inputs:
            if t not in written and in_arena(graph, t):
                producer = graph.producers().get(t)
                where = f"written by '{producer.name}'" if producer else "written by no kernel and not a graph input"
                raise InvalidModelError(
                    f"kernel '{kernel.name}' ({kernel.op}) at step {step} reads tensor '{t}' before it is "
                    f"written ({where}); give a topological order"
                )
        written.update(kernel.outputs)
    return kernels


def lifetimes(graph: KernelGraph, order: Sequence[str] | None = None) -> dict[str, tuple[int, int]]:
    """Tensor name -> (first step, last step) it is live, for every tensor that takes arena bytes."""
    kernels = ordered_kernels(graph, order)
    last_step = max(len(kernels) - 1, 0)
    first: dict[str, int] = {t: 0 for t in graph.inputs if in_arena(graph, t)}
    last: dict[str, int] = dict(first)
    for step, kernel in enumerate(kernels):
        for t in kernel.outputs:
            if in_arena(graph, t):
                first.setdefault(t, step)
                last[t] = max(last.get(t, step), step)
        for t in kernel.inputs:
            if in_arena(graph, t):
                last[t] = step
    for t in graph.outputs:
        if t in first:
            last[t] = last_step
    return {t: (first[t], last[t]) for t in first}

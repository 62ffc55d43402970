"""An independent peak-SRAM model for tests: TFLM's liveness rules simulated step by step, written from the rules in
docs/memory.md and mcugraph/memory/*.py's docstrings without calling mcugraph.memory, so a test comparing
peak_memory or schedule_min_peak with it is not comparing a function with itself. Not a test module itself.

Rules: a tensor takes its bytes rounded up to 16 unless it is a constant or empty; it is live from the step that
writes it (graph inputs: step 0) to its last reader's step (graph outputs: the last step; unread: its own step).
A kernel's scratch buffers (16-byte rounded) are live at its step only. In place: ADD/SUB/MUL whose inputs all
have the output's shape, and RESHAPE (input 0), write the output over the first such input that is not a constant,
dies at that step, is no graph output and rounds to the output's bytes: the two share one buffer.
Not modelled: in-place CONCATENATION and PAD (only on graphs with ``storage_shapes``; the random graphs the
property tests draw have none; tests/test_inplace_concat_tflm.py and test_inplace_pad_tflm.py check them).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from mcugraph.kernel_graph import Kernel, KernelGraph


def rounded(nbytes: int) -> int:
    return (nbytes + 15) // 16 * 16


def reference_live_bytes(graph: KernelGraph, order: Sequence[str] | None = None, inplace: bool = True) -> list[int]:
    """Arena bytes live at each step of ``order`` (default: the stored order)."""
    by_name = {k.name: k for k in graph.kernels}
    kernels = [by_name[n] for n in order] if order is not None else list(graph.kernels)
    last = max(len(kernels) - 1, 0)

    def size(t: str) -> int:
        info = graph.tensors[t]
        return 0 if info.constant else rounded(info.nbytes)

    born = {t: 0 for t in graph.inputs if size(t)}
    for step, k in enumerate(kernels):
        for t in k.outputs:
            if size(t):
                born.setdefault(t, step)
    dies = {}
    for t, first in born.items():
        readers = [step for step, k in enumerate(kernels) if t in k.inputs]
        dies[t] = last if t in graph.outputs else max(readers, default=first)
    result = []
    for step, k in enumerate(kernels):
        live = sum(size(t) for t in born if born[t] <= step <= dies[t])
        live += sum(rounded(b) for b in k.scratch_bytes if b > 0)
        if inplace:
            live -= _shared(graph, k, step, dies, size)
        result.append(live)
    return result


def _shared(graph: KernelGraph, k: Kernel, step: int, dies: dict[str, int], size) -> int:
    """Bytes the output of ``k`` shares with an input that dies at ``step`` (0 when it shares none)."""
    if len(k.outputs) != 1 or not size(k.outputs[0]):
        return 0
    out = k.outputs[0]
    if k.op in ("ADD", "SUB", "MUL"):
        if any(graph.tensors[t].shape != graph.tensors[out].shape for t in k.inputs):
            return 0
        candidates = k.inputs
    elif k.op == "RESHAPE":
        candidates = k.inputs[:1]
    else:
        return 0
    for t in candidates:
        if size(t) == size(out) and dies.get(t) == step and t not in graph.outputs:
            return size(out)
    return 0


def reference_peak(graph: KernelGraph, order: Sequence[str] | None = None, inplace: bool = True) -> int:
    return max(reference_live_bytes(graph, order, inplace), default=0)


def topological_orders(graph: KernelGraph) -> Iterator[tuple[str, ...]]:
    """Every order in which each kernel runs after the kernels writing its inputs (brute force; small graphs)."""
    producer = {t: k.name for k in graph.kernels for t in k.outputs}
    preds = {k.name: {producer[t] for t in k.inputs if t in producer} for k in graph.kernels}

    def extend(done: list[str]) -> Iterator[tuple[str, ...]]:
        if len(done) == len(graph.kernels):
            yield tuple(done)
            return
        for k in graph.kernels:
            if k.name not in done and preds[k.name] <= set(done):
                yield from extend([*done, k.name])

    return extend([])

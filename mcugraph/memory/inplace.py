"""The one table of kernels whose output may be written over one of their inputs (TFLM-safe in-place ops).

TFLM never writes an output over an input by itself; mcugraph makes an output share its input's bytes through an
offline arena plan, and only for the kernels below, whose TFLM reference code reads element ``i`` of the input
before it writes element ``i`` of the output (proved bit-exact in TFLM, float32 and int8: ``tests/test_inplace_tflm.py``):

- ``ADD``/``SUB``/``MUL`` when every input has exactly the output's shape (no broadcasting): either input;
- ``RESHAPE``: the data input (input 0); the bytes are the same, only the shape changes.

An input is reused only when it dies at that kernel (no later reader, not a graph output), is not a constant, and
rounds to the same arena bytes as the output. This module is the single place that decides it.
"""

from __future__ import annotations

from collections.abc import Callable

from mcugraph.kernel_graph import Kernel, KernelGraph

ARENA_ALIGNMENT = 16  # TFLM rounds every planned buffer up to this many bytes (MicroArenaBufferAlignment)


def arena_bytes(nbytes: int) -> int:
    """``nbytes`` rounded up to TFLM's 16-byte buffer alignment."""
    return -(-nbytes // ARENA_ALIGNMENT) * ARENA_ALIGNMENT


def _elementwise(kernel: Kernel, graph: KernelGraph) -> tuple[int, ...]:
    if len(kernel.outputs) != 1:
        return ()
    shape = graph.tensors[kernel.outputs[0]].shape
    if any(graph.tensors[t].shape != shape for t in kernel.inputs):
        return ()  # broadcasting reads an input element several times: overwriting it would be wrong
    return tuple(range(len(kernel.inputs)))


def _reshape(kernel: Kernel, graph: KernelGraph) -> tuple[int, ...]:
    return (0,) if len(kernel.outputs) == 1 and kernel.inputs else ()


# TFLite builtin -> which input positions the (single) output may overwrite, in order of preference.
INPLACE_OPS: dict[str, Callable[[Kernel, KernelGraph], tuple[int, ...]]] = {
    "ADD": _elementwise,
    "SUB": _elementwise,
    "MUL": _elementwise,
    "RESHAPE": _reshape,
}


def inplace_candidates(kernel: Kernel, graph: KernelGraph) -> tuple[str, ...]:
    """Input tensors (in preference order) whose bytes ``kernel``'s output may reuse, if they die at ``kernel``."""
    rule = INPLACE_OPS.get(kernel.op)
    if rule is None:
        return ()
    out = graph.tensors[kernel.outputs[0]] if kernel.outputs else None
    result = []
    for position in rule(kernel, graph):
        name = kernel.inputs[position]
        info = graph.tensors[name]
        if info.constant or name in result or out is None:
            continue
        if arena_bytes(info.nbytes) != arena_bytes(out.nbytes) or info.nbytes == 0:
            continue
        result.append(name)
    return tuple(result)

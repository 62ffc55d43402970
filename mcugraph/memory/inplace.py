"""The one table of kernels whose output may be written over one of their inputs (TFLM-safe in-place ops).

TFLM never writes an output over an input by itself; mcugraph makes an output share its input's bytes through an
offline arena plan, and only for the kernels below, whose TFLM reference code reads element ``i`` of the input
before it writes element ``i`` of the output (proved bit-exact in TFLM, float32 and int8: ``tests/test_inplace_tflm.py``):

- ``ADD``/``SUB``/``MUL`` when every input has exactly the output's shape (no broadcasting): either input;
- ``RESHAPE``: the data input (input 0); the bytes are the same, only the shape changes.

An input is reused only when it dies at that kernel (no later reader, not a graph output), is not a constant, and
rounds to the same arena bytes as the output. This module is the single place that decides it.

A PAD may write its output around its input (:func:`pad_placement`): TFLM's reference ``PadImpl`` writes the output
strictly in order and reads the input strictly in order (``*out_ptr++ = pad ? pad_value : *in_ptr++``), so with
the input placed at the output's end (offset ``output bytes - input bytes``, rounded up to 16) the write pointer
never passes an input element not yet read: at most ``output - input`` pad elements precede any copy. Then the
padded copy and its input never take bytes side by side (``tests/test_inplace_pad_tflm.py``, control included).

A third kind of sharing (:func:`concat_parts`): a ``CONCATENATION`` whose inputs are contiguous,
16-byte aligned byte ranges of its output (concatenation along the first axis whose outer dimensions are all 1,
e.g. row bands along H of a batch-1 NHWC tensor) may have each input placed at its final offset *inside* the
output. TFLM's concatenation is a byte copy for every dtype (``reference_ops::Concatenation``, no requantisation),
so it then copies every input onto itself (``tests/test_inplace_concat_tflm.py``). The tiles of a patched stage
(:mod:`mcugraph.patch`) write their row bands straight into the stage output this way.
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


def concat_parts(kernel: Kernel, graph: KernelGraph) -> tuple[tuple[str, int], ...]:
    """(input, byte offset inside the output) for each input of a CONCATENATION that may live inside its output.

    Empty unless the graph's shapes are the stored layout (``KernelGraph.storage_shapes``), every input is a distinct non-constant tensor, the inputs differ from the output in one axis only,
    every dimension before that axis is 1 (so each input is one contiguous byte range of the output) and every
    input starts at a multiple of the arena alignment (so 16-byte rounding never makes two inputs overlap). Whether
    the inputs die at the concatenation is the caller's business (it depends on the order).
    """
    if kernel.op != "CONCATENATION" or len(kernel.outputs) != 1 or len(kernel.inputs) < 2:
        return ()
    if not graph.storage_shapes:
        return ()  # ONNX (NCHW) shapes of an NHWC arena: a channel concatenation would look contiguous
    if len(set(kernel.inputs)) != len(kernel.inputs):
        return ()
    out = graph.tensors[kernel.outputs[0]]
    ins = [graph.tensors[t] for t in kernel.inputs]
    if any(i.constant or i.nbytes == 0 or len(i.shape) != len(out.shape) or i.itemsize != out.itemsize for i in ins):
        return ()
    axes = {d for i in ins for d in range(len(out.shape)) if i.shape[d] != out.shape[d]}
    if len(axes) != 1:
        return ()
    (axis,) = axes
    if any(d != 1 for d in out.shape[:axis]) or sum(i.shape[axis] for i in ins) != out.shape[axis]:
        return ()
    parts, offset = [], 0
    for name, info in zip(kernel.inputs, ins, strict=True):
        if offset % ARENA_ALIGNMENT:
            return ()
        parts.append((name, offset))
        offset += info.nbytes
    return tuple(parts)


def pad_placement(kernel: Kernel, graph: KernelGraph) -> tuple[str, int] | None:
    """(data input, byte offset inside the output) where a PAD's input may sit so TFLM pads it in place, or None.

    The offset is the output's extra bytes rounded up to the arena alignment: the input ends at (or up to 15 bytes
    past) the output's end. Whether the input dies at the PAD is the caller's business.
    """
    if kernel.op not in ("PAD", "PADV2") or len(kernel.outputs) != 1 or not kernel.inputs:
        return None
    source, out = graph.tensors[kernel.inputs[0]], graph.tensors[kernel.outputs[0]]
    if source.constant or source.nbytes == 0 or source.itemsize != out.itemsize or out.nbytes <= source.nbytes:
        return None
    return kernel.inputs[0], arena_bytes(out.nbytes - source.nbytes)

"""Scratch buffers TFLM's reference kernels ask for in the arena: the one table of which kernels and how big.

A kernel's ``Prepare`` may call ``RequestScratchBufferInArena(bytes)``. TFLM plans each such buffer like a tensor
that is live only while its operator runs (``micro_allocation_info.cc``: first created and last used at the
operator's allocation scope), rounded up to 16 bytes, AFTER every tensor in the allocation list and always
online: with an offline plan, TFLM places the offline tensors at their offsets and then each scratch buffer,
largest first, in the lowest gap between buffers live at the same time (``greedy_memory_planner.cc``). So the
arena head TFLM reports includes them, and :mod:`mcugraph.memory.planner` emulates exactly that placement.

Requests of the reference kernels the exporter can emit (the Python TFLM interpreter runs the reference kernels;
optimised kernels such as CMSIS-NN ask for more and are out of scope), from tflite-micro's sources and checked
against the installed interpreter's measured head (``tests/test_memory_scratch.py``):

- ``MEAN`` (``reduce_common.cc``, ``PrepareMeanOrSumHelper``): int8/int16 input: one int32 per output element
  (the sums); then, every dtype, ``4 x input rank`` and ``4 x number of axes`` (index and resolved-axis arrays:
  the interpreter's MEAN takes these two from the arena, measured as 2 x 16 bytes on rank 3 and 4 inputs);
- ``REDUCE_MAX`` (``PrepareMinMaxHelper``): ``4 x input rank`` and ``4 x number of axes``, every dtype;
- ``TRANSPOSE_CONV`` (``transpose_conv.cc``): int8 input: one int32 per output element; int16: one int64.

Every other kernel of :mod:`mcugraph.memory.kernel_view` asks for none: CONV_2D, DEPTHWISE_CONV_2D,
FULLY_CONNECTED, SOFTMAX (int16 look-up tables are persistent, from the arena tail), CONCATENATION and
BATCH_MATMUL (persistent too), and the elementwise, pooling, shape and activation kernels keep their state in
``OpData``.
"""

from __future__ import annotations

import math

from mcugraph.kernel_graph import TensorInfo


def scratch_bytes(
    op: str, data_input: TensorInfo | None, output: TensorInfo | None, axis_count: int = 0, integer: bool = True
) -> tuple[int, ...]:
    """Raw bytes (before 16-byte rounding) of each scratch buffer kernel ``op`` requests, in request order.

    ``data_input``/``output``: the kernel's data input and first output; ``axis_count``: elements of a reduction's
    axes tensor; ``integer``: the activations are quantised integers (int8/int16), not float.
    """
    if data_input is None or output is None:
        return ()
    elements = math.prod(output.shape)
    if op == "MEAN":
        sums = (4 * elements,) if integer and data_input.itemsize in (1, 2) else ()
        return (*sums, 4 * len(data_input.shape), 4 * axis_count)
    if op == "REDUCE_MAX":
        return (4 * len(data_input.shape), 4 * axis_count)
    if op == "TRANSPOSE_CONV" and integer and data_input.itemsize in (1, 2):
        return ((4 if data_input.itemsize == 1 else 8) * elements,)
    return ()

"""Proofs in TFLite Micro that the kernels of mcugraph.memory.inplace.INPLACE_OPS may write over their input.

Each test hand-builds a tiny .tflite file, writes an offline plan that puts the output on exactly the bytes of the
input, and compares TFLM's outputs with the same model planned by TFLM itself (no aliasing): they must be
bit-exact. A control test shows that a plan which is *almost* in place (output shifted by 8 bytes) does change the
outputs, so these comparisons can fail.
"""

from __future__ import annotations

import numpy as np
import pytest

from mcugraph.tflite import schema as tfl
from mcugraph.tflite.builder import TinyTflite
from mcugraph.tflite.offline_plan import write_offline_plan
from mcugraph.tflite.tflm import arena_head, run_tflm_batch

SHAPE = (1, 8, 8, 4)  # 256 elements
QUANT = {np.float32: {}, np.int8: {"scale": 0.05, "zero_point": -3}}


def _binary(op: str, dtype) -> bytes:
    """x, y -> z = op(x, y), all of SHAPE: tensors 0, 1, 2."""
    b = TinyTflite()
    x, y, z = (b.tensor(n, SHAPE, dtype, **QUANT[dtype]) for n in "xyz")
    b.op(op, [x, y], [z])
    return b.build([x, y], [z])


def _samples(dtype, count: int, inputs: int = 2) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(7)
    if dtype == np.int8:
        return [[rng.integers(-128, 128, SHAPE, dtype=np.int8) for _ in range(inputs)] for _ in range(count)]
    return [[rng.standard_normal(SHAPE).astype(np.float32) for _ in range(inputs)] for _ in range(count)]


def _with_plan(data: bytes, offsets: list[int]) -> bytes:
    model = tfl.read(data)
    write_offline_plan(model, offsets)
    return tfl.pack(model)


def _assert_same_outputs(a: bytes, b: bytes, samples) -> None:
    for out_a, out_b in zip(run_tflm_batch(a, samples), run_tflm_batch(b, samples), strict=True):
        for x, y in zip(out_a, out_b, strict=True):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("dtype", [np.float32, np.int8], ids=["float32", "int8"])
@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL"])
@pytest.mark.parametrize("position", [0, 1], ids=["over-input0", "over-input1"])
def test_elementwise_output_over_its_input_is_bit_exact(op, dtype, position):
    """ADD/SUB/MUL writing their output on an equal-shape input's bytes give TFLM's unaliased outputs."""
    data = _binary(op, dtype)
    nbytes = 256 * np.dtype(dtype).itemsize
    offsets = [0, nbytes, position * nbytes]  # z on x (position 0) or on y (position 1)
    aliased = _with_plan(data, offsets)
    assert arena_head(aliased) == 2 * nbytes < arena_head(data)
    _assert_same_outputs(aliased, data, _samples(dtype, 3))


@pytest.mark.parametrize("dtype", [np.float32, np.int8], ids=["float32", "int8"])
def test_reshape_output_over_its_input_is_bit_exact(dtype):
    """RESHAPE whose output is its input's bytes (TFLM then copies nothing) feeds the next kernel correctly."""
    b = TinyTflite()
    x = b.tensor("x", SHAPE, dtype, **QUANT[dtype])
    new_shape = b.tensor("new_shape", (2,), np.int32, data=np.array([1, 256], np.int32))
    r = b.tensor("r", (1, 256), dtype, **QUANT[dtype])
    o = b.tensor("o", (1, 256), dtype, **QUANT[dtype])
    b.op("RESHAPE", [x, new_shape], [r])
    b.op("ADD", [r, r], [o])
    data = b.build([x], [o])
    nbytes = 256 * np.dtype(dtype).itemsize
    aliased = _with_plan(data, [0, -1, 0, nbytes])  # r on x; o after them
    assert arena_head(aliased) == 2 * nbytes
    _assert_same_outputs(aliased, data, _samples(dtype, 3, inputs=1))


def test_partly_overlapping_output_corrupts_the_result():
    """Control: an ADD output shifted 8 bytes over its input reads overwritten elements, so outputs differ."""
    data = _binary("ADD", np.float32)
    shifted = _with_plan(data, [0, 1024, 8])
    samples = _samples(np.float32, 1)
    assert not np.array_equal(run_tflm_batch(shifted, samples)[0][0], run_tflm_batch(data, samples)[0][0])

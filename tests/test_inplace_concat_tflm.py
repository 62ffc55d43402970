"""Proofs in TFLite Micro that a CONCATENATION along H may find its inputs already in place inside its output.

The tiles of a patched stage (mcugraph.patch) write their row bands where the stage output will hold them, so the
concatenation copies each band onto itself. Each test hand-builds ``a = x + x``, ``b = y + y`` (two row bands),
``c = concat(a, b, axis=1)``, ``o = c + c``, plans ``a`` and ``b`` inside ``c`` with an offline plan and compares
TFLM's outputs with TFLM's own plan (no aliasing). A control swaps the bands: the comparison then fails.
"""

from __future__ import annotations

import numpy as np
import pytest

from mcugraph.errors import ExportError
from mcugraph.memory.inplace import concat_parts
from mcugraph.memory.peak import peak_memory, placements
from mcugraph.memory.planner import check_plan, plan_arena
from mcugraph.memory.tflite_graph import kernel_graph_from_tflite
from mcugraph.tflite import schema as tfl
from mcugraph.tflite.builder import TinyTflite
from mcugraph.tflite.offline_plan import write_offline_plan
from mcugraph.tflite.tflm import arena_head, run_tflm_batch

BAND, FULL = (1, 4, 6, 4), (1, 8, 6, 4)  # 96 and 192 elements
QUANT = {np.float32: {}, np.int8: {"scale": 0.05, "zero_point": -3}}


def _bands_model(dtype) -> bytes:
    """Tensors x, y, a, b, c, o = 0..5 (see the module docstring)."""
    b = TinyTflite()
    x, y = (b.tensor(n, BAND, dtype, **QUANT[dtype]) for n in "xy")
    a, bb = (b.tensor(n, BAND, dtype, **QUANT[dtype]) for n in "ab")
    c, o = b.tensor("c", FULL, dtype, **QUANT[dtype]), b.tensor("o", FULL, dtype, **QUANT[dtype])
    b.op("ADD", [x, x], [a])
    b.op("ADD", [y, y], [bb])
    concat = b.op("CONCATENATION", [a, bb], [c])
    options = tfl.schema.ConcatenationOptionsT()
    options.axis = 1
    b.subgraph.operators[concat].builtinOptionsType = tfl.schema.BuiltinOptions.ConcatenationOptions
    b.subgraph.operators[concat].builtinOptions = options
    b.op("ADD", [c, c], [o])
    return b.build([x, y], [o])


def _with_plan(data: bytes, offsets) -> bytes:
    model = tfl.read(data)
    write_offline_plan(model, list(offsets))
    return tfl.pack(model)


def _outputs(data: bytes, dtype):
    rng = np.random.default_rng(3)
    if dtype == np.int8:
        samples = [[rng.integers(-60, 60, BAND, dtype=np.int8) for _ in range(2)] for _ in range(3)]
    else:
        samples = [[rng.standard_normal(BAND).astype(np.float32) for _ in range(2)] for _ in range(3)]
    return [o[0] for o in run_tflm_batch(data, samples)]


@pytest.mark.parametrize("dtype", [np.float32, np.int8], ids=["float32", "int8"])
def test_bands_written_inside_the_concat_output_are_bit_exact(dtype):
    """a and b placed at their final offsets inside c: TFLM copies them onto themselves, outputs unchanged."""
    data = _bands_model(dtype)
    band = 96 * np.dtype(dtype).itemsize
    # x, y at 0 and band; c at 2*band with a, b inside it; o (live with c only) over x and y.
    in_place = _with_plan(data, [0, band, 2 * band, 3 * band, 2 * band, 0])
    assert arena_head(in_place) == 4 * band
    for got, want in zip(_outputs(in_place, dtype), _outputs(data, dtype), strict=True):
        np.testing.assert_array_equal(got, want)


def test_swapped_bands_are_caught():
    """Control: a and b inside c but in each other's place: the concatenation scrambles rows, outputs differ."""
    data = _bands_model(np.float32)
    # x, y at 0 and 384; c at 768; a in c's second half, b in its first; o over x and y.
    swapped = _with_plan(data, [0, 384, 768 + 384, 768, 768, 0])
    assert not all(np.array_equal(g, w) for g, w in zip(_outputs(swapped, np.float32), _outputs(data, np.float32),
                                                        strict=True))


def test_memory_model_places_the_bands_inside_the_output():
    """plan_arena puts a and b inside c when that lowers the peak, TFLM agrees byte for byte, and it stays exact."""
    data = _bands_model(np.int8)
    graph = kernel_graph_from_tflite(data)
    shared = placements(graph)
    assert shared["a"][0] == shared["b"][0] == shared["c"][0]
    assert (shared["a"][1] - shared["c"][1], shared["b"][1] - shared["c"][1]) == (0, 96)
    assert peak_memory(graph).peak_bytes < peak_memory(graph, inplace=False).peak_bytes
    plan = plan_arena(graph)
    check_plan(plan, graph)
    assert plan.offsets["b"] == plan.offsets["c"] + 96 and plan.offsets["a"] == plan.offsets["c"]
    planned = _with_plan(data, [plan.offsets.get(t, -1) for t in graph.tensors])
    assert arena_head(planned) == plan.arena_bytes
    for got, want in zip(_outputs(planned, np.int8), _outputs(data, np.int8), strict=True):
        np.testing.assert_array_equal(got, want)


def test_check_plan_refuses_a_band_off_its_place():
    """check_plan: b shifted inside c by 16 bytes overlaps a live tensor without being an allowed placement."""
    graph = kernel_graph_from_tflite(_bands_model(np.int8))
    plan = plan_arena(graph)
    shifted = dict(plan.offsets, b=plan.offsets["b"] - 16)
    with pytest.raises(ExportError, match="overlaps live tensors"):
        check_plan(type(plan)(**{**plan.__dict__, "offsets": shifted}), graph)


def test_concat_along_channels_is_not_in_place():
    """A channel concatenation of an H x W image interleaves its inputs: no input is one byte range of the output."""
    b = TinyTflite()
    x, y = (b.tensor(n, (1, 4, 4, 16), np.int8, scale=0.1) for n in "xy")
    c = b.tensor("c", (1, 4, 4, 32), np.int8, scale=0.1)
    b.op("CONCATENATION", [x, y], [c])
    graph = kernel_graph_from_tflite(b.build([x, y], [c]))
    assert concat_parts(graph.kernels[0], graph) == ()

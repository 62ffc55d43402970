"""Proof in TFLite Micro that a PAD may write its output around its input placed at the output's end.

TFLM's ``PadImpl`` writes output elements in order and reads input elements in order, so an input ending where the
output ends is never overwritten before it is read. The model: ``a = x + x`` (so the PAD's input is not a graph
input), ``p = PAD(a)``, ``o = p + p``; the offline plan puts ``a`` at the end of ``p``. A control puts ``a`` at the
start of ``p``: the leading pad rows then overwrite it before it is copied, and the outputs change.
"""

from __future__ import annotations

import numpy as np
import pytest

from mcugraph.memory.inplace import arena_bytes
from mcugraph.memory.peak import peak_memory, placements
from mcugraph.memory.planner import check_plan, plan_arena
from mcugraph.memory.tflite_graph import kernel_graph_from_tflite
from mcugraph.tflite import schema as tfl
from mcugraph.tflite.builder import TinyTflite
from mcugraph.tflite.offline_plan import write_offline_plan
from mcugraph.tflite.tflm import arena_head, run_tflm_batch

X, P = (1, 6, 6, 8), (1, 8, 9, 8)  # padded by top 1, bottom 1, left 2, right 1: 288 -> 576 elements
QUANT = {np.float32: {}, np.int8: {"scale": 0.05, "zero_point": -3}}


def _pad_model(dtype) -> bytes:
    """Tensors x, a, paddings, p, o = 0..4."""
    b = TinyTflite()
    x, a = (b.tensor(n, X, dtype, **QUANT[dtype]) for n in "xa")
    pads = b.tensor("paddings", (4, 2), np.int32, data=np.array([[0, 0], [1, 1], [2, 1], [0, 0]], np.int32))
    p, o = (b.tensor(n, P, dtype, **QUANT[dtype]) for n in "po")
    b.op("ADD", [x, x], [a])
    pad = b.op("PAD", [a, pads], [p])
    b.subgraph.operators[pad].builtinOptionsType = tfl.schema.BuiltinOptions.PadOptions
    b.subgraph.operators[pad].builtinOptions = tfl.schema.PadOptionsT()
    b.op("ADD", [p, p], [o])
    return b.build([x], [o])


def _planned(data: bytes, offsets) -> bytes:
    model = tfl.read(data)
    write_offline_plan(model, list(offsets))
    return tfl.pack(model)


def _outputs(data: bytes, dtype):
    rng = np.random.default_rng(5)
    if dtype == np.int8:
        samples = [[rng.integers(-60, 60, X, dtype=np.int8)] for _ in range(3)]
    else:
        samples = [[rng.standard_normal(X).astype(np.float32)] for _ in range(3)]
    return [o[0] for o in run_tflm_batch(data, samples)]


@pytest.mark.parametrize("dtype", [np.float32, np.int8], ids=["float32", "int8"])
def test_pad_input_at_the_output_end_is_bit_exact(dtype):
    """a at the end of p: TFLM pads it in place, outputs equal TFLM's own plan."""
    item = np.dtype(dtype).itemsize
    x_bytes, p_bytes = 288 * item, 576 * item
    # x and o share [0, p_bytes) (never live together); p right after; a inside p's last x_bytes.
    planned = _planned(_pad_model(dtype), [0, p_bytes + p_bytes - x_bytes, -1, p_bytes, 0])
    assert arena_head(planned) == 2 * p_bytes
    for got, want in zip(_outputs(planned, dtype), _outputs(_pad_model(dtype), dtype), strict=True):
        np.testing.assert_array_equal(got, want)


def test_pad_input_at_the_output_start_is_caught():
    """Control: a at the start of p is overwritten by the leading pad rows before it is read."""
    planned = _planned(_pad_model(np.float32), [0, 2304, -1, 2304, 0])
    assert not all(np.array_equal(g, w) for g, w in zip(_outputs(planned, np.float32),
                                                        _outputs(_pad_model(np.float32), np.float32), strict=True))


def test_memory_model_pads_in_place_and_tflm_agrees():
    """The planner puts a at p's end (x -> a -> p -> o all share p's bytes) and TFLM's head equals the prediction."""
    data = _pad_model(np.int8)
    graph = kernel_graph_from_tflite(data)
    shared = placements(graph)
    assert shared["a"][0] == shared["p"][0] and shared["a"][1] - shared["p"][1] == arena_bytes(576 - 288)
    assert peak_memory(graph).peak_bytes == 576 < peak_memory(graph, inplace=False).peak_bytes  # x, a, p, o: one slot
    plan = plan_arena(graph)
    check_plan(plan, graph)
    assert plan.offsets["a"] == plan.offsets["p"] + 288
    planned = _planned(data, [plan.offsets.get(t, -1) for t in graph.tensors])
    assert arena_head(planned) == plan.arena_bytes
    for got, want in zip(_outputs(planned, np.int8), _outputs(data, np.int8), strict=True):
        np.testing.assert_array_equal(got, want)

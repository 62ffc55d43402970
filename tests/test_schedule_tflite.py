"""schedule_tflite: reorder + offline plan, verified in TFLM (mcugraph.tflite.schedule)."""

from __future__ import annotations

import numpy as np
import pytest

from mcugraph.errors import ExportError
from mcugraph.memory import inplace
from mcugraph.tflite import schema as tfl
from mcugraph.tflite.builder import TinyTflite, peak_at_add
from mcugraph.tflite.offline_plan import read_offline_plan
from mcugraph.tflite.schedule import schedule_tflite
from mcugraph.tflite.tflm import arena_head, run_tflm

SHAPE = (1, 16, 16, 4)  # 1024 float32 = 4096 bytes
N = 4096


def _peak_at_add() -> bytes:
    return peak_at_add(SHAPE)


def _branches() -> bytes:
    """x -> a1 = FC(x) (big) -> a2 = FC(a1) (small); the same for b; o = a2 + b2. Stored: a1, b1, a2, b2, o."""
    b = TinyTflite()
    x = b.tensor("x", (1, 4))
    w_up = b.tensor("w_up", (256, 4), data=np.full((256, 4), 0.25, np.float32))
    w_down = b.tensor("w_down", (4, 256), data=np.full((4, 256), 0.5, np.float32))
    a1, b1 = b.tensor("a1", (1, 256)), b.tensor("b1", (1, 256))
    a2, b2, o = b.tensor("a2", (1, 4)), b.tensor("b2", (1, 4)), b.tensor("o", (1, 4))
    b.op("FULLY_CONNECTED", [x, w_up, -1], [a1])
    b.op("FULLY_CONNECTED", [x, w_up, -1], [b1])
    b.op("FULLY_CONNECTED", [a1, w_down, -1], [a2])
    b.op("FULLY_CONNECTED", [b1, w_down, -1], [b2])
    b.op("ADD", [a2, b2], [o])
    return b.build([x], [o])


def _sample(shape=SHAPE):
    return [np.random.default_rng(3).standard_normal(shape).astype(np.float32)]


def test_inplace_add_at_the_peak_saves_its_output_buffer():
    """With in-place, TFLM's head drops by exactly the ADD's output bytes; outputs stay bit-exact."""
    data = _peak_at_add()
    without, r_without = schedule_tflite(data, inplace=False)
    with_inplace, r_with = schedule_tflite(data, inplace=True)
    assert arena_head(data) == arena_head(without) == 3 * N
    assert arena_head(with_inplace) == r_with.predicted_bytes == 2 * N
    assert r_without.head_after_bytes - r_with.head_after_bytes == N
    np.testing.assert_array_equal(run_tflm(with_inplace, _sample())[0], run_tflm(data, _sample())[0])


def test_written_model_carries_the_order_and_the_plan():
    """The output file holds the scheduled operator order and the plan's offsets, -1 for constants."""
    scheduled, report = schedule_tflite(_peak_at_add())
    model = tfl.read(scheduled)
    offsets = read_offline_plan(model)
    assert [report.plan.offsets.get(t, -1) for t in ("x", "three", "half", "a", "c", "o")] == list(offsets)
    assert offsets[1] == offsets[2] == -1 and offsets[4] == offsets[0]  # c is written over x
    assert report.order == ("0:MUL", "1:ADD", "2:MUL")


def test_reordering_lowers_the_head():
    """Finishing one branch before starting the other lowers TFLM's head; outputs bit-exact."""
    data = _branches()
    scheduled, report = schedule_tflite(data, inplace=False)
    assert report.order[:3] in (("0:FULLY_CONNECTED", "2:FULLY_CONNECTED", "1:FULLY_CONNECTED"),
                                ("1:FULLY_CONNECTED", "3:FULLY_CONNECTED", "0:FULLY_CONNECTED"))
    assert report.head_after_bytes == arena_head(scheduled) < report.head_before_bytes == arena_head(data)
    for got, want in zip(run_tflm(scheduled, _sample((1, 4))), run_tflm(data, _sample((1, 4))), strict=True):
        np.testing.assert_array_equal(got, want)


def test_unsafe_inplace_kernel_is_caught_by_verification(monkeypatch):
    """Declaring FULLY_CONNECTED in-place (it is not) makes outputs differ, so nothing is returned."""
    b = TinyTflite()
    x, h, o = b.tensor("x", (1, 64)), b.tensor("h", (1, 64)), b.tensor("o", (1, 64))
    w = b.tensor("w", (64, 64), data=np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32))
    b.op("FULLY_CONNECTED", [x, w, -1], [h])
    b.op("FULLY_CONNECTED", [h, w, -1], [o])
    monkeypatch.setitem(inplace.INPLACE_OPS, "FULLY_CONNECTED", lambda kernel, graph: (0,))
    with pytest.raises(ExportError, match="differs from the input model"):
        schedule_tflite(b.build([x], [o]))


def test_head_that_differs_from_the_prediction_is_refused(monkeypatch):
    """If TFLM reported another head than predicted, schedule_tflite raises instead of returning the model."""
    import mcugraph.tflite.schedule as schedule

    heads = iter([3 * N, 3 * N + 16])
    monkeypatch.setattr(schedule, "arena_head", lambda data, source="model": next(heads))
    with pytest.raises(ExportError, match="predicted"):
        schedule_tflite(_peak_at_add())


def test_unread_graph_input_lives_only_before_the_first_kernel():
    """An input no operator reads overlaps only the other inputs (TFLM's scope 0), so it costs no arena bytes here."""
    b = TinyTflite()
    unused, x = b.tensor("unused", (1, 64)), b.tensor("x", (1, 4))
    w = b.tensor("w", (64, 4), data=np.full((64, 4), 0.5, np.float32))
    k = b.tensor("k", (1,), data=np.array([2.0], np.float32))
    a, o = b.tensor("a", (1, 64)), b.tensor("o", (1, 64))
    b.op("FULLY_CONNECTED", [x, w, -1], [a])
    b.op("MUL", [a, k], [o])
    data = b.build([unused, x], [o])
    scheduled, report = schedule_tflite(data)
    # Counted alongside the FC output it would give 256 + 16 + 256 = 528 B; its own step leaves a + o = 512 B.
    assert report.lower_bound_bytes == report.predicted_bytes == arena_head(scheduled) == 512
    assert report.order == ("0:FULLY_CONNECTED", "1:MUL")


# Acceptance numbers of the MLPerf Tiny int8 references (TFLM heads before: 16,000 / 73,728 / 49,152 / 768 B).
ACCEPTANCE = {
    "kws_dscnn": 16_000,
    "vww_mobilenetv1": 55_296,
    "ic_resnet8": 49_152,
    "ad_autoencoder": 768,
}


@pytest.mark.parametrize("name", sorted(ACCEPTANCE))
def test_mlperf_tiny_heads_meet_the_targets(shared_models, name):
    """Scheduled MLPerf Tiny models reach their SRAM target; TFLM's head equals the prediction (verified inside)."""
    data = (shared_models / f"{name}.int8.tflite").read_bytes()
    scheduled, report = schedule_tflite(data, time_limit_s=5.0)
    assert report.head_after_bytes == report.predicted_bytes == arena_head(scheduled)
    assert report.head_after_bytes <= ACCEPTANCE[name]
    assert report.head_after_bytes <= report.head_before_bytes

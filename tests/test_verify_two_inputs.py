"""Verification of a two-input model measures what the model does on its inputs: each input's random samples lie in
that input's own range (a QDQ model's second input used to be fed the first input's range, reporting 25 dB for a
model that measures 45 dB on inputs in its own ranges)."""

from __future__ import annotations

import logging

import numpy as np
import onnx_ir as ir
import pytest

import mcugraph
from mcugraph import zoo_coverage
from mcugraph.export.verify import measure

RANGES = {"input0": (0.0, 1.0), "input1": (-20.0, 20.0)}  # an image and a feature vector of another scale


def _draw(rng: np.random.Generator, count: int) -> dict[str, np.ndarray]:
    shapes = dict(zip(RANGES, zoo_coverage.FAMILIES["two_inputs"].inputs, strict=True))
    return {n: rng.uniform(*RANGES[n], (count, *shapes[n][1:])).astype(np.float32) for n in RANGES}


@pytest.fixture(scope="module")
def two_input_qdq(tmp_path_factory) -> str:
    """The two-input CNN, quantised by onnxruntime (QDQ) on samples in each input's own range."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    tmp = tmp_path_factory.mktemp("two_inputs")
    source = zoo_coverage.export("two_inputs", tmp / "float.onnx", "legacy")
    rng = np.random.default_rng(0)
    feeds = iter([_draw(rng, 1) for _ in range(16)])

    class Reader(CalibrationDataReader):
        def get_next(self):
            return next(feeds, None)

    logging.disable(logging.WARNING)
    try:
        quantize_static(str(source), str(tmp / "qdq.onnx"), Reader(), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    finally:
        logging.disable(logging.NOTSET)
    return str(tmp / "qdq.onnx")


def test_qdq_verification_samples_cover_each_inputs_range(two_input_qdq):
    """Each input's verification samples span that input's QDQ range, not the first input's."""
    from mcugraph.optimize import _verify_inputs

    model = mcugraph.load(two_input_qdq)
    arrays = _verify_inputs(model, {"input0": _Range(0.0, 1.0), "input1": _Range(-20.0, 20.0)}, 200)
    assert 0.0 <= arrays["input0"].min() and arrays["input0"].max() <= 1.0
    assert arrays["input1"].min() < -10.0 and arrays["input1"].max() > 10.0


def test_two_input_report_agrees_with_fresh_samples(two_input_qdq):
    """The SQNR opt reports is not far below TFLM's SQNR on fresh samples in the inputs' own ranges (it was 20 dB
    below: the second input was verified in the first input's range)."""
    result = mcugraph.optimize(two_input_qdq, progress=False, warn=lambda _: None)
    reported = result.report["verification"]["sqnr_db"]
    reference = ir.serde.serialize_model(mcugraph.load(two_input_qdq))
    fresh = measure(result.tflite, reference, _draw(np.random.default_rng(7), 20), min_sqnr_db=0.0)
    assert reported >= fresh.sqnr_db - 6.0, (reported, fresh.sqnr_db)


class _Range:
    """Stands in for a QuantParam: only ``range`` is read."""

    def __init__(self, low: float, high: float):
        self.range = (low, high)

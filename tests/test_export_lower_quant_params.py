"""int8 parameter arithmetic: activation ranges, per-channel weights, int32 biases."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from mcugraph.export.quant_params import (
    QuantParam,
    dequantize,
    param_from_range,
    quantize,
    quantize_bias,
    quantize_weights,
)


@given(lo=st.floats(-100, 100), hi=st.floats(-100, 100))
def test_range_covers_zero_and_maps_it_exactly(lo, hi):
    """param_from_range covers [min(lo,0), max(hi,0)] and real 0 is an exact int8 code."""
    lo, hi = min(lo, hi), max(lo, hi)
    p = param_from_range(lo, hi)
    low, high = p.range
    assert low <= min(lo, 0.0) + p.scale / 2 and high >= max(hi, 0.0) - p.scale / 2
    assert dequantize(quantize(np.zeros(1, np.float32), p), p)[0] == 0.0


def test_empty_range_gets_a_positive_scale():
    """An all-zero activation still gets a usable scale (TFLM divides by it)."""
    assert param_from_range(0.0, 0.0) == QuantParam(1.0 / 255.0, 0)


def test_weights_are_symmetric_per_channel():
    """Each output channel uses its own scale max|w|/127 and codes in [-127, 127]."""
    w = np.array([[1.0, -0.5], [0.006, 0.03]], np.float32)
    q, scales = quantize_weights(w, axis=0)
    np.testing.assert_allclose(scales, [1 / 127, 0.03 / 127], rtol=1e-6)
    assert q.tolist() == [[127, -64], [25, 127]]


def test_bias_scale_is_input_times_weight_scale():
    """The int32 bias of channel c is b / (input_scale * weight_scale[c]), rounded."""
    q, scales = quantize_bias(np.array([0.5, -1.0]), 0.1, np.array([0.01, 0.02], np.float32))
    np.testing.assert_allclose(scales, [0.001, 0.002], rtol=1e-6)
    assert q.tolist() == [500, -500]

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


def test_activation_arithmetic_by_hand():
    """scale 0.5, zero point 3: codes -128..127 cover [-65.5, 62]; quantize rounds to nearest and saturates."""
    p = QuantParam(0.5, 3)
    assert p.range == (-65.5, 62.0)
    q = quantize(np.array([-1000.0, -1.26, 0.74, 61.9, 1000.0], np.float32), p)
    assert q.dtype == np.int8 and q.tolist() == [-128, 0, 4, 127, 127]
    real = dequantize(np.array([-128, 3, 127], np.int8), p)
    assert real.dtype == np.float32 and real.tolist() == [-65.5, 0.0, 62.0]


def test_range_by_hand_and_the_empty_range_threshold():
    """[-1, 3]: scale 4/255, zero point round(-128 + 63.75) = -64; all-negative ranges end at code 127; ranges
    narrower than 1e-12 count as empty; non-empty ranges narrower than MIN_RANGE (1e-6) are stretched to it about 0,
    keeping the zero point ([-1e-8, 3e-8] -> [-2.5e-7, 7.5e-7])."""
    import pytest

    p = param_from_range(-1.0, 3.0)
    assert p.scale == 4 / 255 and p.zero_point == -64
    assert param_from_range(-5.1, -1.0) == QuantParam(5.1 / 255, 127)
    assert param_from_range(0.0, 1e-13) == QuantParam(1 / 255, 0)
    assert param_from_range(0.0, 1e-11) == QuantParam(pytest.approx(1e-6 / 255), -128)
    assert param_from_range(-1e-8, 3e-8) == QuantParam(pytest.approx(1e-6 / 255), -64)
    assert param_from_range(0.0, 2e-6) == QuantParam(2e-6 / 255, -128)


def test_union_covers_every_range():
    """(-12.8, 12.7) and (0, 51) -> param_from_range(-12.8, 51): scale 63.8/255, zero point -77."""
    from mcugraph.export.quant_params import union

    p = union([QuantParam(0.1, 0), QuantParam(0.2, -128)])
    assert p.scale == (51.0 - -12.8) / 255 and p.zero_point == -77


def test_tflm_fixed_output_parameters():
    """The output parameters TFLM's int8 SOFTMAX/LOGISTIC (1/256, -128) and TANH (1/128, 0) kernels require."""
    from mcugraph.export.quant_params import FIXED_OUTPUT

    assert FIXED_OUTPUT == {"SOFTMAX": (1 / 256, -128), "LOGISTIC": (1 / 256, -128), "TANH": (1 / 128, 0)}


def test_weight_scales_of_zero_channels_and_other_axes():
    """A zero channel gets scale 1e-8 (never 0); axis 1 takes the max over axis 0; codes stay in [-127, 127]."""
    from mcugraph.export.quant_params import weight_scales

    w = np.array([[0.0, 2.54], [0.0, -1.27]], np.float32)
    np.testing.assert_allclose(weight_scales(w, axis=1), [1e-8, 0.02], rtol=1e-6)
    np.testing.assert_allclose(weight_scales(np.array([-1.27, 0.0], np.float32), axis=0), [0.01, 1e-8], rtol=1e-6)
    q, _ = quantize_weights(np.array([[-1.0, 1.0, -0.5]], np.float32), axis=0)
    assert q.tolist() == [[-127, 127, -64]]


def test_bias_saturates_at_int32():
    """A bias beyond int32 at its scale saturates instead of wrapping around."""
    q, _ = quantize_bias(np.array([1e12, -1e12, 0.0]), 1.0, np.array([1e-3, 1e-3, 1e-3], np.float32))
    assert q.dtype == np.int32 and q.tolist() == [2**31 - 1, -(2**31), 0]


def test_non_finite_ranges_are_refused_and_the_empty_boundary():
    """NaN or infinite ends raise ValueError; a range of exactly 1e-12 is the first non-empty one."""
    import pytest

    for lo, hi in ((0.0, np.inf), (-np.inf, 1.0), (np.nan, 1.0), (0.0, np.nan)):
        with pytest.raises(ValueError, match="must be finite"):
            param_from_range(lo, hi)
    assert param_from_range(0.0, 1e-12) == QuantParam(pytest.approx(1e-6 / 255), -128)


def test_bias_weight_scales_keep_the_int32_bias_within_half_the_range():
    """With the weight scales bias_weight_scales asks for, the int32 bias lands just inside +-2^30 (half the int32
    range, leaving the accumulator room), not at it and not far below it; quantize_weights raises only the scales
    that are too small."""
    from mcugraph.export.quant_params import BIAS_LIMIT, bias_weight_scales

    assert BIAS_LIMIT == 2**30
    bias, input_scale = np.array([1.0, -2.0, 0.0]), 2.0**-30
    need = bias_weight_scales(bias, input_scale)
    assert need.dtype == np.float32
    np.testing.assert_allclose(need, [1.0, 2.0, 0.0], rtol=2e-6)
    assert need[0] > 1.0 and need[1] > 2.0
    q, _ = quantize_bias(bias, input_scale, np.maximum(need, 1e-8))  # (a zero bias needs no scale)
    assert np.all(np.abs(q[:2]) <= 2**30) and np.all(np.abs(q[:2]) >= 0.9999 * 2**30)
    w = np.array([[0.5], [3.0], [1.0]], np.float32)
    _, scales = quantize_weights(w, axis=0, min_scales=need)
    np.testing.assert_allclose(scales, [need[0], need[1], 1.0 / 127], rtol=1e-6)

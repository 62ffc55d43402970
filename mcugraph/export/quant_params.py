"""int8 quantisation parameters as TFLite Micro wants them.

Activations: int8, per-tensor, asymmetric (``real = scale * (q - zero_point)``), the range always containing 0 so
that zero padding and ReLU are exact. Weights: int8, per-channel, symmetric (zero point 0). Biases: int32 at
``input_scale * weight_scale[c]``, zero point 0. These are the TFLite int8 quantisation spec's rules; TFLM's
optimised kernels (CMSIS-NN) assume them.
"""

from __future__ import annotations

import dataclasses

import numpy as np

QMIN, QMAX = -128, 127

# Output parameters TFLM's int8 kernels hard-code (they check them in Prepare and refuse anything else).
FIXED_OUTPUT = {
    "SOFTMAX": (1.0 / 256.0, -128),
    "LOGISTIC": (1.0 / 256.0, -128),
    "TANH": (1.0 / 128.0, 0),
}


@dataclasses.dataclass(frozen=True)
class QuantParam:
    """Per-tensor int8 activation parameters: ``real = scale * (q - zero_point)``."""

    scale: float
    zero_point: int

    @property
    def range(self) -> tuple[float, float]:
        """The real interval the int8 codes cover, (lowest, highest)."""
        return self.scale * (QMIN - self.zero_point), self.scale * (QMAX - self.zero_point)


# The narrowest activation range written: a fused RELU6 quantises 6.0 with the output scale and TFLM refuses the
# model when round(6 / scale) overflows int32, i.e. for ranges below 255 * 6 / 2^31 = 7.1e-7 (a freshly
# initialised deep net calibrates to ~1e-8). Narrower non-empty ranges are widened about 0 to this width.
MIN_RANGE = 1e-6


def param_from_range(lo: float, hi: float) -> QuantParam:
    """Asymmetric int8 parameters covering [lo, hi] widened to include 0 and to at least :data:`MIN_RANGE` (an
    all-zero range gets scale 1/255)."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"quantisation range must be finite, got [{lo}, {hi}]")
    if hi - lo < 1e-12:
        return QuantParam(1.0 / 255.0, 0)
    if hi - lo < MIN_RANGE:
        stretch = MIN_RANGE / (hi - lo)  # keeps where 0 falls, so the zero point stays the same
        lo, hi = lo * stretch, hi * stretch
    scale = (hi - lo) / (QMAX - QMIN)
    zero_point = int(round(QMIN - lo / scale))
    return QuantParam(scale, max(QMIN, min(QMAX, zero_point)))


def union(params: list[QuantParam]) -> QuantParam:
    """One parameter set covering the ranges of all ``params`` (for tensors TFLM needs to share parameters)."""
    ranges = [p.range for p in params]
    return param_from_range(min(r[0] for r in ranges), max(r[1] for r in ranges))


def quantize(x: np.ndarray, param: QuantParam) -> np.ndarray:
    """float -> int8 codes, rounding to nearest and saturating."""
    return np.clip(np.round(x / param.scale) + param.zero_point, QMIN, QMAX).astype(np.int8)


def dequantize(q: np.ndarray, param: QuantParam) -> np.ndarray:
    return ((q.astype(np.float32) - param.zero_point) * param.scale).astype(np.float32)


def weight_scales(w: np.ndarray, axis: int) -> np.ndarray:
    """Symmetric per-channel scales along ``axis``: ``max|w| / 127``; an all-zero channel gets a tiny scale."""
    other = tuple(i for i in range(w.ndim) if i != axis)
    peak = np.max(np.abs(w), axis=other) if other else np.abs(w)
    # A zero scale would divide by zero in TFLM's multiplier computation; any positive scale encodes zeros exactly.
    return np.where(peak > 0, peak / QMAX, 1e-8).astype(np.float32)


def quantize_weights(
    w: np.ndarray, axis: int, min_scales: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(int8 weights, float32 scales per channel along ``axis``), symmetric: codes in [-127, 127]; each scale at
    least ``min_scales`` (see :func:`bias_weight_scales`)."""
    scales = weight_scales(w, axis)
    if min_scales is not None:
        scales = np.maximum(scales, np.asarray(min_scales, np.float32))
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.round(w / scales.reshape(shape)), -QMAX, QMAX).astype(np.int8)
    return q, scales


# Largest |int32 bias| written: half the int32 range, leaving the accumulator room for the products it is added to.
BIAS_LIMIT = 2**30


def bias_weight_scales(bias: np.ndarray, input_scale: float) -> np.ndarray:
    """Per-channel weight scales below which ``bias`` / (input_scale * weight_scale) exceeds :data:`BIAS_LIMIT`."""
    need = np.abs(np.asarray(bias, np.float64)) / (np.float64(input_scale) * BIAS_LIMIT)
    return (need * (1 + 1e-6)).astype(np.float32)  # float32 rounding must not land just below the limit


def quantize_bias(b: np.ndarray, input_scale: float, w_scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int32 bias, its per-channel scales ``input_scale * w_scales``)."""
    with np.errstate(over="ignore"):  # absurd weights overflow to inf here; tflm_limits refuses the result
        scales = (np.float64(input_scale) * w_scales.astype(np.float64)).astype(np.float32)
    q = np.clip(np.round(b.astype(np.float64) / scales), -(2**31), 2**31 - 1).astype(np.int32)
    return q, scales

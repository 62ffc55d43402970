"""Calibration through onnxruntime's calibrators: every runtime value gets a range, and the methods differ."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

import mcugraph
from mcugraph.errors import DataError
from mcugraph.export.calibrate import calibrate, calibrate_ranges
from mcugraph.export.quant_params import QuantParam, param_from_range

MODEL = """
<ir_version: 8, opset_import: ["" : 17]>
g (float[1,4] x) => (float[1,4] y) {
    two = Constant <value = float {2.0}> ()
    s = Mul(x, two)
    y = Relu(s)
}
"""


@pytest.fixture
def model():
    return mcugraph.load(onnx.parser.parse_model(MODEL))


def _samples(n=50, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, 4)).astype(np.float32)
    return {"x": x}


def test_minmax_ranges_are_the_observed_extremes_of_every_value(model):
    """MinMax reports min/max of the input, the intermediate and the (activation) output, and nothing constant."""
    samples = _samples()
    x = samples["x"]
    ranges = calibrate_ranges(model, samples, "minmax", progress=False)
    assert set(ranges) == {"x", "s", "y"}
    np.testing.assert_allclose(ranges["x"], (x.min(), x.max()), rtol=1e-6)
    np.testing.assert_allclose(ranges["s"], (2 * x.min(), 2 * x.max()), rtol=1e-6)
    np.testing.assert_allclose(ranges["y"], (0.0, 2 * x.max()), rtol=1e-6)


def test_percentile_clips_an_outlier_that_minmax_keeps():
    """One outlier among 200,000 values: percentile (99.999%) ignores it, min-max does not."""
    wide = mcugraph.load(onnx.parser.parse_model(MODEL.replace("[1,4]", "[1,1000]")))
    samples = {"x": np.random.default_rng(0).uniform(-1, 1, size=(200, 1000)).astype(np.float32)}
    samples["x"][3, 0] = 1000.0
    minmax = calibrate_ranges(wide, samples, "minmax", progress=False)["x"]
    percentile = calibrate_ranges(wide, samples, "percentile", progress=False)["x"]
    assert minmax[1] == pytest.approx(1000.0) and percentile[1] < 100.0


def test_entropy_gives_a_range_inside_minmax(model):
    """Entropy calibration returns a range no wider than min-max for every value."""
    samples = _samples(100)
    minmax = calibrate_ranges(model, samples, "minmax", progress=False)
    entropy = calibrate_ranges(model, samples, "entropy", progress=False)
    for name, (lo, hi) in entropy.items():
        assert minmax[name][0] - 1e-6 <= lo and hi <= minmax[name][1] + 1e-6


def test_params_are_the_int8_parameters_of_the_calibrated_ranges(model):
    """calibrate() on x in [-1, 3]: values by hand from real = scale * (q - zero_point) over 255 steps.

    x in [-1, 3]: scale 4/255, zero point round(-128 + 1 / (4/255)) = round(-64.25) = -64;
    s = 2x in [-2, 6]: scale 8/255, zero point -64 as well; y = Relu(s) in [0, 6]: scale 6/255, zero point -128.
    """
    samples = {"x": np.array([[-1.0, 3.0, 0.0, 0.5], [2.0, -0.5, 1.0, 0.0]], np.float32)}
    params = calibrate(model, samples, progress=False)
    assert set(params) == {"x", "s", "y"}
    expected = {"x": (4 / 255, -64), "s": (8 / 255, -64), "y": (6 / 255, -128)}
    for name, (scale, zero_point) in expected.items():
        assert params[name].scale == pytest.approx(scale, rel=1e-6), name
        assert params[name].zero_point == zero_point, name


def test_param_from_range_by_hand():
    """A range not containing 0 is widened to it; an empty range gets scale 1/255 and zero point 0."""
    assert param_from_range(0.5, 2.55) == QuantParam(pytest.approx(2.55 / 255), -128)
    assert param_from_range(-5.1, -1.0) == QuantParam(pytest.approx(5.1 / 255), 127)
    assert param_from_range(-2.0, 2.0) == QuantParam(pytest.approx(4 / 255), 0)  # round(-128 + 127.5) = 0 (even)
    assert param_from_range(0.0, 0.0) == QuantParam(1 / 255, 0)


def test_more_samples_than_one_chunk_are_all_seen(model):
    """Samples past the first collect_data chunk still widen the range."""
    samples = _samples(40)
    samples["x"][37, 1] = 50.0
    assert calibrate_ranges(model, samples, progress=False)["x"][1] == pytest.approx(50.0)


def test_progress_bar_on_request(model, capsys):
    """progress=True draws a tqdm bar on stderr."""
    calibrate_ranges(model, _samples(5), progress=True)
    assert "calibrating" in capsys.readouterr().err


def test_unknown_method_is_refused(model):
    """A method onnxruntime does not offer is a DataError listing the choices."""
    with pytest.raises(DataError, match="minmax, percentile, entropy"):
        calibrate_ranges(model, _samples(), "kl")


def test_empty_samples_are_refused(model):
    """Zero samples is a DataError."""
    with pytest.raises(DataError, match="empty"):
        calibrate_ranges(model, {"x": np.zeros((0, 4), np.float32)})


def test_samples_of_the_wrong_shape_are_refused(model):
    """Samples that do not match the input shape are a DataError, not an onnxruntime crash."""
    with pytest.raises(DataError, match=r"\(3, 1, 4\).*\(N, 4\)"):
        calibrate_ranges(model, {"x": np.zeros((3, 1, 4), np.float32)})

"""Calibration data: file formats, layout and dtype rules, errors, and the hold-out split."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

import mcugraph
from mcugraph.errors import DataError, ShapeError
from mcugraph.export.calib_data import load_calib

# 3 channels, 4x5 image: NCHW and NHWC per-sample shapes differ, so the layout rule is observable.
MODEL = """
<ir_version: 8, opset_import: ["" : 17]>
g (float[1,3,4,5] x) => (float[1,3,4,5] y) { y = Relu(x) }
"""


@pytest.fixture
def model():
    return mcugraph.load(onnx.parser.parse_model(MODEL))


def _quiet(_: str) -> None:
    pass


def test_npz_key_x_in_model_layout_is_taken_as_is(tmp_path, model):
    """An npz with key x of shape (N, 3, 4, 5) is used unchanged."""
    x = np.random.default_rng(0).normal(size=(10, 3, 4, 5)).astype(np.float32)
    np.savez(tmp_path / "c.npz", x=x)
    data = load_calib(str(tmp_path / "c.npz"), model)
    np.testing.assert_array_equal(np.concatenate([data.calib["x"], data.holdout["x"]]), x)


def test_nhwc_samples_are_transposed_to_the_model_layout(tmp_path, model):
    """(N, H, W, C) samples for an NCHW model become (N, C, H, W) with the same values."""
    x = np.random.default_rng(0).normal(size=(5, 4, 5, 3)).astype(np.float32)
    np.save(tmp_path / "c.npy", x)
    data = load_calib(str(tmp_path / "c.npy"), model)
    np.testing.assert_array_equal(data.calib["x"], x[:4].transpose(0, 3, 1, 2))


def test_npz_keyed_by_input_name(tmp_path, model):
    """An npz may name the model input instead of using x."""
    np.savez(tmp_path / "c.npz", x_other=np.zeros(1), **{"x": np.ones((2, 3, 4, 5), np.float32)})
    assert load_calib(str(tmp_path / "c.npz"), model).calib_count == 1


def test_missing_key_names_the_keys_found_and_expected(tmp_path, model):
    """An npz without x or the input name is refused, listing what it holds."""
    np.savez(tmp_path / "c.npz", images=np.ones((2, 3, 4, 5), np.float32))
    with pytest.raises(DataError, match=r"keys \['images'\].*'x'"):
        load_calib(str(tmp_path / "c.npz"), model)


def test_wrong_shape_says_expected_and_got(model):
    """Samples of the wrong shape are refused with both shapes in the message."""
    with pytest.raises(ShapeError, match=r"\(7, 3, 4, 4\), expected \(N, 3, 4, 5\) or NHWC \(N, 4, 5, 3\)"):
        load_calib(np.zeros((7, 3, 4, 4), np.float32), model)


def test_integer_samples_are_refused_not_rescaled(model):
    """uint8 images are refused with a hint on scaling them, never silently divided."""
    with pytest.raises(DataError, match="uint8, expected float32"):
        load_calib(np.zeros((2, 3, 4, 5), np.uint8), model)


def test_empty_set_is_refused(model):
    """Zero samples is an error, not an empty calibration."""
    with pytest.raises(DataError, match="empty"):
        load_calib(np.zeros((0, 3, 4, 5), np.float32), model)


def test_unreadable_file_is_one_data_error(tmp_path, model):
    """A file that is not .npy/.npz gives a DataError naming it."""
    path = tmp_path / "c.npz"
    path.write_bytes(b"not numpy at all")
    with pytest.raises(DataError, match="cannot read"):
        load_calib(str(path), model)


def test_nan_samples_are_refused(model):
    """NaN in the samples is refused."""
    x = np.zeros((2, 3, 4, 5), np.float32)
    x[1, 0, 0, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        load_calib(x, model)


def test_random_warns_loudly_and_stays_in_range(model):
    """random:LO,HI,N gives N samples in [LO, HI] and a warning that they are not representative."""
    messages = []
    data = load_calib("random:-2,3,10", model, warn=messages.append)
    both = np.concatenate([data.calib["x"], data.holdout["x"]])
    assert both.shape == (10, 3, 4, 5) and both.min() >= -2 and both.max() <= 3
    assert not data.representative and "NOT representative" in messages[0]


def test_bad_random_spec_is_refused(model):
    """random:HI,LO (reversed) is a DataError."""
    with pytest.raises(DataError, match="random:LO,HI"):
        load_calib("random:3,-2", model, warn=_quiet)


def test_last_fifth_is_held_out_for_verification(model):
    """10 samples: the first 8 calibrate, the last 2 verify."""
    x = np.arange(10, dtype=np.float32)[:, None, None, None] * np.ones((10, 3, 4, 5), np.float32)
    data = load_calib(x, model)
    assert data.calib_count == 8 and data.holdout["x"][:, 0, 0, 0].tolist() == [8.0, 9.0]


def test_single_sample_serves_both_parts(model):
    """One sample calibrates and verifies."""
    data = load_calib(np.ones((1, 3, 4, 5), np.float32), model)
    assert data.calib_count == 1 and data.holdout_count == 1


def test_digits_matches_the_digits_cnn_input():
    """--calib digits feeds the bundled dataset to a (1, 1, 8, 8) model."""
    from tests.conftest import zoo_onnx

    model = mcugraph.load(zoo_onnx("digits_cnn"))
    data = load_calib("digits", model)
    assert data.calib["input"].shape[1:] == (1, 8, 8) and data.calib_count + data.holdout_count == 359


def test_nchw_samples_for_a_tf2onnx_nhwc_model_are_transposed():
    """A tf2onnx-style model takes NHWC (then Transposes to NCHW): (N, C, H, W) samples become (N, H, W, C)."""
    model = mcugraph.load(onnx.parser.parse_model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[1,4,5,3] x) => (float[1,3,4,5] y) { t = Transpose <perm = [0, 3, 1, 2]> (x)  y = Relu(t) }
    """))
    x = np.random.default_rng(0).normal(size=(5, 3, 4, 5)).astype(np.float32)
    data = load_calib(x, model)
    np.testing.assert_array_equal(data.calib["x"], x[:4].transpose(0, 2, 3, 1))

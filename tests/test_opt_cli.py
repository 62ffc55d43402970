"""``mcugraph opt``: writes a verified .tflite and a summary; every bad input is one line, exit 2, no file."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

import mcugraph
from mcugraph.cli.main import main
from mcugraph.tflite.schema import is_tflite
from tests.conftest import zoo_onnx


@pytest.fixture
def digits_onnx(tmp_path):
    path = tmp_path / "digits.onnx"
    onnx.save(zoo_onnx("digits_cnn"), path)
    return path


def _fails_cleanly(capsys, argv, out, match):
    """Exit 2, one stderr line matching ``match``, and no output file."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mcugraph opt: error:"), err
    assert match in err[0], err[0]
    assert not out.exists() and not list(out.parent.glob(f".{out.name}*"))


def test_writes_a_tflite_and_prints_the_summary(tmp_path, digits_onnx, capsys):
    """opt with --calib digits writes a .tflite and a table with the TFLM head, SQNR and top-1 agreement."""
    out = tmp_path / "digits.tflite"
    assert main(["opt", str(digits_onnx), "-o", str(out), "--calib", "digits", "--no-progress"]) == 0
    assert is_tflite(out.read_bytes())
    table = capsys.readouterr().out
    for row in ("flash bytes", "TFLM arena head bytes", "predicted arena bytes", "MACs", "SQNR TFLM / LiteRT",
                "top-1 agreement", "time"):
        assert row in table


def test_json_alone_prints_only_json(tmp_path, digits_onnx, capsys):
    """--json without a file prints the report as JSON on stdout and nothing else."""
    out = tmp_path / "digits.tflite"
    assert main(["opt", str(digits_onnx), "-o", str(out), "--calib", "digits", "--json", "--no-progress"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model"] == "digits" and report["flash_bytes"] == out.stat().st_size


def test_json_file_and_float32(tmp_path, digits_onnx, capsys):
    """--float32 needs no --calib; --json FILE writes the report and still prints the table."""
    out, report = tmp_path / "digits.tflite", tmp_path / "report.json"
    assert main(["opt", str(digits_onnx), "-o", str(out), "--float32", "--json", str(report)]) == 0
    assert json.loads(report.read_text())["dtype"] == "float32"
    assert "flash bytes" in capsys.readouterr().out


def test_random_calibration_warns_on_stderr(tmp_path, digits_onnx, capsys):
    """--calib random:LO,HI prints a warning that the ranges are not representative."""
    out = tmp_path / "digits.tflite"
    assert main(["opt", str(digits_onnx), "-o", str(out), "--calib", "random:0,1", "--no-progress"]) == 0
    assert "NOT representative" in capsys.readouterr().err


def test_unsupported_ops_are_all_listed(tmp_path, capsys):
    """A model with two ops the exporter cannot lower names both, exit 2, no file."""
    model = onnx.parser.parse_model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[1,4] x) => (float[1,4] y) { a = Erf(x)  b = Sin(a)  y = Relu(b) }
    """)
    path = tmp_path / "bad.onnx"
    onnx.save(model, path)
    out = tmp_path / "bad.tflite"
    assert main(["opt", str(path), "-o", str(out), "--float32"]) == 2
    err = capsys.readouterr().err
    assert "Erf" in err and "Sin" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_calibration_data_of_wrong_shape(tmp_path, digits_onnx, capsys):
    """Calibration samples of the wrong shape: expected vs got, exit 2, no file."""
    np.save(tmp_path / "c.npy", np.zeros((4, 1, 9, 9), np.float32))
    out = tmp_path / "d.tflite"
    _fails_cleanly(capsys, ["opt", str(digits_onnx), "-o", str(out), "--calib", str(tmp_path / "c.npy")],
                   out, "expected (N, 1, 8, 8)")


def test_calibration_data_of_wrong_dtype(tmp_path, digits_onnx, capsys):
    """uint8 calibration samples are refused, exit 2, no file."""
    np.save(tmp_path / "c.npy", np.zeros((4, 1, 8, 8), np.uint8))
    out = tmp_path / "d.tflite"
    _fails_cleanly(capsys, ["opt", str(digits_onnx), "-o", str(out), "--calib", str(tmp_path / "c.npy")],
                   out, "uint8, expected float32")


def test_empty_calibration_set(tmp_path, digits_onnx, capsys):
    """An empty calibration file is refused, exit 2, no file."""
    np.savez(tmp_path / "c.npz", x=np.zeros((0, 1, 8, 8), np.float32))
    out = tmp_path / "d.tflite"
    _fails_cleanly(capsys, ["opt", str(digits_onnx), "-o", str(out), "--calib", str(tmp_path / "c.npz")],
                   out, "empty")


def test_verification_failure_writes_nothing(tmp_path, digits_onnx, capsys):
    """Below --verify-min-sqnr: exit 2, the numbers in one line, no file."""
    out = tmp_path / "d.tflite"
    _fails_cleanly(capsys, ["opt", str(digits_onnx), "-o", str(out), "--calib", "digits", "--no-progress",
                            "--verify-min-sqnr", "150"], out, "verification failed")


def test_unknown_pass_in_pipeline(tmp_path, digits_onnx, capsys):
    """--pipeline with an unknown pass lists the known ones, exit 2, no file."""
    out = tmp_path / "d.tflite"
    _fails_cleanly(capsys, ["opt", str(digits_onnx), "-o", str(out), "--float32", "--pipeline", "no-such-pass"],
                   out, "unknown pass 'no-such-pass'")


# Input ranges of the MLPerf Tiny models, from their reference *.int8.tflite input quantisation
# (scale * (q - zero_point) for q in [-128, 127]): KWS MFCC [-123.4, 25.7], VWW [0, 1], IC [0, 255], AD [-84.9, 14.9].
MLPERF = {
    "kws_dscnn": ("random:-123,26,10", 16_000),
    "vww_mobilenetv1": ("random:0,1,10", 55_296),
    "ic_resnet8": ("random:0,255,10", 49_152),
    "ad_autoencoder": ("random:-85,15,10", 768),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MLPERF))
def test_mlperf_tiny_model_exports_within_its_arena_bound(name, shared_models, tmp_path, capsys):
    """opt on each shared MLPerf Tiny ONNX: runs in TFLM and LiteRT, verified, TFLM head within the bound."""
    calib, bound = MLPERF[name]
    out, report = tmp_path / f"{name}.tflite", tmp_path / "r.json"
    argv = ["opt", str(shared_models / f"{name}.onnx"), "-o", str(out), "--calib", calib, "--json", str(report),
            "--no-progress"]
    assert main(argv) == 0, capsys.readouterr().err
    result = json.loads(report.read_text())
    assert result["verification"]["passed"]
    assert result["arena_head_bytes"] <= bound


def test_pipeline_with_remove_channels_verifies_against_the_pruned_model(tmp_path, capsys):
    """`opt --pipeline ...,remove-channels{keep=0.25}` is verified against the pruned model, not the input.

    Against the unpruned input this export measures ~8 dB (below the 10 dB floor); against its own pruned float
    model an int8 export measures > 30 dB.
    """
    model = tmp_path / "digits.onnx"
    model.write_bytes(zoo_onnx("digits_cnn").SerializeToString())
    out = tmp_path / "pruned.tflite"
    pipeline = f"{mcugraph.CANONICALIZE},remove-channels{{keep=0.25}}"
    assert main(["opt", str(model), "-o", str(out), "--calib", "digits", "--pipeline", pipeline, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["verification"]["sqnr_db"] > 30

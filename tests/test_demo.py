"""The README's main job runs end to end on the embedded default."""

from __future__ import annotations

import re

from mcugraph.cli.main import main


def test_demo_writes_onnx_and_accurate_int8_tflite(tmp_path, capsys):
    """`mcugraph demo --no-prune` trains, exports ONNX and an int8 .tflite whose TFLM accuracy is high."""
    assert main(["demo", "-o", str(tmp_path), "--epochs", "4", "--no-prune"]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "digits_cnn.onnx").stat().st_size > 0
    assert (tmp_path / "digits_cnn.int8.tflite").stat().st_size > 0
    accuracy = float(re.search(r"TFLM int8 test accuracy: ([\d.]+) %", out).group(1))
    assert accuracy > 90.0
    head = int(re.search(r"TFLM arena head bytes\s+([\d,]+)", out).group(1).replace(",", ""))
    predicted = int(re.search(r"predicted arena bytes\s+([\d,]+)", out).group(1).replace(",", ""))
    assert head == predicted

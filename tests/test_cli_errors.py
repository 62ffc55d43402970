"""Bad input through the CLI: exit code 2, one line on stderr saying what and where, no traceback, no output file."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from mcugraph.cli.main import main
from mcugraph.registry import known_passes

GOOD = """
<ir_version: 8, opset_import: ["" : 17]>
good (float[N, 2, 4, 4] x) => (float[N, 2, 4, 4] y)
<float[2, 2, 1, 1] w = {1, 0, 0, 1}>
{
    y = Conv(x, w)
}
"""


def fails(argv: list[str], capsys) -> str:
    """Run the CLI, check it failed the user-error way, return its one stderr line."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("mcugraph analyze: error: ")
    return lines[0]


def save(proto: onnx.ModelProto, path) -> str:
    onnx.save(proto, path)
    return str(path)


def test_missing_file(tmp_path, capsys):
    """A path that does not exist is named."""
    line = fails(["analyze", str(tmp_path / "nope.onnx")], capsys)
    assert "nope.onnx: no such file" in line


def test_text_file(tmp_path, capsys):
    """A text file is recognised as text, not reported as a protobuf internal error."""
    path = tmp_path / "notes.onnx"
    path.write_text("these are my notes, not a model\n")
    line = fails(["analyze", str(path)], capsys)
    assert "notes.onnx: is a text file" in line and "not an ONNX model" in line


def test_truncated_real_model(shared_models, tmp_path, capsys):
    """The first half of a real model's bytes is reported as cut short."""
    data = (shared_models / "vww_mobilenetv1.onnx").read_bytes()
    path = tmp_path / "half.onnx"
    path.write_bytes(data[: len(data) // 2])
    line = fails(["analyze", str(path)], capsys)
    assert "half.onnx: looks like an ONNX model cut short" in line and f"{len(data) // 2:,} bytes" in line


def test_two_unsupported_ops_both_listed(tmp_path, capsys):
    """A graph with two bad nodes names both, with their ops, in one line."""
    proto = onnx.parser.parse_model("""
        <ir_version: 8, opset_import: ["" : 17, "com.acme" : 1]>
        g (float[1, 4] x) => (float[1, 4] y) { a = com.acme.Warp(x) b = Relu(a) y = Frobnicate(b) }
    """)
    proto.graph.node[0].name, proto.graph.node[2].name = "warp_1", "frob_2"
    line = fails(["analyze", save(proto, tmp_path / "bad.onnx")], capsys)
    assert "2 node(s)" in line and "warp_1 (com.acme::Warp)" in line and "frob_2 (Frobnicate)" in line
    assert "Relu" not in line


def test_dynamic_non_batch_dimension(tmp_path, capsys):
    """A symbolic height is named with the input, the axis and the flag that fixes it."""
    proto = onnx.parser.parse_model(GOOD.replace("float[N, 2, 4, 4] x", "float[N, 2, height, 4] x"))
    line = fails(["analyze", save(proto, tmp_path / "dyn.onnx")], capsys)
    assert "input 'x' dimension 2 is dynamic ('height')" in line and "--input-shape x=" in line


def test_dynamic_dimension_fixed_on_the_command_line(tmp_path, capsys):
    """The same model analyses once --input-shape gives the dimension."""
    proto = onnx.parser.parse_model(GOOD.replace("float[N, 2, 4, 4] x", "float[N, 2, height, 4] x"))
    assert main(["analyze", save(proto, tmp_path / "dyn.onnx"), "--input-shape", "x=1x2x6x4"]) == 0
    assert f"{6 * 4 * 2 * 2:,} MACs" in capsys.readouterr().out


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_weights(tmp_path, capsys, bad):
    """A NaN/Inf weight names the initializer; a requested --json file is not written."""
    proto = onnx.parser.parse_model(GOOD)
    proto.graph.initializer[0].CopyFrom(
        onnx.numpy_helper.from_array(np.array([1, bad, 0, 1], np.float32).reshape(2, 2, 1, 1), "w"))
    report = tmp_path / "report.json"
    line = fails(["analyze", save(proto, tmp_path / "nan.onnx"), "--json", str(report)], capsys)
    assert "initializer 'w' holds 1 NaN/Inf value(s)" in line
    assert not report.exists()


def test_unknown_pass_lists_known_ones(tmp_path, capsys):
    """An unknown pass in --pipeline is refused with the list of registered passes."""
    path = save(onnx.parser.parse_model(GOOD), tmp_path / "good.onnx")
    line = fails(["analyze", path, "--pipeline", "remove-unused,fold-everything"], capsys)
    assert "unknown pass 'fold-everything'; known passes:" in line
    assert all(name in line for name in known_passes())


def test_bad_input_shape_syntax(tmp_path, capsys):
    """A malformed --input-shape shows the expected form."""
    path = save(onnx.parser.parse_model(GOOD), tmp_path / "good.onnx")
    line = fails(["analyze", path, "--input-shape", "x=1x2xfour"], capsys)
    assert "expected NAME=DxDx..." in line


def test_tflite_given_to_analyze(tmp_path, capsys):
    """A .tflite flatbuffer where ONNX is expected is named as such."""
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(100))
    line = fails(["analyze", str(path)], capsys)
    assert "is a TFLite flatbuffer" in line


def test_input_shape_the_model_cannot_run_with(tmp_path, capfd):
    """An --input-shape a fixed Reshape cannot take: one line naming the node, onnxruntime's log kept quiet."""
    proto = onnx.parser.parse_model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[1, 4, 2, 2] x) => (float[1, 16] y) <int64[2] s = {1, 16}> { y = Reshape(x, s) }
    """)
    line = fails(["analyze", save(proto, tmp_path / "r.onnx"), "--input-shape", "x=1x4x4x4"], capfd)
    assert "cannot run with --input-shape x=1x4x4x4" in line and "Reshape_0" in line

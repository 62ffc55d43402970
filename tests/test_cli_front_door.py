"""What users expect of the CLI: --version, documented exit codes, ``--json -`` on passes, analyze over several models."""

from __future__ import annotations

import json
import subprocess
import sys

import onnx
import pytest

import mcugraph.cli.passes
from mcugraph.cli.main import main
from mcugraph.registry import known_passes


def conv_model(channels: int) -> onnx.ModelProto:
    """A one-Conv model with ``channels`` output channels: MACs and weights grow with it."""
    weights = ", ".join(["0.1"] * (channels * 27))
    return onnx.parser.parse_model(f"""
<ir_version: 8, opset_import: ["" : 17]>
conv{channels} (float[1, 3, 8, 8] x) => (float[1, {channels}, 8, 8] y)
<float[{channels}, 3, 3, 3] w = {{{weights}}}>
{{
    c = Conv<pads = [1, 1, 1, 1]>(x, w)
    y = Relu(c)
}}
""")


@pytest.fixture
def models(tmp_path):
    """A folder with two models of different widths (and a file that is not a model, to be skipped)."""
    folder = tmp_path / "models"
    folder.mkdir()
    for channels in (4, 16):
        onnx.save(conv_model(channels), folder / f"conv{channels}.onnx")
    (folder / "notes.txt").write_text("not a model\n")
    return folder


def test_version(capsys):
    """``mcugraph --version`` prints the installed version and exits 0."""
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    printed = capsys.readouterr().out.split()
    assert printed[0] == "mcugraph" and printed[1][0].isdigit()


def test_help_documents_exit_codes(capsys):
    """--help's epilog lists the exit codes the CLI returns."""
    with pytest.raises(SystemExit):
        main(["--help"])
    epilog = capsys.readouterr().out.split("exit status:")[1]
    for code in ("0", "2", "130", "141"):
        assert f"\n  {code} " in epilog


def test_interrupt_exits_130(monkeypatch, capsys):
    """Ctrl-C during a command is exit code 130 and one line, no traceback."""

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(mcugraph.cli.passes, "run", interrupted)
    assert main(["passes"]) == 130
    assert capsys.readouterr().err == "mcugraph: interrupted\n"


def test_closed_stdout_exits_141_quietly():
    """A reader that stops early (``| head``) ends the command with 141 and no traceback."""
    child = subprocess.Popen([sys.executable, "-m", "mcugraph", "passes", "--json", "-"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child.stdout.close()  # before the child has imported anything: its first write meets a closed pipe
    err = child.stderr.read().decode()
    assert child.wait(timeout=120) == 141
    assert err == ""


def test_passes_json_lists_every_pass(capsys):
    """``passes --json -`` prints only JSON: every registered pass with its options' defaults."""
    assert main(["passes", "--json", "-"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in listing] == list(known_passes())
    by_name = {row["name"]: row for row in listing}
    assert by_name["remove-channels"]["options"] and all(row["summary"] for row in listing)


def test_analyze_json_dash_is_json_only(models, capsys):
    """``analyze M --json -`` (the explicit dash) prints only the report."""
    assert main(["analyze", str(models / "conv4.onnx"), "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "conv4"


def test_analyze_several_models_one_table(models, capsys):
    """Two files give one table, a row each with the same totals the single-model analyze reports."""
    files = [str(models / "conv16.onnx"), str(models / "conv4.onnx")]
    singles = []
    for path in files:
        assert main(["analyze", path, "--json"]) == 0
        singles.append(json.loads(capsys.readouterr().out))
    assert main(["analyze", *files]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["model", "nodes", "MACs"] and "peak SRAM B" in lines[0]
    rows = [line.split() for line in lines[2:]]
    assert [r[0] for r in rows] == ["conv16.onnx", "conv4.onnx"]  # the order given
    for row, single in zip(rows, singles, strict=True):
        assert row[2] == f"{single['macs']:,}" and row[4] == f"{single['weight_bytes']:,}"
        assert row[5] == f"{single['flash_bytes']:,}" and row[6] == f"{single['peak_bytes']:,}"
    assert singles[0]["macs"] == 4 * singles[1]["macs"]


def test_analyze_folder_json_is_a_list(models, capsys):
    """A folder means its .onnx/.tflite files sorted by name; ``--json -`` gives the list of their reports."""
    assert main(["analyze", str(models), "--order", "optimal", "--json", "-"]) == 0
    reports = json.loads(capsys.readouterr().out)
    assert [r["model"] for r in reports] == ["conv16", "conv4"]
    assert all(r["arena_bytes"] >= r["lower_bound_bytes"] > 0 for r in reports)


def test_analyze_several_models_json_file(models, tmp_path, capsys):
    """``--json FILE`` with several models writes the list and still prints the table."""
    out = tmp_path / "all.json"
    assert main(["analyze", str(models), "--json", str(out)]) == 0
    assert "conv4.onnx" in capsys.readouterr().out
    assert len(json.loads(out.read_text())) == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--plot", "m.png"], "--plot is for one model"),
     (["--groups"], "--groups is for one model"),
     (["--bench", "b.json"], "--bench is for one model")],
)
def test_analyze_several_models_refuses_per_model_outputs(models, tmp_path, capsys, extra, message):
    """Options writing one file per model are one-line errors with several models, and nothing is written."""
    assert main(["analyze", str(models), *[str(tmp_path / e) if e.endswith(".png") else e for e in extra]]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m.png").exists()


def test_analyze_empty_folder_is_an_error(tmp_path, capsys):
    """A folder without models is exit 2 naming the folder."""
    assert main(["analyze", str(tmp_path)]) == 2
    assert f"{tmp_path}: the folder holds no .onnx or .tflite file" in capsys.readouterr().err


def test_analyze_bad_model_among_several(models, tmp_path, capsys):
    """One unreadable model among several stops with exit 2 naming that file."""
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    assert main(["analyze", str(models / "conv4.onnx"), str(bad)]) == 2
    assert "bad.onnx" in capsys.readouterr().err


def test_analyze_json_never_overwrites_one_of_several_models(models, capsys):
    """``--json`` naming one of the analysed models is refused before any work (input protection sees every model)."""
    target = models / "conv4.onnx"
    before = target.read_bytes()
    assert main(["analyze", str(models / "conv16.onnx"), str(target), "--json", str(target)]) == 2
    assert target.read_bytes() == before


def test_opt_quiet_turns_the_calibration_bar_off():
    """``opt --quiet`` (like --no-progress) asks for no bar; without it the bar follows the terminal (None)."""
    from mcugraph.cli.main import build_parser
    from mcugraph.cli.opt import options_from_args

    parser = build_parser()
    loud = parser.parse_args(["opt", "m.onnx", "-o", "m.tflite"])
    quiet = parser.parse_args(["opt", "m.onnx", "-o", "m.tflite", "--quiet"])
    assert options_from_args(loud).progress is None and options_from_args(quiet).progress is False


def test_demo_quiet_prints_nothing_on_stderr(tmp_path, capsys, monkeypatch):
    """On a terminal the demo shows progress bars on stderr; ``--quiet`` shows none, and stdout keeps the report."""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # capsys's stderr, seen as a terminal
    assert main(["demo", "-o", str(tmp_path), "--epochs", "1", "--no-prune"]) == 0
    assert capsys.readouterr().err != ""
    assert main(["demo", "-o", str(tmp_path), "--epochs", "1", "--no-prune", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "== mcugraph opt" in captured.out


def test_comparison_marks_missing_figures():
    """A model without memory figures or an exportable file shows '-' where the others have numbers."""
    from mcugraph.analysis.compare import format_comparison
    from mcugraph.analysis.report import Report

    full = Report("a", macs=1000, flash_bytes=2048, params=10, ops=(), weight_bytes=40, peak_bytes=512,
                  arena_bytes=512, lower_bound_bytes=256)
    bare = Report("b", macs=5, flash_bytes=None, params=1, ops=(), weight_bytes=4)
    lines = format_comparison([full, bare], ["a.onnx", "b.onnx"]).splitlines()
    assert lines[2].split() == ["a.onnx", "0", "1,000", "10", "40", "2,048", "512", "512", "256"]
    assert lines[3].split() == ["b.onnx", "0", "5", "1", "4", "-", "-", "-", "-"]
    assert "peak SRAM B" not in format_comparison([bare])

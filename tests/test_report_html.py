"""``mcugraph report`` and ``--html``: the page draws the real arena plan, escapes model names, stands alone."""

from __future__ import annotations

import html
import json
import re

import onnx
import pytest
from patch_models import conv_stack

from mcugraph.analysis.html import render
from mcugraph.cli.main import main
from mcugraph.patch.apply import patch_tflite
from mcugraph.tflite import schema as tfl
from mcugraph.tflite.schedule import schedule_tflite
from tests.conftest import zoo_onnx

WIDE = [("conv", 3, 2, True, 8), ("conv", 1, 1, True, 48), ("dw", 3, 1, True), ("conv", 1, 1, True, 8)]
TITLE = re.compile(r"<title>([^<]*): ([\d,]+) B at offset ([\d,]+)\.\.[\d,]+, steps (\d+)\.\.(\d+) ")


@pytest.fixture(scope="module")
def patched(tmp_path_factory):
    """A 48x40 conv stack, scheduled and patched (its first stage in row tiles), written to a file."""
    path = tmp_path_factory.mktemp("patched") / "patched.tflite"
    data, report = patch_tflite(schedule_tflite(conv_stack(WIDE, hw=(48, 40)))[0], "auto", 0.3)
    assert report.applied
    path.write_bytes(data)
    return path


def _page(tmp_path, *argv) -> str:
    out = tmp_path / "report.html"
    assert main(["report", *map(str, argv), "-o", str(out)]) == 0
    return out.read_text()


def _operators(path) -> int:
    return len(tfl.read(path.read_bytes()).subgraphs[0].operators)


def test_arena_rectangles_are_the_plan(patched, tmp_path):
    """Every tensor of --plan-json is one rectangle titled with its bytes, offset and live steps; nothing else."""
    plan = tmp_path / "plan.json"
    page = _page(tmp_path, patched, "--plan-json", plan)
    want = {(t["name"], t["size"], t["offset"], t["first"], t["last"]) for t in json.loads(plan.read_text())["tensors"]}
    got = {(html.unescape(m[0]), int(m[1].replace(",", "")), int(m[2].replace(",", "")), int(m[3]), int(m[4]))
           for m in TITLE.findall(page)}
    assert got == want and len(want) > 10


def test_timeline_bars_are_analyze_live_bytes(patched, tmp_path, capsys):
    """One timeline bar per operator, each titled with the live bytes analyze --json reports for that operator."""
    page = _page(tmp_path, patched)
    capsys.readouterr()
    assert main(["analyze", str(patched), "--json"]) == 0
    want = [row["live_bytes"] for row in json.loads(capsys.readouterr().out)["ops"]]
    bars = re.findall(r"<title>step (\d+): [^<]*, ([\d,]+) B live</title>", page)
    assert [int(step) for step, _ in bars] == list(range(len(want)))
    assert [int(b.replace(",", "")) for _, b in bars] == want


def test_patched_page_shows_tiles_in_place_reuse_and_the_peak(patched, tmp_path):
    """One table row per operator, the peak operator's row marked, tiles shaded, in-place tensors hatched."""
    page = _page(tmp_path, patched)
    assert page.count('<tr class="op') == _operators(patched)
    peak = re.search(r"peak SRAM, at step ([^<]+)</span>", page).group(1)
    assert re.search(rf'<tr class="op peak"><td class="n">\d+</td><td class="name" title="{re.escape(peak)}"', page)
    assert "tile 0" in page and "tile 1" in page
    assert 'class="tensor shared"' in page and 'fill="url(#hatch)"' in page
    assert "This is the plan embedded in the file" in page


def test_page_stands_alone(patched, tmp_path):
    """No script, stylesheet link, image, font or any URL but the SVG's own hatch pattern."""
    page = _page(tmp_path, patched)
    for needle in ("<script", "<link", "<img", "@import", "@font-face", "http:", "https:", "src="):
        assert needle not in page, needle
    assert set(re.findall(r"url\(([^)]*)\)", page)) == {"#hatch"}


def test_names_from_the_model_are_escaped(tmp_path):
    """A tensor named like markup shows as text: no tag from the file reaches the page."""
    model = tfl.read(conv_stack([("conv", 3, 1, True, 4)], hw=(6, 6)))
    evil = '<img src=x onerror=alert(1)>"&'
    model.subgraphs[0].tensors[model.subgraphs[0].inputs[0]].name = evil.encode()
    path = tmp_path / "evil.tflite"
    path.write_bytes(tfl.pack(model))
    page = _page(tmp_path, path)
    assert "<img" not in page and html.escape(evil) in page


def test_onnx_names_are_escaped(tmp_path):
    """Node and value names of an ONNX model that look like markup reach the page as text only."""
    node = onnx.helper.make_node("Relu", ["x"], ['"><svg onload=alert(1)>'], name="<marquee>relu</marquee>")
    add = onnx.helper.make_node("Add", ['"><svg onload=alert(1)>', "x"], ["y"], name="<blink>add</blink>")
    vi = [onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, [1, 4, 8, 8]) for n in ("x", "y")]
    path = tmp_path / "evil.onnx"
    onnx.save(onnx.helper.make_model(onnx.helper.make_graph([node, add], "g", vi[:1], vi[1:]),
                                     opset_imports=[onnx.helper.make_opsetid("", 17)]), path)
    page = _page(tmp_path, path)
    assert "<marquee" not in page and "<blink" not in page and "<svg onload" not in page
    assert html.escape("<marquee>relu</marquee>") in page and html.escape('"><svg onload=alert(1)>') in page


def test_a_file_without_a_plan_says_what_tflm_would_do(tmp_path):
    """An unscheduled .tflite: the page names TFLM's own greedy arena next to mcugraph's plan."""
    path = tmp_path / "plain.tflite"
    path.write_bytes(conv_stack(WIDE, hw=(16, 12)))
    page = _page(tmp_path, path)
    assert "holds no offline plan" in page and "arena TFLM plans itself" in page


def test_optional_columns_come_from_the_data():
    """A column added to the data (a later on-chip measurement) is a header and a cell per row."""
    data = {
        "model": "m", "source": "m.tflite", "memory": None, "prune": None,
        "totals": {"macs": 10, "weight_bytes": 4, "params": 4, "nodes": 1},
        "flash": {"items": [{"label": "weights + biases", "bytes": 4, "note": ""}], "file_bytes": None,
                  "file_label": ""},
        "columns": [{"key": "name", "title": "name", "numeric": False},
                    {"key": "cycles", "title": "measured cycles", "numeric": True}],
        "ops": [{"name": "0:CONV_2D", "cycles": 123456}],
    }
    page = render(data)
    assert "<th class=\"n\">measured cycles</th>" in page and "<td class=\"n\">123,456</td>" in page


def test_extra_columns_reach_every_row(patched):
    """report_data(extra_columns=...): the column is last, each row gets its value by name, a missing one blank."""
    from mcugraph.analysis.html_data import report_data
    from mcugraph.memory.report import report_from_kernel_graph
    from mcugraph.memory.tflite_graph import kernel_graph_from_tflite

    report = report_from_kernel_graph(kernel_graph_from_tflite(patched.read_bytes()), "p")
    column = {"key": "instructions", "title": "instructions (measured)", "numeric": True}
    values = {row.name: 1000 + i for i, row in enumerate(report.ops[1:])}
    data = report_data(report, source="p.tflite", extra_columns=[(column, values)])
    assert data["columns"][-1] == column
    assert [op["instructions"] for op in data["ops"]] == [None, *values.values()]
    page = render(data)
    assert "instructions (measured)</th>" in page and "not measured: needs a firmware build" in page and f'<td class="n">{1000 + len(values) - 1:,}</td>' in page


def test_runtime_bytes_join_the_flash_bill(patched):
    """A firmware build's runtime size is one more part of the flash bill, with its share."""
    from mcugraph.analysis.html_data import report_data
    from mcugraph.memory.report import report_from_kernel_graph
    from mcugraph.memory.tflite_graph import kernel_graph_from_tflite

    data_bytes = patched.read_bytes()
    report = report_from_kernel_graph(kernel_graph_from_tflite(data_bytes), "p")
    data = report_data(report, source="p.tflite", tflite=data_bytes, runtime_bytes=len(data_bytes))
    page = render(data)
    assert f'<td>TFLM runtime (code)</td><td class="n">{len(data_bytes):,}</td><td class="n">50.0 %</td>' in page


def test_prune_report_widths(patched, tmp_path):
    """--prune-report: a row per prunable group with its widths before and after."""
    prune = tmp_path / "prune.json"
    prune.write_text(json.dumps({
        "groups": [{"id": 0, "before": 32, "after": 8, "prunable": True, "producers": ["conv1"]},
                   {"id": 1, "before": 10, "after": 10, "prunable": False, "producers": ["fc"]}],
        "before": {"ram": 6144, "flash": 56904, "macs": 1}, "after": {"ram": 768, "flash": 3336, "macs": 1},
        "budgets": {"ram": 768},
    }))
    page = _page(tmp_path, patched, "--prune-report", prune)
    assert "Channels before / after pruning" in page
    assert '<td class="n">0</td><td class="n">32</td><td class="n">8</td>' in page and "fc" not in page
    assert "ram 6,144 → 768 (budget 768)" in page


@pytest.mark.parametrize("content, match", [("{not json", "not JSON"), ('{"groups": 3}', "no 'groups' list")])
def test_bad_prune_report_is_one_line_and_no_page(patched, tmp_path, capsys, content, match):
    """A prune report that is not one: exit 2, one stderr line naming the file, no page written."""
    prune, out = tmp_path / "prune.json", tmp_path / "report.html"
    prune.write_text(content)
    assert main(["report", str(patched), "--prune-report", str(prune), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and match in err[0] and str(prune) in err[0]
    assert not out.exists()


def test_onnx_report_and_analyze_html(tmp_path):
    """An ONNX model: drawn in the min-peak order opt exports; analyze --html writes the same kind of page."""
    path = tmp_path / "digits.onnx"
    onnx.save(zoo_onnx("digits_cnn"), path)
    page = _page(tmp_path, path)
    assert "Arena layout" in page and "weights + biases" in page and page.count("<g class=\"tensor") >= 5
    out = tmp_path / "analyze.html"
    assert main(["analyze", str(path), "--html", str(out)]) == 0
    assert "Arena layout" in out.read_text()


def test_opt_html_reports_the_written_tflite(tmp_path):
    """opt --html: the page of the .tflite opt wrote, its file size in the flash bill."""
    path, tflite, out = tmp_path / "digits.onnx", tmp_path / "digits.tflite", tmp_path / "opt.html"
    onnx.save(zoo_onnx("digits_cnn"), path)
    assert main(["opt", str(path), "-o", str(tflite), "--calib", "random:0,1", "--html", str(out)]) == 0
    page = out.read_text()
    assert f"{tflite.stat().st_size:,} B: the .tflite file" in page
    assert page.count('<tr class="op') == _operators(tflite)


def test_opt_prune_html_shows_the_widths(tmp_path):
    """opt --prune --html: the page has the pruned channel groups, before and after."""
    import numpy as np
    import torch

    import mcugraph
    from mcugraph import zoo
    from mcugraph.datasets import digits

    torch.manual_seed(0)
    model, data, out = tmp_path / "small.onnx", tmp_path / "train.npz", tmp_path / "opt.html"
    mcugraph.save(mcugraph.load(zoo.DigitsCNN(width=8).eval(), example_inputs=torch.rand(1, 1, 8, 8)), model)
    split = digits().train
    np.savez(data, x=split.x[:256], y=split.y[:256])
    assert main(["opt", str(model), "-o", str(tmp_path / "p.tflite"), "--prune", "--data", str(data), "--ram", "512",
                 "--epochs", "1", "--calib", "digits", "--no-progress", "--html", str(out)]) == 0
    page = out.read_text()
    assert "Channels before / after pruning" in page
    widths = re.findall(r'<tr><td class="n">\d+</td><td class="n">(\d+)</td><td class="n">(\d+)</td>', page)
    assert widths and all(int(after) <= int(before) for before, after in widths)
    assert any(int(after) < int(before) for before, after in widths)


def test_model_tflm_cannot_run_gets_a_page_without_memory(tmp_path, capsys):
    """Cos/Sin have no TFLM kernel: a warning, a page with the table and no arena; with --order, an error."""
    path = tmp_path / "trig.onnx"
    onnx.save(onnx.parser.parse_model("""
<ir_version: 8, opset_import: ["" : 17]>
g (float[1,8] x) => (float[1,8] y)
{ a = Cos(x)
  y = Sin(a) }
"""), path)
    page = _page(tmp_path, path)
    assert "warning: no memory figures" in capsys.readouterr().err
    assert "Arena layout" not in page and page.count('<tr class="op') == 2
    out = tmp_path / "strict.html"
    assert main(["report", str(path), "--order", "optimal", "-o", str(out)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1 and not out.exists()


@pytest.mark.parametrize("case", ["missing model", "not a model", "output is the input"])
def test_bad_input_is_one_line_and_no_page(tmp_path, capsys, case):
    """Exit 2, one stderr line, no page, for a missing or foreign model and an -o that would replace the input."""
    model, out = tmp_path / "m.tflite", tmp_path / "report.html"
    if case == "not a model":
        model.write_text("hello")
    if case == "output is the input":
        model.write_bytes(conv_stack([("conv", 3, 1, True, 4)], hw=(6, 6)))
        out = model
    assert main(["report", str(model), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mcugraph report: error:"), err
    assert out == model or not out.exists()

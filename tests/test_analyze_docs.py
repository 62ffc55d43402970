"""docs/report-json.md: its example is what analyze really produces, and its tables list every JSON key."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import onnx

import mcugraph
from mcugraph.analysis import OpRow, Report

DOC = (Path(__file__).resolve().parents[1] / "docs" / "report-json.md").read_text()

TINY = f"""
<ir_version: 8, opset_import: ["" : 17]>
tiny (float[1, 3, 8, 8] x) => (float[1, 16, 8, 8] y)
<float[16, 3, 3, 3] w = {{{", ".join(["0.1"] * 432)}}}, float[16] b = {{{", ".join(["0.0"] * 16)}}}>
{{
    c = Conv<pads = [1, 1, 1, 1]>(x, w, b)
    y = Relu(c)
}}
"""


def test_doc_example_is_real_output():
    """The JSON example of the page equals analyze's output for the model it describes."""
    example = json.loads(re.search(r"```json\n(.*?)```", DOC, flags=re.S).group(1))
    proto = onnx.parser.parse_model(TINY)
    proto.graph.node[0].name, proto.graph.node[1].name = "conv", "relu"
    assert mcugraph.analyze(mcugraph.load(proto), name="tiny").to_json() == example


def test_doc_tables_list_every_field():
    """Every Report and OpRow field (and schema_version) has a row in the page's tables."""
    documented = set(re.findall(r"^\| `(\w+)` \|", DOC, flags=re.M))
    fields = {f.name for f in dataclasses.fields(Report)} | {f.name for f in dataclasses.fields(OpRow)}
    assert fields | {"schema_version"} <= documented

"""The Report: totals, the JSON contract (schema_version, None fields omitted) and the table's optional columns."""

from __future__ import annotations

import dataclasses
import json

import onnx

import mcugraph
from mcugraph.analysis import SCHEMA_VERSION, analyze, format_table

MODEL = f"""
<ir_version: 8, opset_import: ["" : 17]>
net (float[1, 2, 4, 4] x) => (float[1, 3] y)
<float[4, 2, 3, 3] w = {{{", ".join(["0.5"] * 72)}}}, float[4] b = {{1, 2, 3, 4}},
 float[3, 64] fw = {{{", ".join(["0.25"] * 192)}}}, int64[2] s = {{1, 64}}>
{{
    c = Conv<pads = [1, 1, 1, 1]>(x, w, b)
    r = Relu(c)
    f = Reshape(r, s)
    y = Gemm<transB = 1>(f, fw)
}}
"""


def report():
    proto = onnx.parser.parse_model(MODEL)
    for i, node in enumerate(proto.graph.node):
        node.name = ["conv", "relu", "flatten", "fc"][i]
    return analyze(mcugraph.load(proto), name="net")


def test_totals_are_hand_counts():
    """Totals: conv 4*4*4*3*3*2 + fc 64*3 MACs; int8 weights + int32 conv bias."""
    r = report()
    assert r.macs == 4 * 4 * 4 * 3 * 3 * 2 + 64 * 3
    assert r.weight_bytes == 4 * 2 * 3 * 3 + 4 * 4 + 3 * 64
    assert r.params == 4 * 2 * 3 * 3 + 4 + 3 * 64
    assert [(row.name, row.op, row.output_shape) for row in r.ops] == [
        ("conv", "Conv", (1, 4, 4, 4)), ("relu", "Relu", (1, 4, 4, 4)),
        ("flatten", "Reshape", (1, 64)), ("fc", "Gemm", (1, 3)),
    ]


def test_float32_report():
    """analyze(dtype="float32") counts 4 bytes per weight and bias element."""
    proto = onnx.parser.parse_model(MODEL)
    assert analyze(mcugraph.load(proto), dtype="float32").weight_bytes == (4 * 2 * 3 * 3 + 4 + 3 * 64) * 4


def test_json_contract_without_memory():
    """The JSON has schema_version, the totals and per-op keys, and no memory keys while they are None."""
    data = report().to_json()
    assert data["schema_version"] == SCHEMA_VERSION == 2
    assert set(data) == {"schema_version", "model", "macs", "flash_bytes", "weight_bytes", "params", "ops"}
    assert data["ops"][0] == {
        "name": "conv", "op": "Conv", "output_shape": [1, 4, 4, 4], "macs": 4 * 4 * 4 * 3 * 3 * 2,
        "weight_bytes": 4 * 2 * 3 * 3 + 4 * 4,
    }
    assert json.loads(json.dumps(data)) == data  # plain JSON types only


def test_json_includes_memory_fields_once_filled():
    """Memory fields filled with dataclasses.replace appear in the JSON, as lists where they are tuples."""
    r = report()
    rows = tuple(dataclasses.replace(row, live_bytes=64, live_tensors=("x", row.name)) for row in r.ops)
    rows = (*rows[:1], dataclasses.replace(rows[1], fused_into="conv"), *rows[2:])
    r = dataclasses.replace(r, ops=rows, peak_bytes=128, arena_bytes=144, lower_bound_bytes=128,
                            order=("conv", "flatten", "fc"))
    data = r.to_json()
    assert (data["peak_bytes"], data["arena_bytes"], data["lower_bound_bytes"]) == (128, 144, 128)
    assert data["order"] == ["conv", "flatten", "fc"]
    assert data["ops"][1]["fused_into"] == "conv" and "fused_into" not in data["ops"][0]
    assert data["ops"][0]["live_tensors"] == ["x", "conv"]


def test_table_lists_every_node_and_totals():
    """The table has one line per node and a totals line with thousands separators."""
    text = format_table(report())
    r = report()
    macs, weights, params = 4 * 4 * 4 * 3 * 3 * 2 + 64 * 3, 4 * 2 * 3 * 3 + 4 * 4 + 3 * 64, 4 * 2 * 3 * 3 + 4 + 3 * 64
    assert r.flash_bytes > weights
    assert (f"net: {macs:,} MACs, {r.flash_bytes:,} B flash (.tflite) of which {weights} B weights + biases, "
            f"{params} params, 4 nodes") in text
    assert "1,344 MACs" in text
    assert all(name in text for name in ("conv", "relu", "flatten", "fc"))
    assert "live B" not in text and "peak SRAM" not in text


def test_table_shows_memory_columns_when_filled():
    """Memory columns and the peak line appear once mcugraph.memory filled them."""
    r = report()
    r = dataclasses.replace(r, ops=tuple(dataclasses.replace(row, live_bytes=1024) for row in r.ops), peak_bytes=2048)
    text = format_table(r)
    assert "live B" in text and "1,024" in text and "peak SRAM 2,048 B" in text


def test_table_shortens_long_names():
    """Node names and fused-into names longer than 48 characters keep their distinctive end."""
    r = report()
    long_name = "functional_1/" * 10 + "conv2d_4/Conv2D"
    rows = (dataclasses.replace(r.ops[0], name=long_name), dataclasses.replace(r.ops[1], fused_into=long_name))
    lines = format_table(dataclasses.replace(r, ops=(*rows, *r.ops[2:]))).splitlines()
    assert lines[2].startswith("...") and "conv2d_4/Conv2D" in lines[2] and long_name not in lines[2]
    assert lines[3].endswith("/functional_1/conv2d_4/Conv2D") and "  ..." in lines[3] and long_name not in lines[3]


def test_plot_draws_extra_panels(tmp_path):
    """plot_report calls each extra panel with its own axes and the report, below the two cost panels."""
    from mcugraph.analysis.plot import plot_report

    seen = []
    plot_report(report(), tmp_path / "r.svg", extra_panels=[lambda ax, rep: seen.append((ax, rep.model))])
    assert len(seen) == 1 and seen[0][1] == "net"
    assert (tmp_path / "r.svg").read_text().lstrip().startswith("<?xml")

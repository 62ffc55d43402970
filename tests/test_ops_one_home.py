"""One home per fact: every list of element-wise ops and weighted layers is the op table's derived set, so a new
row of the table (``mcugraph/ops/table.py``) is all an op needs to be seen by each of them."""

from __future__ import annotations

import dataclasses

from mcugraph.analysis import costs
from mcugraph.export import layout
from mcugraph.ops import table
from mcugraph.ops.table import BINARY, OPS, PER_CHANNEL_PARAMS, UNARY, ops_where
from mcugraph.passes import conv1d_to_2d, fold_bn
from mcugraph.patch import geometry
from mcugraph.prune import gates, resources, scratch


def test_elementwise_consumers_read_the_table():
    """The exporter's layout-free ops and conv1d-to-2d's element-wise ops are the table's rows of those kinds."""
    assert layout._ANY_LAYOUT == ops_where(lambda f: f.elementwise in (UNARY, BINARY) and f.exported) | {"Reciprocal"}
    assert conv1d_to_2d._ELEMENTWISE == ops_where(lambda f: f.elementwise in (UNARY, BINARY, PER_CHANNEL_PARAMS))
    assert {"PRelu", "BatchNormalization"} <= conv1d_to_2d._ELEMENTWISE - layout._ANY_LAYOUT


def test_weighted_layer_consumers_read_the_table():
    """Gates, fold-bn, the cost model's bias owners and from-scratch training see the table's weighted layers."""
    layers = ops_where(lambda f: f.weight_out_axis is not None)
    assert layers == {"Conv", "ConvTranspose", "Gemm", "MatMul"}
    assert costs._LAYERS_WITH_BIAS == layers and scratch.LEARNED == layers
    assert fold_bn._FOLDABLE == set(gates.FOLDABLE_PRODUCERS) == layers - {"MatMul"}  # MatMul has no bias input
    assert gates.FOLDABLE_PRODUCERS == {"Conv": 0, "ConvTranspose": 1, "Gemm": 0}
    assert resources._OUT_CHANNEL_AXIS == {"Conv": 1, "ConvTranspose": 1, "Gemm": -1, "MatMul": -1}


def test_a_new_row_is_enough(monkeypatch):
    """A row added to the table is element-wise / a weighted layer for every predicate the consumers use."""
    rows = dict(OPS)
    rows["MyAct"] = table.OpFacts(("RELU",), "lower_elementwise.relu", elementwise=UNARY,
                                  channels=table.PER_CHANNEL)
    rows["MyConv"] = table.OpFacts(("CONV_2D",), "lower_conv.conv", weight_out_axis=0, channels=table.CONV,
                                   weights={1: table.WEIGHT, 2: table.BIAS})
    monkeypatch.setattr(table, "OPS", rows)
    assert "MyAct" in ops_where(lambda f: f.layout_free) and "MyAct" in ops_where(lambda f: f.elementwise is not None)
    assert "MyConv" in ops_where(lambda f: f.layer) and "MyConv" in ops_where(lambda f: f.foldable)
    assert not dataclasses.replace(rows["MyConv"], weights={1: table.WEIGHT}).foldable  # no bias: nothing to fold into


def test_patch_geometry_tiles_every_elementwise_kernel():
    """geometry is keyed by TFLite builtins (it also reads converter builtins no row writes), but every builtin of
    an exported element-wise row is tileable there; the exceptions are named here."""
    not_a_row_op = {"RESHAPE", "CAST", "DIV"}  # Identity/Dropout's graph-output copy; Cast: not exported; DIV: binary
    unary = {b for op in ops_where(lambda f: f.elementwise == UNARY) for b in OPS[op].builtins}
    binary = {b for op in ops_where(lambda f: f.elementwise == BINARY) for b in OPS[op].builtins}
    assert unary - not_a_row_op <= geometry.POINTWISE
    assert binary <= geometry.ELEMENTWISE and "DIV" in geometry.ELEMENTWISE


def test_the_kernel_view_does_not_import_the_exporter():
    """The padding facts sit below both packages: mcugraph.memory.kernel_view imports nothing from mcugraph.export."""
    import ast
    import inspect

    from mcugraph.memory import kernel_view

    tree = ast.parse(inspect.getsource(kernel_view))
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert imported and not [m for m in imported if m and m.startswith("mcugraph.export")]


def test_pruning_prices_and_probes_one_plan(monkeypatch):
    """prune's exact check plans the pruned model once, and the TFLM probe exports that plan's order."""
    import mcugraph.memory.min_peak as min_peak
    from mcugraph.prune import api, probe

    calls, exported = [], []
    real_plan = min_peak.plan_min_peak
    monkeypatch.setattr(min_peak, "plan_min_peak", lambda *a, **k: calls.append(a) or real_plan(*a, **k))
    import mcugraph.export.writer as writer

    real_export = writer.export_tflite
    monkeypatch.setattr(writer, "export_tflite", lambda m, **k: exported.append(k["order"]) or real_export(m, **k))
    model = _tiny_conv_model()

    class Gates:
        alive, groups = {}, {}

    pruned, resources = api._apply(model, None, Gates(), check=True)
    assert len(calls) == 1 and exported and set(exported) == {resources["order"]}  # the flash model and the probe
    assert resources["ram"] == max(resources["predicted_ram"], probe.tflm_arena_head(pruned))


def _tiny_conv_model():
    import numpy as np
    import onnx
    from onnx import helper

    import mcugraph

    w = helper.make_tensor("w", onnx.TensorProto.FLOAT, (4, 2, 3, 3), np.ones(4 * 2 * 9, np.float32) * 0.1)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c"], ["y"])],
        "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, (1, 2, 8, 8))],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, (1, 4, 8, 8))], [w])
    return mcugraph.load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]))

"""Flash = the .tflite as written: the exporter's lean file, its replayable layout, the prediction analyze and prune
use (mcugraph.analysis.flash, mcugraph.tflite.file_layout, the flash part of mcugraph.prune.resources)."""

from __future__ import annotations

import numpy as np
import pytest
from export_check import check_export, one_node, weights

import mcugraph
from mcugraph.analysis.flash import (
    check_flash_prediction,
    export_structure,
    file_breakdown,
    predicted_flash_bytes,
)
from mcugraph.errors import ExportError
from mcugraph.prune.api import apply_keep, exact_resources, unshare_initializers
from mcugraph.prune.channel_groups import channel_groups
from mcugraph.prune.gates import gateable_groups
from mcugraph.prune.resources import resource_model
from mcugraph.tflite.file_layout import pack_traced
from mcugraph.tflite.schema import read, schema


def zoo_model(name: str):
    """A canonicalised zoo model, initializers unshared as prune does."""
    from mcugraph import zoo

    module, example = zoo.build(name)
    model = mcugraph.run_pipeline(mcugraph.load(module, example_inputs=example), mcugraph.CANONICALIZE).model
    return unshare_initializers(model)


def test_layout_replays_other_buffer_lengths_byte_for_byte():
    """FileLayout.size with new lengths equals packing the model with buffers and arrays of those lengths."""
    model = zoo_model("digits_cnn")
    tflite = read(export_structure(model).data)
    tensors = tflite.subgraphs[0].tensors
    constant = [i for i, t in enumerate(tensors) if t.buffer and tflite.buffers[t.buffer].data is not None]
    per_channel = [i for i in constant if tensors[i].quantization is not None and len(tensors[i].quantization.scale) > 1]
    buffers = {tensors[i].buffer: ("buffer", tensors[i].buffer) for i in constant}
    marked = {id(tensors[i].quantization.scale): ("scale", i) for i in per_channel}
    _, layout = pack_traced(tflite, marked, buffers)
    rng = np.random.default_rng(0)
    for _ in range(20):
        lengths = {}
        for i in constant:
            b = tensors[i].buffer
            n = int(rng.integers(1, 200))
            tflite.buffers[b].data = np.zeros(n, np.uint8)
            lengths[("buffer", b)] = n
        for i in per_channel:
            n = int(rng.integers(1, 40))
            q = tensors[i].quantization
            q.scale = np.ones(n, np.float32)
            lengths[("scale", i)] = 4 * n
        marked = {id(tensors[i].quantization.scale): ("scale", i) for i in per_channel}
        data, _ = pack_traced(tflite, marked, buffers)
        assert layout.size(lengths) == len(data)


def test_layout_replay_is_not_the_recorded_size():
    """The replay depends on the lengths (a layout that ignored them would pass the test above only by chance)."""
    model = zoo_model("digits_cnn")
    layout = export_structure(model).layout
    key = next(k for k in layout.lengths if k[0] == "buffer")
    assert layout.size({key: layout.lengths[key] + 100}) > layout.size()


@pytest.mark.parametrize("name", ["digits_cnn", "inception", "densenet", "mobilenetv2", "resnet"])
def test_prune_flash_is_the_pruned_file_at_every_width(name):
    """The pruning model's flash at whole channel counts equals len() of the pruned model's export (same order)."""
    model = zoo_model(name)
    groups = channel_groups(model)
    order = exact_resources(model)["order"]
    rmodel = resource_model(model, groups, order)
    gated = gateable_groups(model, groups)
    assert float(rmodel.evaluate()["flash"]) == predicted_flash_bytes(model, order=order)
    rng = np.random.default_rng(1)
    # One channel makes a depthwise conv an ordinary one (CONV_2D, another options table): MobileNetV2 from 2.
    low = 2 if name == "mobilenetv2" else 1
    widths = [{g.id: low for g in gated}]
    widths += [{g.id: int(rng.integers(low, g.size + 1)) for g in gated} for _ in range(4)]
    for counts in widths:
        pruned = apply_keep(model, {gid: tuple(range(n)) for gid, n in counts.items()})
        # Kernel names stay the same when channels go, so the unpruned order is an order of the pruned model.
        assert float(rmodel.evaluate(counts)["flash"]) == predicted_flash_bytes(pruned, order=order), counts


def test_prune_flash_gradient_is_the_vectors_bytes():
    """d flash / d count of a conv's output group: its weights, bias and per-channel arrays per channel."""
    import torch

    model = zoo_model("digits_cnn")
    groups = channel_groups(model)
    rmodel = resource_model(model, groups, exact_resources(model)["order"])
    first = groups[0]
    counts = {g.id: torch.tensor(float(g.size), dtype=torch.float64, requires_grad=True) for g in groups}
    rmodel.evaluate(counts)["flash"].backward()
    exact = {g.id: float(g.size) for g in groups}
    smaller = {**exact, first.id: exact[first.id] - 1}
    step = float(rmodel.evaluate(exact)["flash"] - rmodel.evaluate(smaller)["flash"])
    assert abs(float(counts[first.id].grad) - step) < 16  # equal but for one alignment step


def test_digits_pruned_opt_file_is_the_prune_prediction():
    """At the demo's widths the pruned model's opt file (own min-peak order, calibrated) has the predicted size."""
    model = zoo_model("digits_cnn")
    groups = channel_groups(model)
    rmodel = resource_model(model, groups, exact_resources(model)["order"])
    counts = {g.id: n for g, n in zip(gateable_groups(model, groups), (4, 8, 34), strict=True)}
    pruned = apply_keep(model, {gid: tuple(range(n)) for gid, n in counts.items()})
    result = mcugraph.optimize(pruned, calib="random:0,1", verify=False, warn=lambda message: None)
    assert float(rmodel.evaluate(counts)["flash"]) == len(result.tflite) == result.report["flash_bytes"]


def test_flash_check_refuses_a_wrong_prediction():
    """check_flash_prediction raises ExportError when the file is not the predicted size."""
    check_flash_prediction(10, b"x" * 10)
    with pytest.raises(ExportError, match="predicted 9 B of flash"):
        check_flash_prediction(9, b"x" * 10)


def test_weight_and_bias_share_one_zero_point_array():
    """A conv's int8 weights and int32 bias point to one zero-point vector; TFLM and LiteRT run it."""
    model = one_node("Conv", {"x": (1, 3, 6, 6)}, {"w": weights(5, 3, 3, 3), "b": weights(5, seed=1)},
                     pads=[1, 1, 1, 1])
    result = check_export(model, int8=True)
    root = schema.Model.GetRootAs(result.data, 0)
    sub = root.Subgraphs(0)
    op = sub.Operators(0)
    w, b = (sub.Tensors(op.Inputs(i)).Quantization() for i in (1, 2))
    assert w.ZeroPointLength() == b.ZeroPointLength() == 5
    assert w._tab.Vector(w._tab.Offset(10)) == b._tab.Vector(b._tab.Offset(10))
    assert w._tab.Vector(w._tab.Offset(8)) != b._tab.Vector(b._tab.Offset(8))  # scales differ


def test_keep_names_writes_the_names_and_costs_their_bytes():
    """keep_names adds the tensor names; the lean file is smaller by at least their bytes."""
    model = zoo_model("digits_cnn")
    lean, named = (export_structure(model, keep_names=k) for k in (False, True))
    assert [t.name for t in read(lean.data).subgraphs[0].tensors] == [None] * len(lean.tensor_names)
    names = [t.name.decode() for t in read(named.data).subgraphs[0].tensors]
    assert names == list(named.tensor_names) == list(lean.tensor_names)
    assert len(named.data) - len(lean.data) >= sum(len(n) + 1 for n in names)


def test_file_breakdown_adds_up():
    """weights + overhead = file; the named parts of the overhead are inside it."""
    data = export_structure(zoo_model("digits_cnn")).data
    parts = file_breakdown(data)
    assert parts["file_bytes"] == len(data) == parts["weight_bytes"] + parts["overhead_bytes"]
    assert parts["other_bytes"] > 0 and parts["quantization_bytes"] > 0
    assert parts["metadata_bytes"] > 0  # the offline plan


def test_analyze_of_a_tflite_reports_its_length(tmp_path, capsys):
    """`mcugraph analyze FILE.tflite --json`: flash_bytes is the file's length, weight_bytes its constants."""
    import json

    from mcugraph.cli.main import main

    data = export_structure(zoo_model("digits_cnn")).data
    path = tmp_path / "m.tflite"
    path.write_bytes(data)
    assert main(["analyze", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["flash_bytes"] == len(data)
    assert 0 < report["weight_bytes"] < len(data)


def test_opt_keep_names_is_off_by_default_and_says_so(capsys):
    """`opt --help` names --keep-names and its default; optimize writes names only when asked."""
    from mcugraph import zoo
    from mcugraph.cli.main import main

    with pytest.raises(SystemExit):
        main(["opt", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--keep-names" in help_text and "(default: left out;" in help_text
    source = zoo.onnx_model("digits_cnn")
    quiet = {"calib": "random:0,1", "verify": False, "warn": lambda message: None}
    lean = read(mcugraph.optimize(source, **quiet).tflite).subgraphs[0].tensors
    named = read(mcugraph.optimize(source, keep_names=True, **quiet).tflite).subgraphs[0].tensors
    assert all(t.name is None for t in lean) and all(t.name for t in named)


def test_analyze_of_an_unexportable_model_says_why_there_is_no_flash():
    """An op the exporter refuses: no flash_bytes (absent from the JSON), flash_note names the node."""
    report = mcugraph.analyze(one_node("Hardmax", {"x": (1, 4)}))
    assert report.flash_bytes is None and "hardmax0" in report.flash_note
    assert "flash_bytes" not in report.to_json() and report.to_json()["weight_bytes"] == 0

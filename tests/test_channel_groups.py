"""channel_groups: which channels must go together, across residuals, concats, depthwise convs and flattens."""

from __future__ import annotations

import numpy as np
import onnx
import onnx.parser
import onnx_ir as ir
import pytest
import torch
import torch.nn.functional as F
from conftest import MLPERF, zoo_canonical, zoo_onnx
from torch import nn

import mcugraph
from mcugraph.prune.channel_groups import ChannelUse, channel_groups, format_groups

canonical = zoo_canonical


def group_of(groups, producer: str):
    return next(g for g in groups if producer in g.producers)


def test_resnet_residual_add_shares_one_group():
    """The stem conv and the first block's last conv feed one Add: one group with both producers."""
    groups = channel_groups(canonical("resnet"))
    stem = group_of(groups, "/stem/stem.0/Conv")
    assert stem.prunable and stem.size == 8
    assert "/layers/layers.0/body/body.1/body.1.0/Conv" in stem.producers
    assert any(use.tensor.endswith("Add_output_0") for use in stem.activations)


def test_resnet_projection_shortcut_joins_the_body():
    """A strided block's shortcut conv and body conv produce the same group (they are added)."""
    groups = channel_groups(canonical("resnet"))
    group = group_of(groups, "/layers/layers.1/shortcut/shortcut.0/Conv")
    assert set(group.producers) == {"/layers/layers.1/shortcut/shortcut.0/Conv",
                                    "/layers/layers.1/body/body.1/body.1.0/Conv"}
    assert group.size == 16


def test_inception_concat_carries_four_groups_at_offsets():
    """The first inception block's Concat output holds its four branch groups at offsets 0, 8, 16, 20."""
    model = canonical("inception")
    concat = next(n for n in model.graph if n.op_type == "Concat").outputs[0].name
    groups = channel_groups(model)
    placed = sorted((u.offset, g.size, g.producers) for g in groups for u in g.activations if u.tensor == concat)
    assert [(offset, size) for offset, size, _ in placed] == [(0, 8), (8, 8), (16, 4), (20, 4)]
    assert all(g.prunable for g in groups if any(u.tensor == concat for u in g.activations))


def test_concat_consumer_weight_is_sliced_at_each_offset():
    """A conv after a Concat has an input-axis weight use per branch, at that branch's offset."""
    model = canonical("inception")
    consumer = next(n for n in model.graph if n.name == "/block2/b1/b1.0/Conv")
    weight = consumer.inputs[1].name
    uses = sorted(u.offset for g in channel_groups(model) for u in g.weights if u.tensor == weight and u.axis == 1)
    assert uses == [0, 8, 16, 20]


def test_densenet_stem_group_runs_through_every_concat():
    """DenseNet's stem channels sit at offset 0 of every Concat of the first dense block."""
    model = canonical("densenet")
    stem = group_of(channel_groups(model), "/features/features.0/features.0.0/Conv")
    concats = [n.outputs[0].name for n in model.graph if n.op_type == "Concat"][:3]
    assert {u.tensor: u.offset for u in stem.activations if u.tensor in concats} == dict.fromkeys(concats, 0)


def test_depthwise_conv_joins_its_input_group():
    """MobileNetV2's depthwise conv slices its weight and bias on axis 0 within the expansion conv's group."""
    model = canonical("mobilenetv2")
    depthwise = next(n for n in model.graph if n.op_type == "Conv" and n.attributes["group"].value > 1)
    expand = depthwise.inputs[0].producer()
    while expand.op_type != "Conv":
        expand = expand.inputs[0].producer()
    group = group_of(channel_groups(model), expand.name)
    assert depthwise.name in group.depthwise
    assert ChannelUse(depthwise.inputs[1].name, 0) in group.weights
    assert ChannelUse(depthwise.inputs[2].name, 0) in group.weights
    assert depthwise.name not in group.producers


def test_graph_input_and_output_groups_are_not_prunable():
    """The input's channels and the classifier's outputs may never be removed."""
    model = canonical("digits_cnn")
    groups = channel_groups(model)
    gemm = next(n for n in model.graph if n.op_type == "Gemm")
    assert not group_of(groups, gemm.name).prunable
    assert not next(g for g in groups if any(u.tensor == "input" for u in g.activations)).prunable
    assert [g.prunable for g in groups].count(True) == 3


class _FlattenNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 3 * 3, 5)
        self.out = nn.Linear(5, 2)

    def forward(self, x):
        return self.out(torch.relu(self.fc(torch.flatten(torch.relu(self.conv(x)), 1))))


def flatten_net() -> ir.Model:
    torch.manual_seed(0)
    model = mcugraph.load(_FlattenNet().eval(), example_inputs=torch.rand(1, 2, 3, 3))
    return mcugraph.run_pipeline(model, mcugraph.CANONICALIZE).model


def test_flatten_maps_a_channel_to_a_block_of_gemm_inputs():
    """Conv -> Flatten -> Gemm: each conv channel is a block of H*W=9 Gemm inputs; the Reshape target shrinks."""
    model = flatten_net()
    conv = next(n for n in model.graph if n.op_type == "Conv")
    gemm = next(n for n in model.graph if n.op_type == "Gemm")
    reshape = next(n for n in model.graph if n.op_type == "Reshape")
    group = group_of(channel_groups(model), conv.name)
    assert group.prunable
    assert ChannelUse(gemm.inputs[1].name, axis=1, offset=0, block=9) in group.weights
    assert group.shapes == (ChannelUse(reshape.inputs[1].name, axis=1, offset=0, block=9),)


def test_gemm_feeding_a_gemm_is_a_prunable_group():
    """A hidden fully connected layer's features are a group: its rows and the next Gemm's columns."""
    model = flatten_net()
    first, second = [n for n in model.graph if n.op_type == "Gemm"]
    group = group_of(channel_groups(model), first.name)
    assert group.prunable and group.size == 5
    assert ChannelUse(second.inputs[1].name, axis=1) in group.weights


class MixedNet(nn.Module):
    """Squeeze-excite Mul, Pad, nearest Resize, Slice + Concat along H, PReLU, LeakyReLU, Flatten -> Gemm."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.se1, self.se2 = nn.Conv2d(6, 3, 1), nn.Conv2d(3, 6, 1)
        self.prelu = nn.PReLU(6)
        self.conv2 = nn.Conv2d(6, 4, 3)
        self.fc = nn.Linear(4 * 18 * 18, 3)

    def forward(self, x):
        y = F.hardswish(self.conv1(x))
        y = y * torch.sigmoid(self.se2(torch.relu(self.se1(y.mean((2, 3), keepdim=True)))))
        y = F.interpolate(F.pad(y, (1, 1, 1, 1)), scale_factor=2, mode="nearest")
        y = self.prelu(torch.cat([y[:, :, 4:], y[:, :, :4]], dim=2))
        return self.fc(torch.flatten(F.leaky_relu(self.conv2(y), 0.1), 1))


def mixed_net() -> ir.Model:
    torch.manual_seed(0)
    model = mcugraph.load(MixedNet().eval(), example_inputs=torch.rand(1, 3, 8, 8))
    return mcugraph.run_pipeline(model, mcugraph.CANONICALIZE).model


def test_squeeze_excite_and_spatial_ops_keep_one_group():
    """SE's Mul joins conv1 and se2; Pad, Resize, Slice/Concat along H and PReLU carry that group unchanged."""
    model = mixed_net()
    group = group_of(channel_groups(model), "/conv1/Conv")
    assert group.prunable and set(group.producers) == {"/conv1/Conv", "/se2/Conv"}
    carried = {n.op_type for n in model.graph for v in n.outputs if any(u.tensor == v.name for u in group.activations)}
    assert {"Mul", "Pad", "Resize", "Slice", "Concat", "PRelu"} <= carried
    prelu = next(n for n in model.graph if n.op_type == "PRelu")
    assert ChannelUse(prelu.inputs[1].name, axis=0) in group.weights


def test_unknown_op_makes_its_groups_unprunable():
    """A cross-channel op mcugraph does not model (LRN) freezes the group it reads."""
    model = mcugraph.load(onnx.parser.parse_model(
        """<ir_version: 8, opset_import: ["" : 17]> g (float[1,2,5,5] x) => (float[1,3,5,5] y) {
        w1 = Constant<value = float[4,2,1,1] {1,2,3,4,5,6,7,8}>()  a = Conv(x, w1)  b = LRN<size=3>(a)
        w2 = Constant<value = float[3,4,1,1] {1,2,3,4,5,6,7,8,9,10,11,12}>()  y = Conv(b, w2) }"""))
    model = mcugraph.run_pipeline(model, mcugraph.CANONICALIZE).model
    assert [n.op_type for n in model.graph] == ["Conv", "LRN", "Conv"]
    first = next(iter(model.graph)).name or "#0"
    assert not group_of(channel_groups(model), first).prunable


def test_shared_weight_makes_its_groups_unprunable():
    """An initializer used by two convs cannot be sliced for one of them: both groups are frozen."""
    h = onnx.helper
    graph = h.make_graph(
        [h.make_node("Conv", ["x", "w"], ["a"]), h.make_node("Conv", ["x", "w"], ["b"]),
         h.make_node("Relu", ["a"], ["c"]), h.make_node("Relu", ["b"], ["d"]),
         h.make_node("Concat", ["c", "d"], ["e"], axis=1),
         h.make_node("Conv", ["e", "w2"], ["y"])], "g",
        [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 2, 5, 5])],
        [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 1, 5, 5])],
        [onnx.numpy_helper.from_array(np.ones((2, 2, 1, 1), np.float32), "w"),
         onnx.numpy_helper.from_array(np.ones((1, 4, 1, 1), np.float32), "w2")],
    )
    groups = channel_groups(mcugraph.load(h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])))
    conv_groups = [g for g in groups if g.producers and g.size == 2]
    assert len(conv_groups) == 2 and not any(g.prunable for g in conv_groups)


def test_add_with_per_channel_constant_is_a_weight_use():
    """A per-channel constant added to a conv output is sliced with the conv's group on its channel axis."""
    model = mcugraph.load(onnx.parser.parse_model(
        """<ir_version: 8, opset_import: ["" : 17]> g (float[1,2,5,5] x) => (float[1,3,5,5] y) {
        w1 = Constant<value = float[4,2,1,1] {1,2,3,4,5,6,7,8}>()  a = Conv(x, w1)
        k = Constant<value = float[4,1,1] {1,2,3,4}>()  b = Mul(a, k)
        w2 = Constant<value = float[3,4,1,1] {1,2,3,4,5,6,7,8,9,10,11,12}>()  y = Conv(b, w2) }"""))
    model = mcugraph.run_pipeline(model, "fold-constants").model
    mul = next(n for n in model.graph if n.op_type == "Mul")
    group = group_of(channel_groups(model), next(iter(model.graph)).name or "#0")
    assert group.prunable
    assert ChannelUse(mul.inputs[1].name, axis=0) in group.weights


@pytest.mark.parametrize("name", MLPERF)
def test_shared_models_have_sane_groups(shared_models, name):
    """On the MLPerf models every prunable group has a producer and the classifier/decoder output is frozen."""
    model = mcugraph.run_pipeline(mcugraph.load(shared_models / f"{name}.onnx"), mcugraph.CANONICALIZE).model
    groups = channel_groups(model)
    assert any(g.prunable for g in groups)
    assert all(g.producers for g in groups if g.prunable)
    outputs = {v.name for v in model.graph.outputs}
    assert not any(g.prunable for g in groups if any(u.tensor in outputs for u in g.activations))


def test_format_groups_lists_every_group():
    """The --groups table has a row per group and a summary line."""
    groups = channel_groups(canonical("resnet"))
    text = format_groups(groups)
    assert len(text.splitlines()) == len(groups) + 2
    assert "/stem/stem.0/Conv" in text


def test_analyze_groups_flag_prints_the_table(tmp_path, capsys):
    """`mcugraph analyze MODEL --groups` prints the group table after the cost table."""
    from mcugraph.cli.main import main

    path = tmp_path / "resnet.onnx"
    onnx.save(zoo_onnx("resnet"), path)
    assert main(["analyze", str(path), "--groups"]) == 0
    out = capsys.readouterr().out
    assert "group  channels  prunable  producers" in out
    assert "8 groups, 6 prunable" in out

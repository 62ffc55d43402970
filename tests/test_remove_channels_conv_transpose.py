"""ConvTranspose prunes like Conv with its weight axes swapped: (C_in, C_out/group, k...), bias on C_out."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from prune_checks import assert_resources_exact, gated_then_folded
from test_remove_channels import check_prune_matches_slice, copy_of
from torch import nn

import mcugraph
from mcugraph.memory.kernel_view import kernel_view
from mcugraph.passes.remove_channels import RemoveChannelsPass
from mcugraph.prune.api import canonicalize, unshare_initializers
from mcugraph.prune.channel_groups import ChannelUse, channel_groups
from mcugraph.prune.gates import gateable_groups
from mcugraph.prune.resources import resource_model
from mcugraph.prune.torch_module import GraphModule
from mcugraph.runtime import run_onnx


class _Decoder(nn.Module):
    """Conv down, two ConvTransposes up (the second with BatchNorm, folded into it by fold-bn)."""

    def __init__(self, groups: int = 1):
        super().__init__()
        self.down = nn.Conv2d(2, 6, 3, 2, 1)
        self.up1 = nn.ConvTranspose2d(6, 4, 3, 2, 1, output_padding=1, groups=groups)
        self.bn = nn.BatchNorm2d(4)
        self.up2 = nn.ConvTranspose2d(4, 3, 3, 1, 1)

    def forward(self, x):
        return self.up2(torch.relu(self.bn(self.up1(torch.relu(self.down(x))))))


def _module(groups: int = 1) -> nn.Module:
    torch.manual_seed(0)
    module = _Decoder(groups)
    with torch.no_grad():
        module.bn.running_mean.uniform_(-0.2, 0.2)
        module.bn.running_var.uniform_(0.5, 1.5)
        module.bn.weight.uniform_(0.5, 1.5)
    return module.eval()


def _load(module: nn.Module, exporter: str):
    """Through torch's ``exporter`` ("dynamo": the default; "legacy": dynamo=False), then canonicalised."""
    example = torch.rand(1, 2, 8, 8)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = Path(tmp) / "m.onnx"
        if exporter == "dynamo":
            torch.onnx.export(module, (example,), dynamo=True, input_names=["input"], verbose=False).save(str(path))
        else:
            torch.onnx.export(module, (example,), str(path), dynamo=False, input_names=["input"])
        model = mcugraph.load(str(path))
    return unshare_initializers(canonicalize(model))


def _transposes(model):
    return [n for n in model.graph if n.op_type == "ConvTranspose"]


def _group_of(groups, node):
    return next(g for g in groups if node.name in g.producers)


@pytest.mark.parametrize("exporter", ["legacy", "dynamo"])
def test_conv_transpose_output_is_a_prunable_group_on_weight_axis_1(exporter):
    """up1's channels: its weight's axis 1 and its bias; up2 reads them on its weight's axis 0; up2's own output
    (the graph output) stays whole; the Conv's channels reach up1's weight axis 0."""
    model = _load(_module(), exporter)
    conv = next(n for n in model.graph if n.op_type == "Conv")
    up1, up2 = _transposes(model)
    groups = channel_groups(model)
    group = _group_of(groups, up1)
    assert group.prunable and group.size == 4
    assert set(group.weights) == {ChannelUse(up1.inputs[1].name, 1), ChannelUse(up1.inputs[2].name, 0),
                                  ChannelUse(up2.inputs[1].name, 0)}
    assert ChannelUse(up1.inputs[1].name, 0) in _group_of(groups, conv).weights
    assert not _group_of(groups, up2).prunable
    assert {g.id for g in gateable_groups(model, groups)} == {_group_of(groups, conv).id, group.id}


@pytest.mark.parametrize("exporter", ["legacy", "dynamo"])
@pytest.mark.parametrize("seed", [0, 1])
def test_pruned_conv_transpose_equals_sliced_module(exporter, seed):
    """remove-channels on the IR (onnxruntime) equals the torch interpreter's slice_module."""
    check_prune_matches_slice(_load(_module(), exporter), seed)


def test_pruned_conv_transpose_equals_hand_sliced_torch():
    """remove-channels equals the torch model with weights cut by hand: Conv rows, ConvTranspose columns."""
    module = _module()
    model = _load(module, "legacy")
    conv = next(n for n in model.graph if n.op_type == "Conv")
    up1 = _transposes(model)[0]
    groups = channel_groups(model)
    keep_down, keep_up = (0, 2, 5), (1, 3)
    keep = {_group_of(groups, conv).id: keep_down, _group_of(groups, up1).id: keep_up}
    pruned = RemoveChannelsPass(keep=keep)(copy_of(model)).model

    reference = _module()
    reference.bn.eval()
    with torch.no_grad():
        # fold BatchNorm into up1 by hand (its output channels are weight axis 1), then cut.
        scale = reference.bn.weight / torch.sqrt(reference.bn.running_var + reference.bn.eps)
        w1 = reference.up1.weight * scale.view(1, -1, 1, 1)
        b1 = (reference.up1.bias - reference.bn.running_mean) * scale + reference.bn.bias
        d, u = list(keep_down), list(keep_up)
        down = nn.Conv2d(2, 3, 3, 2, 1)
        down.weight.copy_(reference.down.weight[d])
        down.bias.copy_(reference.down.bias[d])
        up1_cut = nn.ConvTranspose2d(3, 2, 3, 2, 1, output_padding=1)
        up1_cut.weight.copy_(w1[d][:, u])
        up1_cut.bias.copy_(b1[u])
        up2 = nn.ConvTranspose2d(2, 3, 3, 1, 1)
        up2.weight.copy_(reference.up2.weight[u])
        up2.bias.copy_(reference.up2.bias)
        x = torch.rand(1, 2, 8, 8)
        expected = up2(torch.relu(up1_cut(torch.relu(down(x))))).numpy()
    assert pruned.graph.initializers[up1.inputs[1].name].const_value.numpy().shape == (3, 2, 3, 3)
    got = run_onnx(pruned, {pruned.graph.inputs[0].name: x.numpy()})[0]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_grouped_conv_transpose_is_frozen_with_a_reason():
    """group 2: the channels on each side stay whole, and the group says which node blocks it."""
    model = _load(_module(groups=2), "legacy")
    up1 = _transposes(model)[0]
    groups = channel_groups(model)
    out = _group_of(groups, next(n for n in model.graph if n.op_type == "Conv"))
    assert not out.prunable and "grouped transposed convolution" in out.reason
    frozen = next(g for g in groups if any(u.tensor == up1.outputs[0].name for u in g.activations))
    assert not frozen.prunable and "grouped transposed convolution" in frozen.reason


def test_gates_fold_into_conv_transpose_weight_axis_1():
    """Gates on a ConvTranspose's output fold into its weight's axis 1 and bias: the function is unchanged."""
    model = _load(_module(), "legacy")
    x = torch.rand(2, 2, 8, 8)
    _, gated, folded = gated_then_folded(model, gateable_groups(model, channel_groups(model)), x)
    assert torch.allclose(gated, folded, atol=1e-5)
    assert not torch.allclose(gated, GraphModule(model)(x), atol=1e-3)  # the gates did close something


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_resource_model_is_exact_for_conv_transpose(seed):
    """SRAM (with TRANSPOSE_CONV's int32 scratch, per output channel), flash and MACs equal the pruned model's."""
    model = _load(_module(), "legacy")
    groups = channel_groups(model)
    order = [k.name for k in kernel_view(model).kernels]
    assert any(k.op == "TRANSPOSE_CONV" and k.scratch_bytes for k in kernel_view(model).kernels)
    rmodel = resource_model(model, groups, order)
    rng = np.random.default_rng(seed)
    keep = {g.id: tuple(sorted(rng.choice(g.size, int(rng.integers(1, g.size)), replace=False).tolist()))
            for g in gateable_groups(model, groups)}
    predicted = assert_resources_exact(model, rmodel, order, keep)
    assert float(predicted["ram"]) < float(rmodel.evaluate()["ram"])


def test_conv_autoencoder_prunes_below_its_arena_and_exports(tmp_path):
    """The coverage family: pruned to 3/4 of its int8 arena, then mcugraph.optimize's TFLM head = prediction."""
    from mcugraph import zoo_coverage

    path = zoo_coverage.export("conv_autoencoder", tmp_path / "ae.onnx", "legacy")
    x = np.random.default_rng(0).uniform(0, 1, (32, 1, 32, 32)).astype(np.float32)
    before = mcugraph.optimize(str(path), calib="random:0,1,8", progress=False, warn=lambda _: None)
    arena = before.report["arena_head_bytes"]
    pruned = mcugraph.prune(str(path), data=(x, x), ram=arena * 3 // 4, epochs=1, loss="mse", progress=False)
    assert pruned.report["after"]["ram"] <= arena * 3 // 4
    result = mcugraph.optimize(pruned.model, calib="random:0,1,8", progress=False, warn=lambda _: None)
    assert result.report["arena_head_bytes"] == result.report["predicted_arena_bytes"]
    assert result.report["arena_head_bytes"] < arena

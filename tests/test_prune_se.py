"""Squeeze-excite (MobileNetV3-style) models: the SE scale joins the group of the features it scales, prunes, exports.

Also: a group that cannot be pruned says which node blocks it and why (``analyze --groups``, the refusal), and a
model that cannot be exported is refused before any training.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
import pytest
import torch
from test_remove_channels import check_prune_matches_slice, copy_of
from torch import nn

import mcugraph
from mcugraph.cli.main import main
from mcugraph.errors import BudgetError, UnsupportedOpError
from mcugraph.passes.remove_channels import RemoveChannelsPass
from mcugraph.prune.api import canonicalize, exact_resources, prune, unshare_initializers
from mcugraph.prune.channel_groups import channel_groups
from mcugraph.runtime import input_feeds, run_onnx

SIZE = 16  # input height/width: small keeps the prune + export test fast


class SqueezeExcite(nn.Module):
    """MobileNetV3's SE: global pool -> 1x1 conv -> ReLU -> 1x1 conv -> HardSigmoid, times the features."""

    def __init__(self, channels: int):
        super().__init__()
        self.reduce = nn.Conv2d(channels, max(channels // 4, 4), 1)
        self.expand = nn.Conv2d(max(channels // 4, 4), channels, 1)

    def forward(self, x):
        scale = nn.functional.hardsigmoid(self.expand(torch.relu(self.reduce(x.mean((2, 3), keepdim=True)))))
        return x * scale


class Bneck(nn.Module):
    """Inverted residual; with ``exp == cin`` there is no expansion conv, so the SE scales the stem's channels."""

    def __init__(self, cin: int, exp: int, cout: int, stride: int, se: bool):
        super().__init__()
        layers = [] if exp == cin else [nn.Conv2d(cin, exp, 1, bias=False), nn.BatchNorm2d(exp), nn.Hardswish()]
        layers += [nn.Conv2d(exp, exp, 3, stride, 1, groups=exp, bias=False), nn.BatchNorm2d(exp), nn.Hardswish()]
        layers += [SqueezeExcite(exp)] if se else []
        layers += [nn.Conv2d(exp, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.body(x) if self.residual else self.body(x)


class MobileNetV3Tiny(nn.Module):
    def __init__(self, classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.Hardswish())
        self.blocks = nn.Sequential(Bneck(16, 16, 16, 1, True), Bneck(16, 48, 24, 2, False), Bneck(24, 64, 24, 1, True))
        self.head = nn.Sequential(nn.Conv2d(24, 64, 1), nn.Hardswish())
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.head(self.blocks(self.stem(x))).mean((2, 3), keepdim=True), 1))


def export(module: nn.Module, path, dynamo: bool, shape=(1, 3, SIZE, SIZE)) -> str:
    torch.manual_seed(0)
    module = module.eval()
    with torch.no_grad():  # non-trivial BN statistics, so folding them is not the identity
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
    torch.onnx.export(module, (torch.rand(*shape),), str(path), dynamo=dynamo, input_names=["input"],
                      output_names=["logits"])
    return str(path)


@pytest.fixture(scope="module", params=[False, True], ids=["torchscript", "dynamo"])
def se_path(request, tmp_path_factory):
    torch.manual_seed(0)
    return export(MobileNetV3Tiny(), tmp_path_factory.mktemp("se") / "mnv3.onnx", dynamo=request.param)


def canonical(path) -> ir.Model:
    return unshare_initializers(canonicalize(mcugraph.load(path)))


def test_se_scale_joins_the_group_it_scales(se_path):
    """The SE's expand conv produces the same group as the stem (block 0 has no expansion); every inner group is
    prunable, only the graph input and the logits are not, each with its reason."""
    model = canonical(se_path)
    nodes = {n.name: n for n in model.graph}
    groups = channel_groups(model)
    stem = next(g for g in groups if any(nodes[p].inputs[0].name == "input" for p in g.producers))
    assert stem.prunable and stem.size == 16 and len(stem.producers) == 3  # stem conv, SE expand, block 0 project
    frozen = [g for g in groups if not g.prunable]
    assert sorted(g.reason for g in frozen) == ["graph input 'input' keeps its shape",
                                                "graph output 'logits' keeps its shape"]


def test_se_remove_channels_matches_sliced_module(se_path):
    """Keeping every channel changes nothing; a random cut equals the sliced PyTorch module in onnxruntime."""
    model = canonical(se_path)
    groups = channel_groups(model)
    full = {g.id: tuple(range(g.size)) for g in groups if g.prunable}
    result = RemoveChannelsPass(keep=full)(copy_of(model))
    feeds = input_feeds(model, 0)
    assert not result.modified
    np.testing.assert_allclose(run_onnx(result.model, feeds)[0], run_onnx(model, feeds)[0], rtol=1e-6, atol=1e-6)
    check_prune_matches_slice(model, seed=1)


class LinearSqueezeExcite(nn.Module):
    """The other common SE: pooled vector -> Linear -> ReLU -> Linear -> Sigmoid, viewed as [N, C, 1, 1]."""

    def __init__(self, channels: int = 16):
        super().__init__()
        self.stem, self.proj = nn.Conv2d(3, channels, 3, padding=1), nn.Conv2d(channels, 8, 1)
        self.fc1, self.fc2, self.fc = nn.Linear(channels, 4), nn.Linear(4, channels), nn.Linear(8, 10)

    def forward(self, x):
        x = torch.relu(self.stem(x))
        scale = torch.sigmoid(self.fc2(torch.relu(self.fc1(x.mean((2, 3)))))).view(x.shape[0], -1, 1, 1)
        return self.fc(self.proj(x * scale).mean((2, 3)))


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
def test_linear_se_joins_the_stem_group(tmp_path, dynamo):
    """Gemm -> Sigmoid -> Reshape to [1, C, 1, 1]: the second Linear produces the stem's group; cuts stay exact."""
    model = canonical(export(LinearSqueezeExcite(), tmp_path / "se.onnx", dynamo, shape=(1, 3, 8, 8)))
    groups = channel_groups(model)
    ops = {n.name: n.op_type for n in model.graph}
    stem = next(g for g in groups if g.size == 16)
    assert stem.prunable and sorted(ops[p] for p in stem.producers) == ["Conv", "Gemm"]
    check_prune_matches_slice(model, seed=2)


def test_se_model_prunes_to_half_its_sram_and_exports_verified(se_path):
    """Pruned to half its TFLM arena, the SE model still exports to int8 and verifies in TFLM and LiteRT."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3, SIZE, SIZE)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    before = exact_resources(canonical(se_path))["ram"]
    result = prune(se_path, data=(x, y), ram=before // 2, epochs=1, batch_size=32, progress=False)
    assert result.report["met"] and result.report["after"]["ram"] <= before // 2
    reasons = sorted(row["reason"] for row in result.report["groups"] if not row["prunable"])
    assert reasons == ["graph input 'input' keeps its shape", "graph output 'logits' keeps its shape"]
    exported = mcugraph.optimize(result.model, calib=x[:16], verify=True, progress=False)
    assert exported.report["arena_head_bytes"] <= before // 2
    assert exported.report["verification"]  # a failed verification raises ExportError


def test_analyze_groups_names_the_blocking_node(tmp_path, capsys):
    """A Softmax over channels freezes the groups it reads; `analyze --groups` says which node and why."""

    class ChannelSoftmax(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv2d(1, 8, 3, padding=1), nn.Conv2d(8, 10, 3, padding=1)

        def forward(self, x):
            return self.b(torch.softmax(self.a(x), dim=1)).mean((2, 3))

    path = export(ChannelSoftmax(), tmp_path / "softmax.onnx", dynamo=False, shape=(1, 1, 8, 8))
    assert main(["analyze", path, "--groups"]) == 0
    out = capsys.readouterr().out
    assert "(Softmax) normalises across channels" in out
    with pytest.raises(BudgetError, match=r"group 1 \(8 ch\): node '.*Softmax' \(Softmax\) normalises across"):
        prune(path, data=(np.zeros((4, 1, 8, 8), np.float32), np.zeros(4, int)), ram=100, progress=False)


def test_unreachable_budget_names_the_groups_that_keep_their_width(tmp_path):
    """When a budget is below the floor, the refusal lists the widest frozen groups with the node that froze them."""

    class SoftmaxThenConv(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv2d(1, 24, 3, padding=1), nn.Conv2d(24, 8, 3, padding=1)
            self.c = nn.Conv2d(8, 10, 1)

        def forward(self, x):
            return self.c(torch.relu(self.b(torch.softmax(self.a(x), dim=1)))).mean((2, 3))

    path = export(SoftmaxThenConv(), tmp_path / "frozen.onnx", dynamo=False, shape=(1, 1, 8, 8))
    data = (np.zeros((4, 1, 8, 8), np.float32), np.zeros(4, int))
    with pytest.raises(BudgetError, match=r"minimum .*keep their width: group 1 \(24 ch\): node .*\(Softmax\)"):
        prune(path, data=data, ram=64, progress=False)


def test_unexportable_model_is_refused_before_the_data_is_read(tmp_path):
    """An op the kernel view refuses (Erf) fails at once with its node and op; the data is never touched."""

    class WithErf(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.fc = nn.Conv2d(1, 8, 3, padding=1), nn.Linear(8, 10)

        def forward(self, x):
            return self.fc(torch.erf(self.conv(x)).mean((2, 3)))

    def untouchable():
        raise AssertionError("the data was read before the model was checked")
        yield

    path = export(WithErf(), tmp_path / "erf.onnx", dynamo=False, shape=(1, 1, 8, 8))
    with pytest.raises(UnsupportedOpError, match=r"no training started.*Erf \(Erf: no TFLite Micro kernel") as info:
        prune(path, data=untouchable(), ram=100, progress=False)
    assert info.value.nodes and info.value.nodes[0][1] == "Erf"

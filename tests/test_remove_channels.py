"""remove-channels and slice_module: the pruned IR runs, equals the sliced torch module, and is exact on zeros."""

from __future__ import annotations

import json

import numpy as np
import onnx_ir as ir
import pytest
import torch
from conftest import MLPERF, zoo_canonical, zoo_onnx
from test_channel_groups import mixed_net
from torch import nn

import mcugraph
from mcugraph.errors import MCUGraphError, PipelineError
from mcugraph.load import to_bytes
from mcugraph.passes.remove_channels import RemoveChannelsPass
from mcugraph.pipeline import check_model
from mcugraph.prune.channel_groups import channel_groups
from mcugraph.prune.slicing import slice_module
from mcugraph.prune.torch_module import GraphModule
from mcugraph.runtime import input_feeds, run_onnx

ZOO = ("mobilenetv2", "resnet", "inception", "densenet", "digits_cnn")


canonical = zoo_canonical


def copy_of(model: ir.Model) -> ir.Model:
    return ir.serde.deserialize_model(ir.serde.serialize_model(model))


def random_keep(groups, seed: int = 0) -> dict[int, tuple[int, ...]]:
    """A random non-empty strict subset of every prunable group (of at least 2 channels)."""
    rng = np.random.default_rng(seed)
    return {g.id: tuple(sorted(rng.choice(g.size, size=int(rng.integers(1, g.size)), replace=False).tolist()))
            for g in groups if g.prunable and g.size > 1}


def module_output(module: GraphModule, feeds) -> np.ndarray:
    with torch.no_grad():
        return module(*[torch.from_numpy(feeds[n]) for n in module.input_names]).numpy()


def check_prune_matches_slice(model: ir.Model, seed: int = 0) -> None:
    groups = channel_groups(model)
    keep = random_keep(groups, seed)
    assert keep, "the model should have prunable groups"
    module = GraphModule(model)
    result = RemoveChannelsPass(keep=keep)(copy_of(model))
    assert result.modified
    check_model(result.model)
    slice_module(module, groups, keep)
    feeds = input_feeds(result.model, seed)
    np.testing.assert_allclose(run_onnx(result.model, feeds)[0], module_output(module, feeds), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ZOO)
def test_pruned_zoo_model_equals_sliced_module(name):
    """Random channels out of every prunable group: onnxruntime on the IR equals the sliced GraphModule."""
    check_prune_matches_slice(canonical(name))


@pytest.mark.parametrize("name", ["mobilenetv2", "densenet"])
def test_pruned_raw_export_equals_sliced_module(name):
    """Without canonicalisation too: BatchNorm parameters are sliced with their group, Flatten needs no target."""
    check_prune_matches_slice(mcugraph.load(zoo_onnx(name)))


@pytest.mark.parametrize("name", MLPERF)
def test_pruned_shared_model_equals_sliced_module(shared_models, name):
    """The same on the MLPerf models (Transpose'd input, MatMul head, Reshape targets)."""
    model = mcugraph.run_pipeline(mcugraph.load(shared_models / f"{name}.onnx"), mcugraph.CANONICALIZE).model
    check_prune_matches_slice(model)


@pytest.mark.parametrize("name", ZOO)
def test_removing_zeroed_channels_is_exact(name):
    """Channels whose producing weights are zero can be removed without changing the outputs."""
    model = canonical(name)
    groups = channel_groups(model)
    keep = random_keep(groups, seed=1)
    for group in groups:
        if group.id not in keep:
            continue
        gone = sorted(set(range(group.size)) - set(keep[group.id]))
        for use in group.weights:
            if use.axis != 0:
                continue  # producers (and depthwise convs, biases) hold a group's channels on axis 0
            value = model.graph.initializers[use.tensor]
            array = value.const_value.numpy().copy()
            for c in gone:
                array[use.offset + c * use.block:use.offset + (c + 1) * use.block] = 0.0
            value.const_value = ir.tensor(array, name=use.tensor)
    feeds = input_feeds(model)
    before = run_onnx(model, feeds)[0]
    pruned = RemoveChannelsPass(keep=keep)(copy_of(model)).model
    np.testing.assert_allclose(run_onnx(pruned, feeds)[0], before, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["inception", "densenet"])
def test_group_ids_survive_pruning(name):
    """channel_groups of the pruned IR lists the same groups in the same order, with the kept sizes."""
    model = canonical(name)
    before = channel_groups(model)
    keep = random_keep(before, seed=3)
    after = channel_groups(RemoveChannelsPass(keep=keep)(copy_of(model)).model)
    assert [(g.id, g.producers, g.prunable) for g in after] == [(g.id, g.producers, g.prunable) for g in before]
    assert [g.size for g in after] == [len(keep.get(g.id, range(g.size))) for g in before]


def test_keeping_everything_is_not_a_change():
    """No keep, or a keep listing every channel, leaves the model alone: modified=False."""
    model = canonical("resnet")
    full = {g.id: tuple(range(g.size)) for g in channel_groups(model)}
    before = to_bytes(model)
    assert not RemoveChannelsPass()(model).modified
    assert not RemoveChannelsPass(keep=full)(model).modified
    assert to_bytes(model) == before


def test_shapes_shrink_to_the_kept_channels():
    """Producer weights, activations and the consumer's input axis all have the kept channel count."""
    model = canonical("digits_cnn")
    group = next(g for g in channel_groups(model) if g.prunable)
    pruned = RemoveChannelsPass(keep={group.id: (0, 3, 5)})(model).model
    for use in group.weights:
        assert pruned.graph.initializers[use.tensor].const_value.shape[use.axis] == 3
    values = {v.name: v for n in pruned.graph for v in n.outputs}
    for use in group.activations:
        assert values[use.tensor].shape[use.axis] == 3


class _FlattenNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 3 * 3, 5)

    def forward(self, x):
        return self.fc(torch.flatten(torch.relu(self.conv(x)), 1))


def test_flatten_gemm_model_prunes_blocks_and_reshape_target():
    """Removing conv channels before a Flatten removes their H*W Gemm columns and shrinks the Reshape target."""
    torch.manual_seed(0)
    model = mcugraph.load(_FlattenNet().eval(), example_inputs=torch.rand(1, 2, 3, 3))
    model = mcugraph.run_pipeline(model, mcugraph.CANONICALIZE).model
    check_prune_matches_slice(model)
    group = next(g for g in channel_groups(model) if g.prunable)
    pruned = RemoveChannelsPass(keep={group.id: (1, 2)})(copy_of(model)).model
    target = pruned.graph.initializers[group.shapes[0].tensor].const_value.numpy()
    assert target.tolist() == [1, 18]


def test_mixed_ops_model_prunes_like_the_sliced_module():
    """SE, Pad, Resize, Slice/Concat, PReLU and Flatten->Gemm all prune consistently in IR and torch."""
    for seed in range(3):
        check_prune_matches_slice(mixed_net(), seed)


@pytest.mark.parametrize(("keep", "message"), [
    ({99: (0,)}, "no channel group 99"),
    ({1: ()}, "empty"),
    ({1: (0, 1000)}, "no channel"),
])
def test_bad_keep_is_refused(keep, message):
    """Unknown groups, empty keeps and channels that do not exist are PipelineErrors."""
    with pytest.raises(PipelineError, match=message):
        RemoveChannelsPass(keep=keep)(canonical("resnet"))


def test_non_prunable_group_is_refused():
    """Removing a classifier output channel is refused, naming the group's producer and why."""
    model = canonical("resnet")
    output_group = next(g for g in channel_groups(model) if not g.prunable and g.producers)
    with pytest.raises(PipelineError, match="not prunable: graph output '.*' keeps its shape"):
        RemoveChannelsPass(keep={output_group.id: (0,)})(model)


def test_keep_file_from_a_pipeline_string(tmp_path):
    """`remove-channels{keep_file=...}` reads {"group": [indices]} JSON and prunes in a pipeline."""
    model = canonical("resnet")
    group = next(g for g in channel_groups(model) if g.prunable)
    path = tmp_path / "keep.json"
    path.write_text(json.dumps({str(group.id): [0, 1]}))
    feeds = input_feeds(model)
    result = mcugraph.run_pipeline(model, f"remove-channels{{keep_file={path}}}", check=True)
    assert result.modified
    assert len(run_onnx(result.model, feeds)[0]) == 1
    assert [g.size for g in channel_groups(result.model) if g.producers == group.producers] == [2]


def test_keep_fraction_halves_every_prunable_group():
    """`remove-channels{keep=0.5}` keeps the larger-norm half of every prunable group."""
    model = canonical("inception")
    sizes = {g.producers: g.size for g in channel_groups(model) if g.prunable}
    pruned = mcugraph.run_pipeline(model, "remove-channels{keep=0.5}", check=True).model
    after = {g.producers: g.size for g in channel_groups(pruned) if g.prunable}
    assert after == {p: (s + 1) // 2 for p, s in sizes.items()}


def test_slice_module_slices_optimizer_state_and_trains_on():
    """Adam's moments are sliced with the parameters, and the next optimizer step runs."""
    model = canonical("mobilenetv2")
    groups = channel_groups(model)
    module = GraphModule(model)
    optimizer = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=1e-3)
    module(torch.rand(2, 3, 32, 32)).sum().backward()
    optimizer.step()
    slice_module(module, groups, random_keep(groups), optimizer)
    for param in module.parameters():
        for value in optimizer.state.get(param, {}).values():
            if value.dim():
                assert value.shape == param.shape
    optimizer.zero_grad()
    module(torch.rand(2, 3, 32, 32)).sum().backward()
    optimizer.step()


def test_slicing_twice_equals_slicing_once():
    """keep is in original indices: slicing to A then to B (a subset) equals slicing straight to B."""
    model = canonical("densenet")
    groups = channel_groups(model)
    first = random_keep(groups, seed=2)
    second = {g: k[: max(1, len(k) // 2)] for g, k in first.items()}
    twice, once = GraphModule(model), GraphModule(model)
    slice_module(twice, groups, first)
    slice_module(twice, groups, second)
    slice_module(once, groups, second)
    assert twice.kept_channels == once.kept_channels == second
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(twice(x), once(x))


def test_slice_module_refuses_channels_already_removed():
    """Asking to keep a channel sliced away earlier is an MCUGraphError."""
    model = canonical("resnet")
    groups = channel_groups(model)
    group = next(g for g in groups if g.prunable)
    module = GraphModule(model)
    slice_module(module, groups, {group.id: (0, 1)})
    with pytest.raises(MCUGraphError, match="no channel"):
        slice_module(module, groups, {group.id: (2,)})


def test_docs_example_runs():
    """docs/channels.md's Python example runs as written and its pruned IR equals the trained module."""
    import re
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "docs" / "channels.md").read_text()
    namespace: dict = {}
    exec(re.findall(r"```python\n(.*?)```", page, flags=re.S)[0], namespace)  # noqa: S102 - our own docs
    pruned, module = namespace["pruned"], namespace["module"]
    assert all(len(k) == namespace["groups"][g].size // 2 for g, k in module.kept_channels.items())
    feeds = input_feeds(pruned)
    np.testing.assert_allclose(run_onnx(pruned, feeds)[0], module_output(module, feeds), rtol=1e-5, atol=1e-5)

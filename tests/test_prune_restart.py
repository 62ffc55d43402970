"""The restart (restart.py): the gates' widths, the largest-magnitude channels, fresh or trained values."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
import pytest
import torch

import mcugraph
from mcugraph import zoo as zoo_models
from mcugraph.datasets import digits
from mcugraph.prune.api import apply_keep, canonicalize, exact_resources, prune, unshare_initializers
from mcugraph.prune.channel_groups import channel_groups
from mcugraph.prune.gates import gateable_groups
from mcugraph.prune.restart import channel_norms, magnitude_keep


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    loaded = mcugraph.load(zoo_models.DigitsCNN(width=8).eval(), example_inputs=torch.rand(1, 1, 8, 8))
    return unshare_initializers(canonicalize(loaded))


def test_channel_norms_are_the_l1_norms_of_every_producer_slice(model):
    nodes = {n.name: n for n in model.graph}
    group = gateable_groups(model, channel_groups(model))[0]
    expected = sum(np.abs(nodes[p].inputs[1].const_value.numpy()).reshape(group.size, -1).sum(1)
                   for p in group.producers)
    np.testing.assert_allclose(channel_norms(model, group), expected)


def test_magnitude_keep_takes_the_largest_norms_and_leaves_full_groups_alone(model):
    groups = gateable_groups(model, channel_groups(model))
    first, second = groups[0], groups[1]
    keep = magnitude_keep(model, groups, {first.id: 3, second.id: second.size})
    assert set(keep) == {first.id}
    norms = channel_norms(model, first)
    assert sorted(keep[first.id]) == list(keep[first.id]) and len(keep[first.id]) == 3
    assert min(norms[list(keep[first.id])]) >= max(np.delete(norms, list(keep[first.id])))


def test_restarted_prune_keeps_largest_magnitude_channels_and_meets_budgets(model):
    """The one-shot restart after a gate phase (floor below 1, no ramp): per gated group, the kept channels are
    exactly the widths' largest-norm ones of the input."""
    split = digits().train
    result = prune(model, data=(split.x[:256], split.y[:256]), ram=512, flash="4KiB", epochs=4, batch_size=16,
                   warmup_steps=2, tflm_check=False, floor=0.5, restart_ramp=0)
    assert result.report["restarted_at_epoch"] is not None
    keep = {int(g): tuple(k) for g, k in result.report["keep"].items()}
    groups = {g.id: g for g in gateable_groups(model, channel_groups(model))}
    narrowed = [g for g, k in keep.items() if len(k) < groups[g].size]
    assert narrowed and result.report["met"]
    for gid in narrowed:
        assert keep[gid] == magnitude_keep(model, [groups[gid]], {gid: len(keep[gid])})[gid]
    after = exact_resources(result.model)
    assert after["ram"] <= 512 and after["flash"] <= 4096
    phases = [e["phase"] for e in result.report["epochs"]]
    assert phases[0] == "prune" and phases[-1] == "train" and len(phases) == 4


@pytest.mark.parametrize("weights", ["trained", "fresh"])
def test_restart_starts_retraining_from_the_trained_or_fresh_weights(model, weights):
    """With no retraining epoch left, the pruned model is the input cut to the kept channels: its weights exactly
    with ``restart_weights="trained"`` (the default); with ``"fresh"`` every conv/Gemm weight is a new draw."""
    split = digits().train
    result = prune(model, data=(split.x[:128], split.y[:128]), flash="4KiB", epochs=1, batch_size=128,
                   prune_share=0.01, warmup_steps=0, tflm_check=False, restart_weights=weights,
                   floor=0.5)  # one step: floors below the balanced widths let it meet the budget within it
    assert result.report["restarted_at_epoch"] == 1 and result.report["extra_cuts"] == 0
    keep = {int(g): tuple(k) for g, k in result.report["keep"].items()}
    expected = apply_keep(model, keep)
    weights_of = {n.inputs[1].name for n in expected.graph if n.op_type in ("Conv", "Gemm")}
    for name, value in expected.graph.initializers.items():
        if value.const_value is not None and value.dtype == ir.DataType.FLOAT:
            got = result.model.graph.initializers[name].const_value.numpy()
            if weights == "trained":
                np.testing.assert_allclose(got, value.const_value.numpy(), rtol=1e-5, atol=1e-6)
            elif name in weights_of:
                assert not np.allclose(got, value.const_value.numpy(), atol=1e-3), name


def test_no_restart_keeps_the_gated_channels(model):
    split = digits().train
    result = prune(model, data=(split.x[:256], split.y[:256]), flash="4KiB", epochs=3, batch_size=64,
                   restart=False, tflm_check=False)
    assert result.report["met"] and result.report["restarted_at_epoch"] is None

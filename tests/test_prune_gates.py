"""Channel gates: a soft top-k mask whose closed channels are exactly zero and which folds into the weights."""

from __future__ import annotations

import torch
from prune_checks import gated_then_folded

import mcugraph
from mcugraph.prune.api import canonicalize, unshare_initializers
from mcugraph.prune.channel_groups import channel_groups
from mcugraph.prune.gates import ChannelGates, gateable_groups
from mcugraph.prune.torch_module import GraphModule


def _setup(zoo, name="digits_cnn"):
    model = unshare_initializers(canonicalize(mcugraph.load(zoo(name))))
    groups = channel_groups(model)
    return model, groups, gateable_groups(model, groups)


def test_only_prunable_conv_groups_are_gated(zoo):
    """The graph-output group (the classifier's 10 logits) and the 1-channel input group get no gates."""
    model, groups, gated = _setup(zoo)
    ids = {g.id for g in gated}
    assert ids and all(g.prunable and g.size > 1 for g in gated)
    output_group = next(g for g in groups if any(u.tensor == "output" for u in g.activations))
    assert output_group.id not in ids


def test_gates_sum_to_the_width_and_close_least_important_first():
    """Σ gates = soft count; the least important channels are the closed ones, exactly 0."""
    group = type("G", (), {"id": 0, "size": 5, "producers": (), "activations": ()})()
    gates = ChannelGates([group])
    gates.importance[0] = torch.tensor([5.0, 1.0, 4.0, 2.0, 3.0])
    with torch.no_grad():
        gates.width["0"].fill_(2.5)
    g = gates.gate(0)
    assert torch.allclose(g.sum(), torch.tensor(2.5))
    assert g.tolist() == [1.0, 0.0, 1.0, 0.0, 0.5]
    assert gates.closed() == {0: [1, 3]}


def test_fold_into_weights_keeps_outputs(zoo):
    """Gated module and the module with gates folded into producer weights compute the same function."""
    model, groups, gated = _setup(zoo)
    module, gated_out, folded_out = gated_then_folded(model, gated, torch.rand(4, 1, 8, 8))
    assert not module.gate_hooks
    assert torch.allclose(gated_out, folded_out, atol=1e-5)


def test_probe_gradient_is_taylor_importance(zoo):
    """After a backward pass the accumulated importance is non-negative and non-zero for open channels."""
    model, _, gated = _setup(zoo)
    module = GraphModule(model)
    gates = ChannelGates(gated)
    gates.install(module, model)
    module(torch.rand(8, 1, 8, 8)).sum().backward()
    gates.accumulate_importance()
    for gid in gates.groups:
        assert bool((gates.importance[gid] >= 0).all()) and float(gates.importance[gid].sum()) > 0

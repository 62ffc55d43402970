"""Prune from scratch (scratch.py): fresh weights, no teacher, no restart, twice the derived steps."""

from __future__ import annotations

import pytest
import torch

import mcugraph
from mcugraph import zoo as zoo_models
from mcugraph.datasets import digits
from mcugraph.prune.api import canonicalize, exact_resources, prune, unshare_initializers
from mcugraph.prune.config import TrainConfig
from mcugraph.prune.recipe import derive
from mcugraph.prune.scratch import reinitialise
from mcugraph.prune.torch_module import GraphModule


def _model():
    torch.manual_seed(0)
    loaded = mcugraph.load(zoo_models.DigitsCNN(width=8).eval(), example_inputs=torch.rand(1, 1, 8, 8))
    return unshare_initializers(canonicalize(loaded))


def test_reinitialise_redraws_learned_layers_only_and_is_seeded():
    """Conv/Gemm weights get a fresh seeded U(±1/√fan_in) draw, their biases 0; other constants (ReLU6's Clip
    bounds of the MobileNetV2-style model) keep their values."""
    torch.manual_seed(0)
    model = unshare_initializers(canonicalize(mcugraph.load(zoo_models.MobileNetV2Style(width=4).eval(),
                                                            example_inputs=torch.rand(1, 3, 32, 32))))
    first, second, third = GraphModule(model), GraphModule(model), GraphModule(model)
    clips = {v.name for n in model.graph if n.op_type == "Clip" for v in n.inputs[1:] if v is not None}
    bounds = {name: first.parameter(name).detach().clone() for name in clips}
    count = reinitialise(first, model, seed=3)
    reinitialise(second, model, seed=3)
    reinitialise(third, model, seed=4)
    learned = {}
    for node in model.graph:
        if node.op_type in ("Conv", "Gemm"):
            learned[node.inputs[1].name] = "weight"
            if len(node.inputs) > 2 and node.inputs[2] is not None:
                learned[node.inputs[2].name] = "bias"
    assert count == len(learned)
    assert clips
    for name in clips:
        assert torch.equal(first.parameter(name), bounds[name])
    for name, role in learned.items():
        param = first.parameter(name)
        if role == "bias":
            assert not param.any()
        else:
            assert param.abs().max() <= 1.0 / param[0].numel() ** 0.5 + 1e-7
            assert torch.equal(param, second.parameter(name)) and not torch.equal(param, third.parameter(name))


def test_from_scratch_doubles_the_derived_steps():
    plain, _ = derive(TrainConfig(), samples=1024, rho=8.0)
    scratch, why = derive(TrainConfig(from_scratch=True), samples=1024, rho=8.0)
    assert abs(scratch.epochs - 2 * plain.epochs) <= 1 and why["epochs_derived"]


@pytest.mark.parametrize(("floor", "restarted"), [(1.0, 0), (0.5, None)])
def test_pruning_from_scratch_trains_and_meets_budgets(floor, restarted):
    """At floor 1 the balanced widths are fixed before the first epoch and every epoch trains them from fresh
    weights; below it the gates close during the run (no restart: there are no trained weights to restart from)."""
    split = digits()
    model = _model()
    result = prune(model, data=(split.train.x[:512], split.train.y[:512]), val=(split.val.x, split.val.y),
                   flash="4KiB", epochs=6, batch_size=32, from_scratch=True, tflm_check=False, floor=floor)
    assert result.report["met"] and exact_resources(result.model)["flash"] <= 4096
    assert result.report["restarted_at_epoch"] == restarted
    assert result.report["val_accuracy"]["after"] > 0.5  # trained from fresh weights in 6 epochs, not chance

"""The derived pruning schedule, BatchNorm during retraining (folded back exactly) and the per-epoch progress line."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch

import mcugraph
from mcugraph import zoo as zoo_models
from mcugraph.cli.prune import add_training_arguments
from mcugraph.datasets import digits
from mcugraph.prune.api import apply_keep, canonicalize, prune, unshare_initializers
from mcugraph.prune.budgets import Budgets
from mcugraph.prune.recipe import default_batch_size, default_epochs, derive, pressure
from mcugraph.prune.renorm import fold_batchnorm, install_batchnorm, renormable_convs
from mcugraph.prune.torch_module import GraphModule
from mcugraph.prune.train import TrainConfig


def test_batch_size_follows_the_data_size():
    assert default_batch_size(1078) == 32  # digits' training split
    assert default_batch_size(3168) == 64  # 85 % of the CIFAR-10 subset
    assert default_batch_size(100) == 16 and default_batch_size(10**6) == 128


def test_epochs_grow_with_how_far_the_budgets_are():
    near, far = default_epochs(1078, 32, 2.0), default_epochs(1078, 32, 16.0)
    assert near == 79 and far == 133  # 120 · (1 + log10 ρ) / 2 passes over the data
    assert default_epochs(3168, 64, 8.0) == 115  # the CIFAR benchmark: passes, not steps, whatever the batch
    assert default_epochs(10**6, 128, 16.0) == 10  # at most MAX_STEPS steps, at least MIN_EPOCHS
    assert default_epochs(1078, 32, 16.0, from_scratch=True) == 2 * 133 - 1  # twice the (unrounded) epochs


def test_help_states_the_rules_the_recipe_uses():
    """``prune --help`` still quoted 60 passes after the rule became 120: the help now reads the recipe's constants."""
    parser = argparse.ArgumentParser()
    add_training_arguments(parser)
    text = " ".join(parser.format_help().split())
    assert f"{default_epochs(1078, 32, 10.0)} (1 + log10 rho) / 2 passes" in text  # ρ = 10: exactly BASE_EPOCHS
    assert f"samples/{2048 // default_batch_size(2048)} rounded down" in text  # 2,048 samples: 32 batches of 64


def test_pressure_is_the_most_exceeded_budget():
    before = {"ram": 5120, "flash": 80136, "macs": 10**6}
    assert pressure(before, Budgets(ram=640, flash=5008)) == pytest.approx(16.0, rel=1e-3)
    assert pressure(before, Budgets(ram=10**6)) == 1.0


def test_given_values_are_kept():
    config, why = derive(TrainConfig(epochs=7, batch_size=8), 1078, 16.0)
    assert (config.epochs, config.batch_size) == (7, 8) and not why["epochs_derived"]
    config, why = derive(TrainConfig(), 1078, 16.0)
    assert (config.epochs, config.batch_size) == (133, 32) and why["epochs_derived"]


def _digits_cnn():
    torch.manual_seed(0)
    module = zoo_models.DigitsCNN(width=8).eval()
    return unshare_initializers(canonicalize(mcugraph.load(module, example_inputs=torch.rand(1, 1, 8, 8))))


def test_batchnorm_starts_as_identity_and_folds_back_exactly():
    """Installed BatchNorm changes nothing at first; after training steps, folding keeps the eval-mode outputs."""
    model = _digits_cnn()
    x = torch.from_numpy(digits().train.x[:128])
    module = GraphModule(model).eval()
    with torch.no_grad():
        plain = module(x)
    optimizer = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=1e-2)
    assert install_batchnorm(module, model, x, optimizer) == len(renormable_convs(model)) == 3
    with torch.no_grad():
        np.testing.assert_allclose(module.eval()(x).numpy(), plain.numpy(), atol=1e-3)
    module.train()
    for _ in range(3):
        optimizer.zero_grad()
        module(x).square().mean().backward()
        optimizer.step()
    with torch.no_grad():
        normed = module.eval()(x)
    assert not torch.allclose(normed, plain, atol=1e-3)  # training moved the BatchNorms
    fold_batchnorm(module, model, optimizer)
    assert not module.gate_hooks and len(optimizer.param_groups) == 1
    with torch.no_grad():
        np.testing.assert_allclose(module(x).numpy(), normed.numpy(), atol=1e-4)
    module.write_back(model)  # the folded weights are plain initializers of the same shapes
    copy = apply_keep(model, {})
    assert [n.op_type for n in copy.graph].count("BatchNormalization") == 0


def test_batchnorm_for_fresh_weights_starts_standard_not_as_identity():
    """``identity=False`` (the fresh-weight restart): gamma 1, beta 0, not the random network's own statistics
    (which the identity init copies); the running statistics are still measured on the data."""
    model = _digits_cnn()
    x = torch.from_numpy(digits().train.x[:128])
    module = GraphModule(model).eval()
    assert install_batchnorm(module, model, x, identity=False) == 3
    for norm in module.renorm.values():
        assert torch.equal(norm.weight, torch.ones_like(norm.weight))
        assert torch.equal(norm.bias, torch.zeros_like(norm.bias))
        assert norm.running_var.max() > 0  # statistics were measured on x


def test_progress_prints_one_line_per_epoch(capsys):
    """Not a terminal: plain lines with loss, accuracy, each resource against its budget, channels and time."""
    split = digits().train
    prune(_digits_cnn(), data=(split.x[:256], split.y[:256]), ram=400, flash="4KiB", epochs=2, batch_size=64,
          progress=True)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("epoch")]
    assert len(lines) == 2
    for line in lines:
        assert all(word in line for word in ("loss", "acc", "ram", "/400B", "flash", "/4.0KiB", "channels", "s "))

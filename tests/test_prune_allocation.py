"""The uniform allocation (widest equal keep fraction within the budgets), the balanced one grown from it, and the
floors it sets for the gates."""

from __future__ import annotations

import pytest
import torch

import mcugraph
from mcugraph.prune.allocation import balanced_counts, floors, uniform_counts, uniform_fraction
from mcugraph.prune.api import canonicalize, exact_resources, unshare_initializers
from mcugraph.prune.budgets import Budgets
from mcugraph.prune.channel_groups import channel_groups
from mcugraph.prune.gates import ChannelGates, gateable_groups
from mcugraph.prune.resources import resource_model


def _setup(zoo, name="digits_cnn"):
    model = unshare_initializers(canonicalize(mcugraph.load(zoo(name))))
    groups = channel_groups(model)
    gated = gateable_groups(model, groups)
    before = exact_resources(model)
    return before, resource_model(model, groups, before["order"]), gated


def _evaluate(rmodel, gated, fraction):
    counts = {gid: float(n) for gid, n in uniform_counts(gated, fraction).items()}
    return {r: float(v) for r, v in rmodel.evaluate(counts).items()}


@pytest.mark.parametrize(("ram_k", "flash_k"), [(4, 8), (2, 16), (8, 4)])
def test_uniform_fraction_is_the_widest_that_meets_the_budgets(zoo, ram_k, flash_k):
    before, rmodel, gated = _setup(zoo)
    budgets = Budgets(ram=before["ram"] // ram_k, flash=before["flash"] // flash_k)
    fraction = uniform_fraction(rmodel, gated, budgets)
    assert 0 < fraction < 1
    assert budgets.met_by(_evaluate(rmodel, gated, fraction))
    # One more channel in every group (the next fraction at which the counts change) breaks a budget.
    counts = uniform_counts(gated, fraction)
    wider = {g.id: min(float(g.size), counts[g.id] + 1.0) for g in gated}
    assert not budgets.met_by({r: float(v) for r, v in rmodel.evaluate(wider).items()})


def test_uniform_fraction_of_loose_budgets_is_one(zoo):
    before, rmodel, gated = _setup(zoo)
    assert uniform_fraction(rmodel, gated, Budgets(ram=before["ram"], flash=before["flash"])) == 1.0


@pytest.mark.parametrize(("name", "ram_k", "flash_k"), [("digits_cnn", 4, 8), ("resnet", 4, 2), ("resnet", 2, 2)])
def test_balanced_counts_are_maximal_and_at_least_uniform(zoo, name, ram_k, flash_k):
    before, rmodel, gated = _setup(zoo, name)
    budgets = Budgets(ram=before["ram"] // ram_k, flash=before["flash"] // flash_k)
    uniform = uniform_counts(gated, uniform_fraction(rmodel, gated, budgets))
    counts = balanced_counts(rmodel, gated, budgets)

    def meets(c):
        return budgets.met_by({r: float(v) for r, v in rmodel.evaluate({g: float(n) for g, n in c.items()}).items()})

    assert meets(counts)
    assert all(counts[g.id] >= uniform[g.id] for g in gated)
    for g in gated:  # maximal: no group can take one more channel
        assert counts[g.id] == g.size or not meets({**counts, g.id: counts[g.id] + 1})


def test_balanced_counts_spend_what_the_binding_budget_leaves():
    """ResNet-8 (CIFAR, 16/32/64) at 1/4 SRAM + 1/5 flash (of the .tflite, whose tables make it about the 1/8 of the
    weights this test used before flash meant the file): SRAM binds stage 1, flash the rest; uniform width stops at
    the SRAM bound everywhere, the balanced allocation widens stages 2-3 until flash binds."""
    from mcugraph import zoo as zoo_models

    torch.manual_seed(0)
    model = unshare_initializers(canonicalize(mcugraph.load(zoo_models.ResNetStyle(width=16).eval(),
                                                            example_inputs=torch.rand(1, 3, 32, 32))))
    groups = channel_groups(model)
    gated = gateable_groups(model, groups)
    before = exact_resources(model)
    rmodel = resource_model(model, groups, before["order"])
    budgets = Budgets(ram=before["ram"] // 4, flash=before["flash"] // 5)
    uniform = uniform_counts(gated, uniform_fraction(rmodel, gated, budgets))
    counts = balanced_counts(rmodel, gated, budgets)
    stage1 = [g.id for g in gated if g.size == 16]
    assert all(counts[gid] == uniform[gid] for gid in stage1)
    assert sum(counts.values()) > sum(uniform.values()) + 16
    flash = float(rmodel.evaluate({g: float(n) for g, n in counts.items()})["flash"])
    assert flash > 0.95 * budgets.flash


def test_floors_are_a_share_of_the_balanced_widths(zoo):
    before, rmodel, gated = _setup(zoo)
    budgets = Budgets(ram=before["ram"] // 4, flash=before["flash"] // 8)
    counts = balanced_counts(rmodel, gated, budgets)
    half = floors(rmodel, gated, budgets, 0.5)
    full = floors(rmodel, gated, budgets, 1.0)
    for g in gated:
        assert full[g.id] == pytest.approx(max(2.0, counts[g.id]))
        assert half[g.id] == pytest.approx(max(2.0, 0.5 * counts[g.id]))
    assert floors(rmodel, gated, budgets, 0.0) == {g.id: 2.0 for g in gated}


def test_gates_do_not_shrink_below_their_floor():
    group = type("G", (), {"id": 0, "size": 16, "producers": (), "activations": ()})()
    gates = ChannelGates([group])
    gates.floors = {0: 6.0}
    assert not gates.at_floor(0)
    gates.shrink(0, 100.0)
    assert float(gates.width["0"].detach()) == 6.0 and gates.at_floor(0)
    assert gates.hard_counts() == {0: 6}
    gates.keep(0, list(range(4)))  # cuts below the floor (the forced ones at the end) are still possible
    gates.shrink(0, 1.0)
    assert float(gates.width["0"].detach()) == 4.0


def test_pruning_keeps_gated_groups_at_or_above_their_floors(zoo):
    """With floor 1 the gates can only spend what the uniform allocation leaves: every group ends at least as wide
    as the uniform allocation (the budgets here need no forced cuts below it)."""
    from mcugraph.prune.api import prune

    model = zoo("digits_cnn")
    before, rmodel, gated = _setup(zoo)
    budgets = Budgets(ram=before["ram"] // 2, flash=before["flash"] // 4)
    torch.manual_seed(0)
    result = prune(model, data="digits", ram=budgets.ram, flash=budgets.flash, epochs=3, floor=1.0,
                   tflm_check=False, distill=0.0)
    uniform = uniform_counts(gated, uniform_fraction(rmodel, gated, budgets))
    after = {r["id"]: r["after"] for r in result.report["groups"]}
    assert result.report["extra_cuts"] == 0
    assert all(after[gid] >= n for gid, n in uniform.items())
    assert any(after[gid] > n for gid, n in uniform.items())  # and the gates spent what it left

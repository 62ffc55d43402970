"""mcugraph.prune: budgets met by the exact analyses, physical cuts during training, one-line errors up front."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import mcugraph
from mcugraph import zoo as zoo_models
from mcugraph.datasets import digits
from mcugraph.errors import BudgetError, DataError
from mcugraph.prune.api import canonicalize, exact_resources, prune, unshare_initializers
from mcugraph.runtime import run_onnx

FAST = dict(epochs=2, batch_size=64, progress=False)


@pytest.fixture(scope="module")
def small_cnn(tmp_path_factory):
    """A width-8 digits CNN (≈3.6k parameters) as an .onnx file."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("prune") / "small.onnx"
    mcugraph.save(mcugraph.load(zoo_models.DigitsCNN(width=8).eval(), example_inputs=torch.rand(1, 1, 8, 8)), path)
    return path


@pytest.fixture(scope="module")
def train_subset():
    split = digits().train
    return split.x[:256], split.y[:256]


def test_prune_meets_budgets_in_exact_analysis(small_cnn, train_subset):
    """The returned model's TFLM arena, flash and MACs (exact analyses) are within the budgets."""
    result = prune(small_cnn, data=train_subset, ram=512, flash="4KiB", **FAST)
    after = exact_resources(result.model)
    assert after["ram"] <= 512 and after["flash"] <= 4096
    assert result.report["met"] and result.report["after"]["ram"] == after["ram"]
    assert result.report["before"]["ram"] > 512


def test_pruned_model_runs_and_keeps_its_interface(small_cnn, train_subset):
    """The pruned ONNX runs in onnxruntime with the original input and output shapes."""
    result = prune(small_cnn, data=train_subset, macs=20_000, **FAST)
    out = run_onnx(result.model, {"input": np.zeros((1, 1, 8, 8), np.float32)})[0]
    assert out.shape == (1, 10)
    assert sum(g["after"] for g in result.report["groups"]) < sum(g["before"] for g in result.report["groups"])


def test_channels_are_cut_during_training(small_cnn, train_subset):
    """With room for the gates (floor below 1), channels disappear from the live model while epochs run, not only at
    the end."""
    result = prune(small_cnn, data=train_subset, ram=400, epochs=4, batch_size=64, progress=False, floor=0.5)
    channels = [e["channels"] for e in result.report["epochs"]]
    assert channels[0] > channels[-1]
    assert result.report["epochs"][0]["phase"] == "prune"


@pytest.mark.parametrize("weights", ["fresh", "trained"])
def test_default_restarts_at_the_balanced_widths_before_the_first_epoch(small_cnn, train_subset, weights):
    """At floor 1 the gates could only end at the balanced allocation: the network restarts there at once and every
    epoch retrains it (the restart takes channels by the input's L1 norms, whatever the gates would have closed)."""
    from mcugraph.prune.allocation import balanced_counts
    from mcugraph.prune.budgets import Budgets
    from mcugraph.prune.channel_groups import channel_groups
    from mcugraph.prune.gates import gateable_groups
    from mcugraph.prune.resources import resource_model

    model = unshare_initializers(canonicalize(mcugraph.load(small_cnn)))
    groups = channel_groups(model)
    gated = gateable_groups(model, groups)
    rmodel = resource_model(model, groups, exact_resources(model)["order"])
    balanced = balanced_counts(rmodel, gated, Budgets(ram=400))
    result = prune(small_cnn, data=train_subset, ram=400, epochs=3, batch_size=64, tflm_check=False,
                   restart_weights=weights)
    assert result.report["restarted_at_epoch"] == 0 and result.report["met"]
    assert [e["phase"] for e in result.report["epochs"]] == ["train"] * 3
    assert {r["id"]: r["after"] for r in result.report["groups"] if r["prunable"]} == {
        gid: max(2, n) for gid, n in balanced.items()}


def test_unreachable_budget_fails_before_training(small_cnn, train_subset):
    """A budget below one channel per group is refused at once, naming the minimum."""
    with pytest.raises(BudgetError, match="minimum"):
        prune(small_cnn, data=train_subset, ram=16, **FAST)


def test_no_budget_is_an_error(small_cnn, train_subset):
    """Pruning without any budget is refused."""
    with pytest.raises(BudgetError, match="no budget"):
        prune(small_cnn, data=train_subset, **FAST)


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        (np.zeros((4, 1, 7, 7), np.float32), np.zeros(4, np.int64), "expects"),
        (np.zeros((4, 1, 8, 8), np.float32), np.array([0, 1, 2, 10]), "labels range"),
        (np.zeros((0, 1, 8, 8), np.float32), np.zeros(0, np.int64), "empty"),
    ],
)
def test_bad_data_is_one_line_data_error(small_cnn, x, y, message):
    """Wrong sample shape, labels outside the outputs and an empty set raise DataError."""
    with pytest.raises(DataError, match=message) as info:
        prune(small_cnn, data=(x, y), ram=512, **FAST)
    assert "\n" not in str(info.value)


def test_model_without_prunable_channels_is_refused(tmp_path, train_subset):
    """A single Gemm classifier has no prunable group: BudgetError."""
    module = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10)).eval()
    path = tmp_path / "linear.onnx"
    mcugraph.save(mcugraph.load(module, example_inputs=torch.rand(1, 1, 8, 8)), path)
    with pytest.raises(BudgetError, match="no prunable"):
        prune(path, data=train_subset, flash=100, **FAST)

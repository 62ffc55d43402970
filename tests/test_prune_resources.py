"""The differentiable resource model: exact at whole channel counts, differentiable in between."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from prune_checks import assert_resources_exact

import mcugraph
from mcugraph.analysis.costs import node_costs
from mcugraph.analysis.flash import predicted_flash_bytes
from mcugraph.memory.kernel_view import kernel_view
from mcugraph.memory.peak import peak_memory
from mcugraph.prune.api import canonicalize, unshare_initializers
from mcugraph.prune.channel_groups import channel_groups
from mcugraph.prune.gates import gateable_groups
from mcugraph.prune.resources import resource_model


def _prepared(zoo, name):
    return unshare_initializers(canonicalize(mcugraph.load(zoo(name))))


def _random_keep(groups, seed):
    rng = np.random.default_rng(seed)
    keep = {}
    for g in groups:
        n = int(rng.integers(1, g.size + 1))
        keep[g.id] = tuple(sorted(rng.choice(g.size, n, replace=False).tolist()))
    return keep


@pytest.mark.parametrize("name", ["digits_cnn", "resnet", "inception", "mobilenetv2"])
def test_hard_counts_equal_exact_analyses(zoo, name):
    """At whole counts the model equals peak_memory, the analysis flash and MACs of the physically pruned model."""
    model = _prepared(zoo, name)
    groups = channel_groups(model)
    gated = gateable_groups(model, groups)
    order = [k.name for k in kernel_view(model).kernels]
    rmodel = resource_model(model, groups, order)
    assert_resources_exact(model, rmodel, order, _random_keep(gated, seed=1))


def test_unpruned_model_is_priced_exactly(zoo):
    """With no counts given every group counts at full size: the unpruned model's own figures."""
    model = _prepared(zoo, "digits_cnn")
    rmodel = resource_model(model, channel_groups(model))
    costs = node_costs(model)
    result = rmodel.evaluate()
    assert float(result["ram"]) == peak_memory(kernel_view(model)).peak_bytes
    assert float(result["flash"]) == predicted_flash_bytes(model)  # the .tflite opt writes (min-peak order)
    assert float(rmodel.weight_bytes({g: float(n) for g, n in rmodel.sizes.items()})) == sum(
        c.weight_bytes for c in costs)


def test_soft_counts_have_gradients(zoo):
    """Soft counts give every resource a gradient; shrinking a group on the peak step lowers peak SRAM."""
    model = _prepared(zoo, "digits_cnn")
    groups = channel_groups(model)
    gated = gateable_groups(model, groups)
    rmodel = resource_model(model, groups)
    counts = {g.id: torch.tensor(float(g.size) - 0.5, dtype=torch.float64, requires_grad=True) for g in gated}
    result = rmodel.evaluate(counts)
    for resource in ("ram", "flash", "macs"):
        grads = torch.autograd.grad(result[resource], list(counts.values()), retain_graph=True, allow_unused=True)
        assert any(g is not None and float(g) > 0 for g in grads), resource


def test_sram_rounds_each_tensor_to_16_bytes(zoo):
    """A tensor of 1 channel x 8x8 int8 is 64 bytes; a 3x3 spatial one would round 9 up to 16 (TFLM alignment)."""
    model = _prepared(zoo, "digits_cnn")
    groups = channel_groups(model)
    rmodel = resource_model(model, groups)
    sizes = rmodel.tensor_bytes({g.id: torch.tensor(1.0, dtype=torch.float64) for g in groups})
    assert all(float(v) % 16 == 0 for v in sizes.values())

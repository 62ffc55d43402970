"""The narrow TFLM arena probe of pruning: the same head as the full export, without calibration."""

from __future__ import annotations

import pytest
from conftest import zoo_canonical

import mcugraph
from mcugraph.prune.api import apply_keep, unshare_initializers
from mcugraph.prune.channel_groups import channel_groups
from mcugraph.prune.gates import gateable_groups
from mcugraph.prune.probe import tflm_arena_head


@pytest.mark.parametrize("name", ["digits_cnn", "resnet", "mobilenetv2"])
def test_probe_equals_full_export_head_on_pruned_models(name):
    """Fixed quantisation parameters give TFLM's arena head of the calibrated, verified export, pruned or not."""
    model = unshare_initializers(zoo_canonical(name))
    gated = gateable_groups(model, channel_groups(model))
    keep = {g.id: tuple(range(0, g.size, 3)) for g in gated}  # every third channel of every group
    for candidate in (model, apply_keep(model, keep)):
        full = mcugraph.optimize(apply_keep(candidate, {}), calib="random:0,1,16", progress=False)
        assert tflm_arena_head(candidate) == full.report["arena_head_bytes"]


def test_probe_sees_a_smaller_model():
    """A probe that ignored the cut (e.g. measured the unpruned model) would fail here."""
    model = unshare_initializers(zoo_canonical("digits_cnn"))
    gated = gateable_groups(model, channel_groups(model))
    pruned = apply_keep(model, {g.id: (0, 1) for g in gated})
    assert tflm_arena_head(pruned) < tflm_arena_head(model)

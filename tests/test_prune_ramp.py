"""The restart's gradual narrowing (ramp.py): BatchNorm-aware slicing and norms, the cubic widths, the API path."""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest
import torch

import mcugraph
from mcugraph import zoo as zoo_models
from mcugraph.cli.main import main
from mcugraph.datasets import digits
from mcugraph.prune.api import apply_keep, canonicalize, exact_resources, prune, unshare_initializers
from mcugraph.prune.channel_groups import channel_groups
from mcugraph.prune.gates import gateable_groups
from mcugraph.prune.ramp import cubic_widths
from mcugraph.prune.renorm import fold_batchnorm, install_batchnorm
from mcugraph.prune.restart import channel_norms, live_channel_norms
from mcugraph.prune.slicing import slice_module
from mcugraph.prune.torch_module import GraphModule


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    loaded = mcugraph.load(zoo_models.DigitsCNN(width=8).eval(), example_inputs=torch.rand(1, 1, 8, 8))
    return unshare_initializers(canonicalize(loaded))


def _with_batchnorm(model, x):
    """A GraphModule of ``model`` with BatchNorm after every conv, its affine maps and statistics made non-trivial."""
    module = GraphModule(model)
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    assert install_batchnorm(module, model, x, optimizer, identity=False) > 0
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for norm in module.renorm.values():
            for tensor in (norm.weight, norm.bias, norm.running_mean):
                tensor.copy_(torch.randn(tensor.shape, generator=generator))
            norm.running_var.copy_(torch.rand(norm.running_var.shape, generator=generator) + 0.5)
    return module.eval(), optimizer


def test_slicing_cuts_the_batchnorms_with_their_convs(model):
    """Slicing a module with BatchNorm installed, then folding, gives exactly the folded model cut to the same
    channels; twice in a row (cumulative keeps) as once."""
    x = torch.from_numpy(digits().train.x[:64])
    groups = channel_groups(model)
    first, second = gateable_groups(model, groups)[:2]
    keep_a = {first.id: (0, 2, 3, 5, 6, 7), second.id: tuple(range(1, second.size))}
    keep_b = {first.id: (2, 5, 7)}
    module, optimizer = _with_batchnorm(model, x)
    reference = copy.deepcopy(module)
    slice_module(module, groups, keep_a, optimizer)
    slice_module(module, groups, keep_b, optimizer)
    with torch.no_grad():
        got = module(x)
    folded = apply_keep(model, {})  # a copy
    fold_batchnorm(reference, folded)
    reference.write_back(folded)
    cut = apply_keep(folded, {first.id: keep_b[first.id], second.id: keep_a[second.id]})
    with torch.no_grad():
        expected = GraphModule(cut).eval()(x)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_live_norms_fold_the_batchnorm_scale(model):
    """Identity BatchNorm (the restart's): live norms are the input model's; a channel the BatchNorm scales by s
    has its norm scaled by |s|."""
    x = torch.from_numpy(digits().train.x[:256])
    group = gateable_groups(model, channel_groups(model))[0]
    module = GraphModule(model)
    install_batchnorm(module, model, x, identity=True)
    np.testing.assert_allclose(live_channel_norms(module, model, group), channel_norms(model, group), rtol=1e-4)
    norm = next(iter(module.renorm.values()))
    with torch.no_grad():
        norm.weight[1] *= -3.0
    expected = channel_norms(model, group)
    expected[1] *= 3.0
    np.testing.assert_allclose(live_channel_norms(module, model, group), expected, rtol=1e-4)


def test_cubic_widths_go_from_full_to_the_targets():
    sizes, targets = {1: 64, 2: 16}, {1: 20, 2: 16}
    steps = [cubic_widths(sizes, targets, t, 10) for t in range(1, 13)]
    assert steps[0][1] < 64 and steps[0][2] == 16
    assert all(a[1] >= b[1] for a, b in itertools.pairwise(steps))
    assert steps[8][1] > 20 and all(s == targets for s in steps[9:])
    first_cut, last_cut = 64 - steps[0][1], steps[8][1] - steps[9][1]
    assert first_cut > last_cut  # most channels go early


def test_ramped_prune_narrows_over_the_ramp_and_ends_at_the_one_shot_widths(model):
    split = digits().train
    data = (split.x[:256], split.y[:256])
    kwargs = dict(data=data, ram=512, flash="4KiB", epochs=6, batch_size=32, tflm_check=False, seed=0)
    once = prune(model, restart_ramp=0, **kwargs)
    ramped = prune(model, restart_ramp=0.5, **kwargs)
    channels = [e["channels"] for e in ramped.report["epochs"]]
    total = sum(g.size for g in gateable_groups(model, channel_groups(model)))
    assert total > channels[0] > channels[1] > channels[2] == channels[-1]  # 3 epochs of ramp: 0.5 of 6
    assert [e["channels"] for e in once.report["epochs"]] == [channels[-1]] * 6
    widths = {g: len(k) for g, k in ramped.report["keep"].items()}
    assert widths == {g: len(k) for g, k in once.report["keep"].items()}
    after = exact_resources(ramped.model)
    assert ramped.report["met"] and after["ram"] <= 512 and after["flash"] <= 4096
    assert ramped.report["epochs"][0]["resources"]["flash"] > 4096  # the first epoch trained a wider network


def test_cli_refuses_a_ramp_outside_zero_to_one(tmp_path, capsys, model):
    path = tmp_path / "m.onnx"
    mcugraph.save(model, path)
    out = tmp_path / "p.onnx"
    code = main(["prune", str(path), "-o", str(out), "--data", "digits", "--flash", "4KiB", "--restart-ramp", "1.5"])
    assert code == 2 and not out.exists()
    err = capsys.readouterr().err
    assert "restart_ramp" in err and "Traceback" not in err

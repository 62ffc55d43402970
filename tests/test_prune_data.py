"""Pruning data from where users keep it: torch Dataset / DataLoader / batch iterables, a loss callable, uint8 .npz."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import mcugraph
from mcugraph import zoo as zoo_models
from mcugraph.cli.main import main
from mcugraph.datasets import digits
from mcugraph.errors import DataError
from mcugraph.prune.api import exact_resources, prune
from mcugraph.prune.data import load_dataset, parse_scale


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A width-8 digits CNN (.onnx), its IR and 128 training samples."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("prune_data") / "small.onnx"
    mcugraph.save(mcugraph.load(zoo_models.DigitsCNN(width=8).eval(), example_inputs=torch.rand(1, 1, 8, 8)), path)
    split = digits().train
    return path, mcugraph.load(path), split.x[:128], split.y[:128]


def forms(x, y):
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    dataset = TensorDataset(tx, ty)
    return {
        "tensors": (tx, ty),
        "dataset": dataset,
        "dataloader": DataLoader(dataset, batch_size=50),  # 50 does not divide 128: a short last batch
        "generator": ((x[i:i + 32], y[i:i + 32]) for i in range(0, len(y), 32)),
        "samples": [(x[i], int(y[i])) for i in range(len(y))],
    }


@pytest.mark.parametrize("form", ["tensors", "dataset", "dataloader", "generator", "samples"])
def test_every_form_reads_as_the_arrays(small, form):
    """Each accepted form yields exactly the arrays, in order."""
    _, model, x, y = small
    data = load_dataset(forms(x, y)[form], model, "ce", "data")
    np.testing.assert_array_equal(data.x, x)
    np.testing.assert_array_equal(data.y, y)
    assert data.x.dtype == np.float32 and data.y.dtype == np.int64


def test_uint8_inputs_need_a_stated_scale(small):
    """uint8 images are refused without a scale and equal x/255 with data_scale 1/255."""
    _, model, x, y = small
    images = np.round(x * 255).astype(np.uint8)
    with pytest.raises(DataError, match="--data-scale"):
        load_dataset((images, y), model, "ce", "data")
    data = load_dataset((images, y), model, "ce", "data", parse_scale("1/255"))
    np.testing.assert_allclose(data.x, images.astype(np.float32) / 255, rtol=1e-6)
    shifted = load_dataset((images, y), model, "ce", "data", 2 / 255, -1.0)
    assert shifted.x.min() >= -1.0 and shifted.x.max() <= 1.0


@pytest.mark.parametrize(
    ("labels", "message"),
    [(np.array(["cat"] * 128), "integer class indices.*got dtype <U3"), (np.full(128, 0.5), "non-integral"),
     (np.zeros((128, 2), np.int64), r"shape \(N,\)"), (np.full(128, 10), r"labels range 10..10")],
    ids=["strings", "fractions", "two-columns", "out-of-range"],
)
def test_bad_labels_are_one_line_errors(small, labels, message):
    _, model, x, _ = small
    with pytest.raises(DataError, match=message):
        load_dataset((x, labels), model, "ce", "data")


def test_bad_items_and_scales_are_refused(small):
    _, model, x, y = small
    with pytest.raises(DataError, match=r"item 0 .*\(x, y\) pair"):
        load_dataset([x[:4]], model, "ce", "data")
    with pytest.raises(DataError, match="1/0"):
        parse_scale("1/0")
    with pytest.raises(DataError, match="a torch Dataset or DataLoader"):
        load_dataset(42, model, "ce", "data")


def test_prune_from_a_dataloader_with_a_loss_callable(small):
    """A DataLoader and the user's loss drive pruning; the budget is met and the loss saw every batch."""
    path, _, x, y = small
    calls = []

    def smoothed(output, target):
        calls.append(len(target))
        return torch.nn.functional.cross_entropy(output, target, label_smoothing=0.1)

    loader = DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=16, shuffle=True)
    result = prune(path, data=loader, loss=smoothed, ram=512, epochs=1, batch_size=32, progress=False)
    assert exact_resources(result.model)["ram"] <= 512
    assert sum(calls) == len(y)


def test_cli_takes_uint8_npz_with_data_scale(small, tmp_path, capsys):
    """`--data-scale 1/255` makes a uint8 .npz usable; without it: exit 2, one line, nothing written."""
    path, _, x, y = small
    data = tmp_path / "u8.npz"
    np.savez(data, x=np.round(x * 255).astype(np.uint8), y=y)
    out = tmp_path / "p.onnx"
    args = ["prune", str(path), "-o", str(out), "--data", str(data), "--ram", "512", "--epochs", "1"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--data-scale" in err[0] and not out.exists()
    assert main([*args, "--data-scale", "1/255"]) == 0
    assert exact_resources(mcugraph.load(out))["ram"] <= 512

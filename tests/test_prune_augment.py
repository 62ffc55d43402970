"""``prune --augment`` and ``--quiet``: the transforms, their text form, and that the CLI hands them to prune."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import mcugraph
import mcugraph.prune.api
from mcugraph import zoo
from mcugraph.cli.main import main
from mcugraph.errors import DataError
from mcugraph.prune.augment import build_augment, crop, flip, flip_crop, noise, parse_augment


def test_parse_defaults_and_values():
    """Bare names take their defaults; ``name=value`` overrides them."""
    assert parse_augment("flip,crop") == [("flip", None), ("crop", 4.0)]
    assert parse_augment("crop=2, noise=0.1") == [("crop", 2.0), ("noise", 0.1)]
    assert parse_augment("noise") == [("noise", 0.05)]


@pytest.mark.parametrize("text", ["rotate", "flip=1", "crop=-1", "crop=1.5", "noise=x", ""])
def test_parse_refuses_bad_text(text):
    """Unknown transforms and bad amounts are refused with the list of known ones or an example."""
    with pytest.raises(DataError, match="--augment"):
        parse_augment(text)


def test_flip_flips_about_half_of_the_samples():
    """Each sample is either itself or its left-right mirror, and both happen."""
    torch.manual_seed(0)
    x = torch.arange(64 * 2 * 3 * 5, dtype=torch.float32).reshape(64, 2, 3, 5)
    y = flip(x)
    same = (y == x).flatten(1).all(1)
    mirrored = (y == x.flip(3)).flatten(1).all(1)
    assert bool((same | mirrored).all()) and 10 < int(mirrored.sum()) < 54


def test_crop_is_a_shift_within_the_padding():
    """A crop keeps the shape and moves the image by at most ``pad`` pixels, filling with zeros."""
    torch.manual_seed(0)
    x = torch.rand(32, 3, 8, 8) + 1.0  # no zeros of its own
    y = crop(x, 2)
    assert y.shape == x.shape
    for sample, out in zip(x, y, strict=True):
        padded = torch.nn.functional.pad(sample, (2, 2, 2, 2))
        assert any(torch.equal(padded[:, dy:dy + 8, dx:dx + 8], out) for dy in range(5) for dx in range(5))
    assert not torch.equal(y, x) and bool((y == 0).any())
    assert torch.equal(crop(x, 0), x)


def test_noise_has_the_given_spread():
    """Gaussian noise of std S: the difference's standard deviation is S."""
    torch.manual_seed(0)
    x = torch.zeros(100_000)
    assert abs(float(noise(x, 0.2).std()) - 0.2) < 0.005


def test_flip_crop_is_the_benchmarks_augmentation():
    """The CIFAR benchmark trains with this module's flip_crop (one home for the transform)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import pruning_cifar

    assert pruning_cifar.flip_crop is flip_crop


def test_build_refuses_images_transforms_on_other_input():
    """flip/crop on a non-image input is refused before training, naming the input and the way out."""
    with pytest.raises(DataError, match=r"needs image input \(N, C, H, W\).*'features'.*--augment noise"):
        build_augment("noise,flip", (1, 40), "features")
    assert build_augment("noise", (1, 40))(torch.zeros(4, 40)).shape == (4, 40)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A width-4 digits CNN and 128 training samples."""
    root = tmp_path_factory.mktemp("augment_cli")
    torch.manual_seed(0)
    model = root / "small.onnx"
    mcugraph.save(mcugraph.load(zoo.DigitsCNN(width=4).eval(), example_inputs=torch.rand(1, 1, 8, 8)), model)
    split = mcugraph.datasets.digits().train
    data = root / "train.npz"
    np.savez(data, x=split.x[:128], y=split.y[:128])
    return root, model, data


def test_cli_hands_augment_and_quiet_to_prune(files, monkeypatch):
    """``--augment crop=1`` reaches prune() as a transform doing a 1-pixel crop; ``--quiet`` turns progress off."""
    root, model, data = files
    seen = {}

    def fake_prune(model, **kwargs):
        seen.update(kwargs)
        raise DataError("stop here")

    monkeypatch.setattr(mcugraph.prune.api, "prune", fake_prune)
    base = ["prune", str(model), "-o", str(root / "p.onnx"), "--data", str(data), "--ram", "256"]
    assert main(base) == 2
    assert seen["augment"] is None and seen["progress"] is True
    assert main([*base, "--augment", "crop=1", "--quiet"]) == 2
    assert seen["progress"] is False
    x = torch.rand(16, 1, 8, 8) + 1.0
    torch.manual_seed(3)
    expected = crop(x, 1)
    torch.manual_seed(3)
    assert torch.equal(seen["augment"](x), expected)


def test_cli_bad_augment_is_one_line(files, capsys):
    """A bad --augment is exit 2 with one line, before any training, and no output."""
    root, model, data = files
    out = root / "never.onnx"
    rc = main(["prune", str(model), "-o", str(out), "--data", str(data), "--ram", "256", "--augment", "rotate"])
    err = capsys.readouterr().err
    assert rc == 2 and "unknown transform 'rotate'" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_prune_with_augment_and_quiet_end_to_end(files, capsys):
    """A real run with the bare --augment (flip,crop) trains, writes the model and prints nothing on stderr."""
    root, model, data = files
    out = root / "aug.onnx"
    rc = main(["prune", str(model), "-o", str(out), "--data", str(data), "--ram", "256", "--epochs", "1",
               "--augment", "--quiet"])
    captured = capsys.readouterr()
    assert rc == 0 and out.exists() and captured.err == ""
    assert "wrote" in captured.out


def test_prune_progress_without_quiet(files, capsys):
    """Without --quiet (not a terminal) every epoch is one line on stderr with accuracy and the resources."""
    root, model, data = files
    rc = main(["prune", str(model), "-o", str(root / "loud.onnx"), "--data", str(data), "--ram", "256",
               "--epochs", "1"])
    err = capsys.readouterr().err
    assert rc == 0
    assert "epoch" in err and " acc " in err and "ram " in err

"""`mcugraph prune` and `mcugraph opt --prune`: outputs within budget, one-line errors with exit 2 and no file."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import mcugraph
from mcugraph import zoo as zoo_models
from mcugraph.cli.main import main
from mcugraph.datasets import digits
from mcugraph.prune.api import exact_resources


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A width-8 digits CNN and 256 training samples as .onnx and .npz."""
    root = tmp_path_factory.mktemp("prune_cli")
    torch.manual_seed(0)
    model = root / "small.onnx"
    mcugraph.save(mcugraph.load(zoo_models.DigitsCNN(width=8).eval(), example_inputs=torch.rand(1, 1, 8, 8)), model)
    split = digits().train
    data = root / "train.npz"
    np.savez(data, x=split.x[:256], y=split.y[:256])
    bad = root / "bad_labels.npz"
    np.savez(bad, x=split.x[:16], y=np.full(16, 12))
    return root, model, data, bad


def test_prune_writes_model_within_budget(files, capsys):
    """The written ONNX meets --ram in the exact arena analysis and the table is printed."""
    root, model, data, _ = files
    out = root / "pruned.onnx"
    rc = main(["prune", str(model), "-o", str(out), "--data", str(data), "--ram", "512", "--epochs", "2"])
    assert rc == 0
    assert exact_resources(mcugraph.load(out))["ram"] <= 512
    printed = capsys.readouterr().out
    assert "resource" in printed and "ram" in printed
    # What was given and what derived: an untrained model is a teacher of mistakes, so no distillation.
    assert "schedule: 2 epochs (given" in printed and "batch 16 (derived; 256 samples)" in printed
    assert "distillation α 0 (derived: the unpruned model is right on" in printed


def test_prune_json_to_stdout(files, capsys):
    """--json alone prints the report as JSON with resources before and after."""
    root, model, data, _ = files
    rc = main(["prune", str(model), "-o", str(root / "j.onnx"), "--data", str(data), "--macs", "20k",
               "--epochs", "1", "--json"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert report["after"]["macs"] <= 20_000 < report["before"]["macs"]
    schedule = report["schedule"]
    assert schedule["distill"] == 0 and schedule["distill_derived"] and schedule["teacher_train_accuracy"] < 0.9


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--ram", "16"], "minimum"), (["--ram", "1KiBB"], "--ram"), (["--ram", "512", "--data", "BAD"], "labels")],
)
def test_bad_input_exits_2_without_output(files, capsys, extra, message):
    """Unreachable budget, malformed budget, labels outside the outputs: exit 2, one line, nothing written."""
    root, model, data, bad = files
    out = root / "never.onnx"
    args = ["prune", str(model), "-o", str(out), "--data", str(data), "--epochs", "1"]
    args += [str(bad) if a == "BAD" else a for a in extra]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_opt_prune_tflm_arena_within_budget(files):
    """`opt --prune` exports an int8 .tflite whose TFLM arena head meets --ram."""
    from mcugraph.tflite.tflm import arena_head

    root, model, data, _ = files
    out = root / "pruned.tflite"
    rc = main(["opt", str(model), "-o", str(out), "--prune", "--data", str(data), "--ram", "512", "--epochs", "1",
               "--calib", "digits", "--no-progress"])
    assert rc == 0
    assert arena_head(out.read_bytes()) <= 512

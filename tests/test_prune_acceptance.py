"""Acceptance of issue 8 on a CNN shaped unlike the zoo's, measured on the exported int8 models in TFLite Micro.

Four 3x3 conv layers 32/48/64/64 with BatchNorm, a max-pool after the second, global pooling and a linear head
(~80 KB of int8 weights), trained 30 epochs on digits; then exactly the command a user types, **no recipe flag**:

    mcugraph prune base.onnx -o pruned.onnx --data train.npz --ram HEAD/8 --flash WEIGHTS/16

(``--flash`` counts the whole .tflite since issue 28, so WEIGHTS/16 as a flash budget also pays the file's tables:
stricter than issue 8's weights-only budget; the criterion stays 16x fewer weight + bias bytes.)
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import mcugraph
from mcugraph.cli.main import main
from mcugraph.datasets import digits
from mcugraph.demo import tflite_accuracy, train_classifier
from mcugraph.prune.api import exact_resources
from mcugraph.zoo import FourConvCNN

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    data = digits()
    folder = tmp_path_factory.mktemp("accept")
    torch.manual_seed(0)
    module = train_classifier(FourConvCNN(), data.train, epochs=30)
    base_path, pruned_path, train_path = folder / "base.onnx", folder / "pruned.onnx", folder / "train.npz"
    mcugraph.save(mcugraph.load(module, example_inputs=torch.rand(1, 1, 8, 8)), base_path)
    np.savez(train_path, x=data.train.x, y=data.train.y)
    weights = exact_resources(mcugraph.run_pipeline(mcugraph.load(base_path), mcugraph.CANONICALIZE).model)["weights"]
    base = mcugraph.optimize(base_path, calib="digits", progress=False)
    ram, flash = base.report["arena_head_bytes"] // 8, weights // 16
    assert main(["prune", str(base_path), "-o", str(pruned_path), "--data", str(train_path),
                 "--ram", str(ram), "--flash", str(flash)]) == 0
    pruned = mcugraph.optimize(pruned_path, calib="digits", progress=False)
    return {
        "base_head": base.report["arena_head_bytes"], "head": pruned.report["arena_head_bytes"],
        "base_flash": weights, "flash": exact_resources(mcugraph.load(pruned_path))["weights"],
        "base_acc": tflite_accuracy(base.tflite, data.test),
        "acc": tflite_accuracy(pruned.tflite, data.test),
    }


def test_sram_8x_and_flash_16x_lower_in_tflm(outcome):
    """TFLM's arena head falls 8x and int8 weight + int32 bias bytes 16x."""
    assert outcome["head"] * 8 <= outcome["base_head"]
    assert outcome["flash"] * 16 <= outcome["base_flash"]


def test_accuracy_within_one_point_in_tflm(outcome):
    """The pruned int8 model loses at most 1 point of test accuracy in TFLM, with the tool's default schedule."""
    assert outcome["acc"] >= outcome["base_acc"] - 0.01

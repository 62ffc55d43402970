"""The README's main job: train the default digits CNN for a few seconds, export ONNX, then analyse and optimise.

``mcugraph demo`` is the shortest path from a fresh install to a verified int8 .tflite: everything it needs ships
with the dependencies (scikit-learn's bundled digits), so it runs on a machine without network access.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from mcugraph.datasets import Split


def train_classifier(
    module: nn.Module, train: Split, *, epochs: int = 8, seconds: float | None = None, lr: float = 3e-3,
    batch_size: int = 64, seed: int = 0,
) -> nn.Module:
    """Plain Adam + cross-entropy training, stopped after ``epochs`` or ``seconds`` (whichever first)."""
    torch.manual_seed(seed)
    x = torch.from_numpy(train.x)
    y = torch.from_numpy(train.y)
    optimizer = torch.optim.Adam(module.parameters(), lr=lr)
    start = time.perf_counter()
    module.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(y)).split(batch_size):
            optimizer.zero_grad()
            nn.functional.cross_entropy(module(x[idx]), y[idx]).backward()
            optimizer.step()
        if seconds is not None and time.perf_counter() - start > seconds:
            break
    return module.eval()


def accuracy(module: nn.Module, split: Split) -> float:
    """Top-1 accuracy of a torch module on ``split`` (fraction, 0..1)."""
    with torch.no_grad():
        logits = module.eval()(torch.from_numpy(split.x))
    return float((logits.argmax(1).numpy() == split.y).mean())


def onnx_accuracy(model, split: Split) -> float:
    """Top-1 accuracy of an ONNX/IR model in onnxruntime on ``split``."""
    from mcugraph.runtime import run_onnx

    name = model.graph.inputs[0].name
    predictions = [run_onnx(model, {name: x[None]})[0].argmax() for x in split.x]
    return float((np.array(predictions) == split.y).mean())


def tflite_accuracy(data: bytes, split: Split) -> float:
    """Top-1 accuracy of a .tflite classifier in TFLite Micro on ``split`` (inputs quantised as the file says)."""
    from mcugraph.export.verify import tensor_io, to_tflite
    from mcugraph.tflite.tflm import run_tflm_batch

    (input_io,), _ = tensor_io(data)
    batch = [[to_tflite(x[None], input_io)] for x in split.x]
    outputs = run_tflm_batch(data, batch)
    predictions = np.array([int(np.argmax(out[0])) for out in outputs])
    return float((predictions == split.y).mean())

"""A tiny int8 CNN as .tflite for the on-chip tests: small enough that its bundle compiles in a second."""

from __future__ import annotations

import functools

import torch
from torch import nn


class TinyCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(4 * 4 * 4, 10)

    def forward(self, x):
        return torch.softmax(self.fc(torch.flatten(self.pool(torch.relu(self.conv(x))), 1)), dim=1)


@functools.cache
def tiny_tflite() -> bytes:
    from mcugraph import zoo
    from mcugraph.optimize import optimize

    torch.manual_seed(0)
    onnx_model = zoo.export(TinyCNN().eval(), torch.rand(1, 1, 8, 8))
    return optimize(onnx_model, calib="random:0,1,16", progress=False, warn=lambda _: None).tflite

"""Verification feeds inputs in the layout the exporter chose, even when the shape cannot tell (C == H == W)."""

from __future__ import annotations

import torch
from torch import nn

import mcugraph


def test_cube_input_is_transposed_for_verification():
    """A 1x4x4x4 NCHW model exports and verifies at high SQNR: samples are permuted to NHWC, not guessed."""
    torch.manual_seed(0)
    module = nn.Sequential(nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 2, 1)).eval()
    example = torch.rand(1, 4, 4, 4)
    result = mcugraph.optimize(mcugraph.load(module, example_inputs=example), quantize=False)
    assert result.report["verification"]["sqnr_db"] > 60

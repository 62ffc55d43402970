"""The PyTorch import runs what CANONICALIZE makes of HardSigmoid (Mul, Add, Relu, Min)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

import mcugraph
from mcugraph.prune.torch_module import GraphModule
from mcugraph.runtime import run_onnx


def test_decomposed_hardsigmoid_matches_onnxruntime():
    """GraphModule equals onnxruntime on a canonicalised Conv-HardSigmoid-Conv model (Min handler present)."""
    torch.manual_seed(0)
    module = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Hardsigmoid(), nn.Conv2d(8, 4, 1)).eval()
    x = torch.rand(1, 3, 8, 8) * 8 - 4  # both clamps of HardSigmoid are reached
    model = mcugraph.run_pipeline(mcugraph.load(module, example_inputs=x), mcugraph.CANONICALIZE).model
    assert "Min" in [n.op_type for n in model.graph]
    expected = run_onnx(model, {model.graph.inputs[0].name: x.numpy()})[0]
    with torch.no_grad():
        actual = GraphModule(model)(x).numpy()
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)

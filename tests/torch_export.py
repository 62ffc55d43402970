"""Export tiny torch modules the two ways torch 2.13 offers (tests of the rewriting passes); not a test module.

``dynamo=True`` is torch's default (opset 18+, weights in an external file); ``dynamo=False`` is the legacy
TorchScript exporter at opset 13, which spells several ops (HardSwish, LayerNorm, GELU) as small subgraphs.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import onnx_ir as ir
import torch

import mcugraph

EXPORTERS = ("dynamo", "legacy")


def export(module: torch.nn.Module, example: torch.Tensor, exporter: str, folder: Path) -> ir.Model:
    """``module`` (eval mode, seeded by the caller) exported by ``exporter`` and loaded with :func:`mcugraph.load`."""
    module.eval()
    path = folder / f"{type(module).__name__}_{exporter}.onnx"
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if exporter == "dynamo":
            torch.onnx.export(module, (example,), str(path), dynamo=True, verbose=False)
        else:
            torch.onnx.export(module, (example,), str(path), dynamo=False, opset_version=13)
    return mcugraph.load(str(path))

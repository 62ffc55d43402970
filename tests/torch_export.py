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
_EXPORTED: dict[tuple, Path] = {}  # the dynamo exporter takes seconds: each (module, exporter) once per session


def export(module: torch.nn.Module, example: torch.Tensor, exporter: str, folder: Path, key: str = "") -> ir.Model:
    """``module`` (eval mode, seeded by the caller) exported by ``exporter`` and loaded with :func:`mcugraph.load`.

    Exports are reused within a test session by class name, ``key``, exporter and input shape: callers build the
    same module deterministically (or pass a ``key`` telling variants apart).
    """
    cache_key = (type(module).__qualname__, key, exporter, tuple(example.shape))
    if cache_key in _EXPORTED and _EXPORTED[cache_key].exists():
        return mcugraph.load(str(_EXPORTED[cache_key]))
    module.eval()
    path = folder / f"{type(module).__name__}{key}_{exporter}.onnx"
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if exporter == "dynamo":
            torch.onnx.export(module, (example,), str(path), dynamo=True, verbose=False)
        else:
            torch.onnx.export(module, (example,), str(path), dynamo=False, opset_version=13)
    _EXPORTED[cache_key] = path
    return mcugraph.load(str(path))

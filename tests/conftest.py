"""Shared fixtures: the zoo's ONNX models (built once per session) and the MLPerf Tiny models from ../shared."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import onnx
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")  # tests run under xdist on 2 cores: no thread oversubscription

import torch  # noqa: E402

torch.set_num_threads(1)

try:
    from hypothesis import settings

    settings.register_profile("ci", max_examples=60, deadline=None)
    settings.load_profile("ci")
except ImportError:  # pragma: no cover
    pass

SHARED_MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "models" / "mlperf-tiny"
MLPERF = ("kws_dscnn", "vww_mobilenetv1", "ic_resnet8", "ad_autoencoder")


@pytest.fixture(scope="session")
def shared_models() -> Path:
    """The folder of MLPerf Tiny models; tests using it skip on a machine without ../shared."""
    if not SHARED_MODELS.is_dir():
        pytest.skip("../shared/models/mlperf-tiny is not present")
    return SHARED_MODELS


@functools.cache
def _zoo_bytes(name: str, keep_batchnorm: bool) -> bytes:
    from mcugraph import zoo

    return zoo.onnx_model(name, keep_batchnorm=keep_batchnorm).SerializeToString()


def zoo_onnx(name: str, keep_batchnorm: bool = True) -> onnx.ModelProto:
    """A fresh copy of the zoo model ``name`` as ONNX (export cached per test session)."""
    return onnx.ModelProto.FromString(_zoo_bytes(name, keep_batchnorm))


@pytest.fixture
def zoo():
    return zoo_onnx


@functools.cache
def _zoo_canonical_bytes(name: str) -> bytes:
    import mcugraph
    from mcugraph.load import to_bytes

    return to_bytes(mcugraph.run_pipeline(mcugraph.load(zoo_onnx(name)), mcugraph.CANONICALIZE).model)


def zoo_canonical(name: str):
    """A fresh onnx-ir copy of the zoo model ``name`` after ``mcugraph.CANONICALIZE`` (computed once per session)."""
    import onnx_ir as ir

    return ir.serde.deserialize_model(onnx.ModelProto.FromString(_zoo_canonical_bytes(name)))

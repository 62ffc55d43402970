"""Assertions shared by the canonicalisation pass tests (tests/test_passes_*.py); not a test module itself."""

from __future__ import annotations

import numpy as np
import onnx
import onnx_ir as ir

import mcugraph
from mcugraph.pipeline import check_model
from mcugraph.registry import create_pass
from mcugraph.runtime import input_feeds, run_onnx


def model(text: str) -> ir.Model:
    """An IR model from ONNX text (``onnx.parser`` syntax), loaded the way users load theirs."""
    return mcugraph.load(onnx.parser.parse_model(text))


def rewrites(pass_name: str, m: ir.Model, **options) -> ir.Model:
    """Run the pass; assert it reports a change, leaves valid IR and does not change onnxruntime's outputs."""
    feeds = input_feeds(m)
    before = run_onnx(m, feeds)
    names = [v.name for v in m.graph.outputs]
    result = create_pass(pass_name, options)(m)
    assert result.modified
    check_model(result.model, after=pass_name)
    assert [v.name for v in result.model.graph.outputs] == names
    for expected, actual in zip(before, run_onnx(result.model, feeds), strict=True):
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)
    return result.model


def unchanged(pass_name: str, m: ir.Model, **options) -> None:
    """Run the pass; assert it reports no change and really changed nothing."""
    before = ir.serde.serialize_model(m).SerializeToString(deterministic=True)
    result = create_pass(pass_name, options)(m)
    assert not result.modified
    assert ir.serde.serialize_model(result.model).SerializeToString(deterministic=True) == before


def ops(m: ir.Model) -> list[str]:
    return [node.op_type for node in m.graph]


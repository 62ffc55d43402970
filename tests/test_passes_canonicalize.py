"""The CANONICALIZE pipeline on the zoo and the MLPerf Tiny models: same outputs, canonical ops, idempotent."""

import numpy as np
import pytest
from conftest import MLPERF

import mcugraph
from mcugraph.passes._rewrite import constant_array
from mcugraph.pipeline import CANONICALIZE
from mcugraph.runtime import input_feeds, run_onnx
from mcugraph.zoo import MODELS

GONE = {"BatchNormalization", "Identity", "Dropout", "Flatten", "Constant"}


def _check_canonicalize(m):
    feeds = input_feeds(m)
    before = run_onnx(m, feeds)
    names = [v.name for v in m.graph.outputs]
    result = mcugraph.run_pipeline(m, CANONICALIZE, check=True)
    for expected, actual in zip(before, run_onnx(result.model, feeds), strict=True):
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)
    assert [v.name for v in result.model.graph.outputs] == names
    left = {node.op_type for node in result.model.graph} & GONE
    assert not left, f"left after canonicalisation: {left}"
    weight_dq = [n.name for n in result.model.graph
                 if n.op_type == "DequantizeLinear" and constant_array(n.inputs[0]) is not None]
    assert not weight_dq
    again = mcugraph.run_pipeline(result.model, CANONICALIZE, check=True)
    assert not again.modified, [t.name for t in again.timings if t.modified]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_zoo_model(zoo, name):
    """A zoo model canonicalises with unchanged outputs and no BN/Flatten/Constant left, idempotently."""
    _check_canonicalize(mcugraph.load(zoo(name)))


@pytest.mark.parametrize("name", MLPERF)
def test_mlperf_model(shared_models, name):
    """An MLPerf Tiny ONNX model canonicalises with unchanged outputs and no weight DequantizeLinear left."""
    _check_canonicalize(mcugraph.load(shared_models / f"{name}.onnx"))

"""Passes inside other compilers: preconditions are declared (onnx-ir ``requires``) and say how to fix the model."""

from __future__ import annotations

import io
import warnings

import numpy as np
import onnx
import onnx_ir as ir
import pytest
import torch

import mcugraph
from mcugraph.errors import InvalidModelError, ShapeError
from mcugraph.registry import create_pass, parse_pipeline
from mcugraph.runtime import input_feeds, run_onnx

optimizer = pytest.importorskip("onnxscript.optimizer")


class _Net(torch.nn.Module):
    """Conv, BatchNorm, HardSigmoid, pooling, flatten and Linear: most canonicalisation passes have work."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.fc = torch.nn.Linear(8 * 4 * 4, 4)

    def forward(self, x):
        y = torch.nn.functional.hardsigmoid(self.bn(self.conv(x)))
        return self.fc(torch.flatten(torch.nn.functional.max_pool2d(y, 2), 1))


def _symbolic_batch_model() -> ir.Model:
    """The net exported with a symbolic batch (legacy exporter, in memory), then run through onnxscript's optimizer."""
    torch.manual_seed(0)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(_Net().eval(), torch.rand(1, 3, 8, 8), buffer, dynamo=False, input_names=["x"],
                          dynamic_axes={"x": {0: "batch"}})
    model = ir.serde.deserialize_model(onnx.load_from_string(buffer.getvalue()))
    optimizer.optimize(model)
    assert not isinstance(model.graph.inputs[0].shape[0], int)  # the batch is still symbolic
    return model


def test_symbolic_batch_is_refused_before_the_pass_that_needs_static_shapes():
    """normalize-gemm declares static shapes: the error names it and says to use mcugraph.load."""
    with pytest.raises(ShapeError, match=r"pass 'normalize-gemm' needs static shapes.*mcugraph\.load"):
        mcugraph.run_pipeline(_symbolic_batch_model(), mcugraph.CANONICALIZE)


def test_checked_pipeline_blames_the_input_not_the_first_pass():
    """With check=True the model given to the pipeline is checked first: no 'after pass ...' in the message."""
    with pytest.raises(InvalidModelError) as info:
        mcugraph.run_pipeline(_symbolic_batch_model(), mcugraph.CANONICALIZE, check=True)
    assert "given to the pipeline" in str(info.value) and "mcugraph.load" in str(info.value)
    assert "after pass" not in str(info.value)


def test_onnx_ir_pass_manager_reports_the_precondition():
    """Run inside onnx-ir's own PassManager, the pass fails its precondition, with our message as the cause."""
    manager = ir.passes.PassManager([create_pass(n, o) for n, o in parse_pipeline(mcugraph.CANONICALIZE)], steps=1)
    with pytest.raises(ir.passes.PassError) as info:
        manager(_symbolic_batch_model())
    chain, error = [], info.value
    while error is not None:
        chain.append(error)
        error = error.__cause__
    assert [type(e) for e in chain[-2:]] == [ir.passes.PreconditionError, ShapeError]
    assert "normalize-gemm" in str(chain[-1]) and "mcugraph.load" in str(chain[-1])


def test_after_mcugraph_load_the_passes_run_in_onnx_ir_pass_manager():
    """The fix works: mcugraph.load, then mcugraph's passes in onnx-ir's PassManager, outputs unchanged."""
    model = mcugraph.load(_symbolic_batch_model())
    feeds = input_feeds(model, 0)
    before = run_onnx(model, feeds)
    manager = ir.passes.PassManager([create_pass(n, o) for n, o in parse_pipeline(mcugraph.CANONICALIZE)], steps=1)
    result = manager(model)
    assert result.modified
    ops = [node.op_type for node in result.model.graph]
    assert "HardSigmoid" not in ops and ops.count("Gemm") == 1
    np.testing.assert_allclose(run_onnx(result.model, feeds)[0], before[0], rtol=1e-5, atol=1e-5)

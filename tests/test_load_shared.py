"""mcugraph.load on the MLPerf Tiny ONNX models: tf2onnx exports with a symbolic batch and NHWC inputs."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

import mcugraph
from mcugraph.runtime import input_feeds, run_onnx

# name -> (NHWC / flat input shape after loading, does a layout Transpose follow the input?)
EXPECTED = {
    "kws_dscnn": ((1, 49, 10, 1), False),
    "vww_mobilenetv1": ((1, 96, 96, 3), True),
    "ic_resnet8": ((1, 32, 32, 3), True),
    "ad_autoencoder": ((1, 640), False),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shared_model_loads_static_and_runs_the_same(shared_models, name):
    """Symbolic batch becomes 1, every value is static, and outputs equal the file's in onnxruntime."""
    path = shared_models / f"{name}.onnx"
    assert onnx.load(path).graph.input[0].type.tensor_type.shape.dim[0].dim_param  # the quirk under test
    model = mcugraph.load(path)
    shape, transposed = EXPECTED[name]
    assert tuple(model.graph.inputs[0].shape) == shape
    values = [v for n in model.graph for v in n.outputs]
    assert all(v.shape is not None and all(isinstance(d, int) for d in v.shape) for v in values)
    first_consumers = {n.op_type for n in model.graph if model.graph.inputs[0] in n.inputs}
    assert ("Transpose" in first_consumers) == transposed
    feeds = input_feeds(model)
    for got, want in zip(run_onnx(model, feeds), run_onnx(onnx.load(path), feeds), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_shared_model_truncated_is_refused(shared_models, tmp_path):
    """The first half of a real model's bytes is reported as truncated, not as some protobuf error."""
    data = (shared_models / "kws_dscnn.onnx").read_bytes()
    (tmp_path / "half.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(mcugraph.errors.ModelLoadError, match="cut short"):
        mcugraph.load(tmp_path / "half.onnx")

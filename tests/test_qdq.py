"""QDQ models: activation scales are read exactly, the graph becomes float, and the export keeps those scales."""

from __future__ import annotations

import logging

import numpy as np
import onnx
import onnx_ir as ir
import pytest

import mcugraph
from mcugraph.errors import ExportError
from mcugraph.export.qdq import is_qdq_model, strip_activation_qdq
from mcugraph.export.quant_params import QuantParam
from mcugraph.runtime import run_onnx


def quantize_qdq(proto: onnx.ModelProto, tmp_path, samples: int = 8) -> onnx.ModelProto:
    """onnxruntime quantize_static, QDQ format, int8 activations and per-channel int8 weights."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    shape = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    rng = np.random.default_rng(0)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.feeds = iter([{"input": rng.uniform(0, 1, shape).astype(np.float32)} for _ in range(samples)])

        def get_next(self):
            return next(self.feeds, None)

    onnx.save(proto, tmp_path / "float.onnx")
    logging.disable(logging.WARNING)  # onnxruntime's "consider pre-processing" advice
    try:
        quantize_static(
            tmp_path / "float.onnx", tmp_path / "qdq.onnx", Reader(), quant_format=QuantFormat.QDQ,
            per_channel=True, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
        )
    finally:
        logging.disable(logging.NOTSET)
    return onnx.load(tmp_path / "qdq.onnx")


@pytest.fixture(scope="module")
def resnet_qdq(tmp_path_factory):
    from tests.conftest import zoo_onnx

    return quantize_qdq(zoo_onnx("resnet", keep_batchnorm=False), tmp_path_factory.mktemp("qdq"))


def _activation_scales(proto: onnx.ModelProto) -> dict[str, QuantParam]:
    """What onnxruntime wrote: QuantizeLinear input -> (scale, zero point), graph outputs by their public name."""
    consts = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    outputs = {o.name for o in proto.graph.output}
    dq_of = {n.input[0]: n.output[0] for n in proto.graph.node if n.op_type == "DequantizeLinear"}
    result = {}
    for node in proto.graph.node:
        if node.op_type == "QuantizeLinear" and node.input[0] not in consts:
            name = dq_of[node.output[0]] if dq_of[node.output[0]] in outputs else node.input[0]
            result[name] = QuantParam(float(consts[node.input[1]]), int(consts[node.input[2]]))
    return result


def test_strip_reads_every_onnxruntime_scale_exactly(resnet_qdq):
    """Every activation's (scale, zero point) equals the QuantizeLinear constants onnxruntime wrote."""
    model = mcugraph.load(resnet_qdq)
    mcugraph.run_pipeline(model, mcugraph.CANONICALIZE)
    params = strip_activation_qdq(model)
    expected = _activation_scales(resnet_qdq)
    assert {k: params[k] for k in expected} == expected


def test_strip_leaves_a_float_graph_with_the_same_outputs(resnet_qdq):
    """No QuantizeLinear/DequantizeLinear remains and the output keeps its name."""
    model = mcugraph.load(resnet_qdq)
    assert is_qdq_model(model)
    mcugraph.run_pipeline(model, mcugraph.CANONICALIZE)
    strip_activation_qdq(model)
    assert not {n.op_type for n in model.graph} & {"QuantizeLinear", "DequantizeLinear"}
    assert [o.name for o in model.graph.outputs] == [o.name for o in resnet_qdq.graph.output]
    assert not is_qdq_model(model)


def _pair_model(zero_point: str, scale: str = "float {0.05}", tail: str = "y = Reshape(d, shape)") -> ir.Model:
    """x -> QuantizeLinear -> DequantizeLinear -> Reshape (without Q/DQ of its own) -> y."""
    text = f"""
    <ir_version: 8, opset_import: ["" : 17]>
    g (float[1,6] x) => (float[2,3] y) {{
        s = Constant <value = {scale}> ()
        z = Constant <value = {zero_point}> ()
        shape = Constant <value = int64[2] {{2, 3}}> ()
        q = QuantizeLinear(x, s, z)
        d = DequantizeLinear(q, s, z)
        {tail}
    }}
    """
    return mcugraph.load(onnx.parser.parse_model(text))


def test_uint8_parameters_become_the_same_int8_mapping():
    """uint8 (s, z) becomes int8 (s, z - 128), and an unquantised Reshape inherits it."""
    model = _pair_model("uint8 {140}")
    feeds = {"x": np.linspace(-3, 3, 6, dtype=np.float32).reshape(1, 6)}
    params = strip_activation_qdq(model)
    assert params["x"] == QuantParam(0.05000000074505806, 12) and params["y"] == params["x"]
    np.testing.assert_array_equal(run_onnx(model, feeds)[0], feeds["x"].reshape(2, 3))


def test_per_axis_activation_scale_is_refused():
    """A QuantizeLinear with one scale per channel on an activation cannot become TFLite int8."""
    model = _pair_model("int8[6] {0, 0, 0, 0, 0, 0}", scale="float[6] {1, 1, 1, 1, 1, 1}")
    with pytest.raises(ExportError, match="per-axis"):
        strip_activation_qdq(model)


def test_quantized_value_used_by_another_op_is_refused():
    """An int8 value feeding something other than DequantizeLinear is refused with the node name."""
    model = _pair_model("int8 {0}", tail="c = Cast <to = 1> (q)\n y = Reshape(c, shape)")
    with pytest.raises(ExportError, match="must feed only DequantizeLinear"):
        strip_activation_qdq(model)


def test_qdq_export_keeps_the_scales_and_matches_onnxruntime(resnet_qdq):
    """The exported .tflite carries onnxruntime's activation scales and TFLM matches the QDQ model's output."""
    from mcugraph.tflite.schema import read

    result = mcugraph.optimize(resnet_qdq, progress=False, keep_names=True)  # names to find the scales by
    graph = read(result.tflite).subgraphs[0]
    scales = {t.name.decode(): (float(t.quantization.scale[0]), int(t.quantization.zeroPoint[0]))
              for t in graph.tensors if t.quantization is not None and t.quantization.scale is not None
              and len(t.quantization.scale) == 1}
    expected = _activation_scales(resnet_qdq)
    common = [name for name in expected if name in scales]
    assert len(common) >= len(expected) - 1
    for name in common:
        assert scales[name] == (pytest.approx(expected[name].scale, rel=1e-6), expected[name].zero_point)
    assert result.report["calibration"]["source"] == "QDQ scales"
    assert result.report["verification"]["sqnr_db"] > 25.0

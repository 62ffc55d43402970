"""Kernel view: which IR nodes become which TFLite kernels (fusion, aliases, concat chains), on small and real models."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import mcugraph
from mcugraph.errors import UnsupportedOpError
from mcugraph.memory.kernel_view import kernel_view
from mcugraph.memory.peak import peak_memory
from mcugraph.memory.planner import tflm_greedy_plan

MLPERF = ("kws_dscnn", "vww_mobilenetv1", "ic_resnet8", "ad_autoencoder")


def view(text: str, dtype: str = "int8", **weights: tuple[int, ...]):
    """Kernel view of an ONNX model in onnx.parser text (opset 17), with random float weights of the given shapes."""
    proto = onnx.parser.parse_model('<ir_version: 8, opset_import: ["" : 17]>\n' + text)
    rng = np.random.default_rng(0)
    for name, shape in weights.items():
        proto.graph.initializer.append(numpy_helper.from_array(rng.uniform(-1, 1, shape).astype(np.float32), name))
    return kernel_view(mcugraph.load(proto), dtype)


CONV_RELU = """
g (float[1,3,8,8] x) => (float[1,4,8,8] y)
{ c = Conv<pads=[1,1,1,1]>(x, w, b)
  y = Relu(c) }
"""


def test_relu_is_fused_into_the_conv():
    """Conv + Relu is one CONV_2D kernel writing the Relu's output; the bias is int32 (4 bytes/element)."""
    g = view(CONV_RELU, w=(4, 3, 3, 3), b=(4,))
    assert [(k.op, k.outputs) for k in g.kernels] == [("CONV_2D", ("y",))]
    assert len(g.kernels[0].nodes) == 2
    assert "c" not in g.tensors
    assert g.tensors["b"].constant and g.tensors["b"].itemsize == 4
    assert g.tensors["w"].constant and g.tensors["x"].itemsize == 1


def test_activation_not_fused_when_the_value_is_a_graph_output():
    """A Conv whose output is also a graph output keeps its Relu as a separate RELU kernel."""
    g = view("""
g (float[1,3,8,8] x) => (float[1,4,8,8] y, float[1,4,8,8] c)
{ c = Conv<pads=[1,1,1,1]>(x, w)
  y = Relu(c) }
""", w=(4, 3, 3, 3))
    assert [k.op for k in g.kernels] == ["CONV_2D", "RELU"]


def test_activation_not_fused_when_the_value_has_two_readers():
    """A Conv output read by a Relu and by an Add cannot absorb the Relu."""
    g = view("""
g (float[1,3,8,8] x) => (float[1,4,8,8] y)
{ c = Conv<pads=[1,1,1,1]>(x, w)
  r = Relu(c)
  y = Add(r, c) }
""", w=(4, 3, 3, 3))
    assert [k.op for k in g.kernels] == ["CONV_2D", "RELU", "ADD"]


def test_clip_0_6_fuses_as_relu6_and_other_clips_are_refused():
    """Clip(0,6) after an Add joins it; Clip(0,3) is no one TFLite kernel (decompose-clip writes it as MAXIMUM/
    MINIMUM) and is named in the error."""
    g = view("""
g (float[1,8] x, float[1,8] z) => (float[1,8] y) <float lo = {0.0}, float hi = {6.0}>
{ s = Add(x, z)
  y = Clip(s, lo, hi) }
""")
    assert [(k.op, len(k.nodes)) for k in g.kernels] == [("ADD", 2)]
    with pytest.raises(UnsupportedOpError, match=r"1 node\(s\).*\(Clip: not lowered by mcugraph yet as one kernel"):
        view("""
g (float[1,8] x) => (float[1,8] y) <float lo = {0.0}, float hi = {3.0}>
{ y = Clip(x, lo, hi) }
""")


def test_depthwise_conv_and_grouped_conv():
    """group == in channels is DEPTHWISE_CONV_2D; a group of 2 on 4 channels is a CONV_2D (TFLM runs groups)."""
    g = view("""
g (float[1,4,8,8] x) => (float[1,8,8,8] y)
{ y = Conv<group=4, pads=[1,1,1,1]>(x, w) }
""", w=(8, 1, 3, 3))
    assert [k.op for k in g.kernels] == ["DEPTHWISE_CONV_2D"]
    g = view("""
g (float[1,4,8,8] x) => (float[1,4,8,8] y)
{ y = Conv<group=2, pads=[1,1,1,1]>(x, w) }
""", w=(4, 2, 3, 3))
    assert [k.op for k in g.kernels] == ["CONV_2D"]


def test_nhwc_input_transpose_is_an_alias():
    """tf2onnx's Transpose(0,3,1,2) after the NHWC input is no kernel: the conv reads the input directly."""
    g = view("""
g (float[1,8,8,3] x) => (float[1,4,8,8] y)
{ t = Transpose<perm=[0,3,1,2]>(x)
  y = Conv<pads=[1,1,1,1]>(t, w) }
""", w=(4, 3, 3, 3))
    assert [(k.op, k.inputs[0]) for k in g.kernels] == [("CONV_2D", "x")]
    assert "t" not in g.tensors


def test_transpose_of_1x1_spatial_before_flatten_is_an_alias():
    """NCHW->NHWC of a 1x1-spatial tensor read only by Reshape/Flatten vanishes; other transposes stay."""
    g = view("""
g (float[1,8,1,1] x) => (float[1,8] y)
{ t = Transpose<perm=[0,2,3,1]>(x)
  y = Flatten(t) }
""")
    assert [(k.op, k.inputs) for k in g.kernels] == [("RESHAPE", ("x",))]
    g = view("""
g (float[1,8,2,2] x) => (float[1,32] y)
{ t = Transpose<perm=[0,2,3,1]>(x)
  y = Flatten(t) }
""")
    assert [k.op for k in g.kernels] == ["TRANSPOSE", "RESHAPE"]


def test_qdq_pair_on_activations_vanishes():
    """QuantizeLinear -> DequantizeLinear on an activation is an alias; a lone QuantizeLinear is QUANTIZE."""
    g = view("""
g (float[1,8] x) => (uint8[1,8] y) <float s = {0.1}, uint8 zp = {0}>
{ q = QuantizeLinear(x, s, zp)
  d = DequantizeLinear(q, s, zp)
  r = Relu(d)
  y = QuantizeLinear(r, s, zp) }
""")
    assert [(k.op, k.inputs[0]) for k in g.kernels] == [("RELU", "x"), ("QUANTIZE", "r")]
    assert g.tensors["r"].itemsize == 4  # the float input of an explicit QUANTIZE stays float32


def test_concat_of_23_inputs_becomes_a_chain_of_at_most_10():
    """TFLM concatenates <= 10 inputs: 23 inputs become 10, then 1 + 9, then 1 + 4, with partial tensors."""
    names = [f"x{i}" for i in range(23)]
    header = ", ".join(f"float[1,2] {n}" for n in names)
    g = view(f"g ({header}) => (float[1,46] y)\n{{ y = Concat<axis=1>({', '.join(names)}) }}")
    assert [len(k.inputs) for k in g.kernels] == [10, 10, 5]
    assert all(k.op == "CONCATENATION" for k in g.kernels)
    assert [g.tensors[k.outputs[0]].shape for k in g.kernels] == [(1, 20), (1, 38), (1, 46)]
    assert g.kernels[1].inputs[0] == g.kernels[0].outputs[0]
    # Last step: inputs x19..x22 (2 B -> 16 each), the 38-byte part (-> 48) and the 46-byte output (-> 48).
    assert peak_memory(g).live_bytes[-1] == 4 * 16 + 48 + 48


def test_unsupported_ops_are_all_listed_at_once():
    """Every node without a TFLM kernel is named in one error."""
    with pytest.raises(UnsupportedOpError) as info:
        view("""
g (float[1,8] x) => (float[1,8] y)
{ a = Cos(x)
  y = Sin(a) }
""")
    assert {op for _, op in info.value.nodes} == {"Cos", "Sin"}


def test_refusals_tell_a_missing_tflm_kernel_from_a_missing_lowering():
    """Erf has no TFLM kernel (and names the pass that rewrites the forms it supports); Exp has one (EXP) that
    mcugraph does not write yet; no message advises running a pipeline."""
    with pytest.raises(UnsupportedOpError) as info:
        view("""
g (float[1,8] x) => (float[1,8] y)
{ a = Erf(x)
  y = Exp(a) }
""")
    erf, exp = info.value.reasons
    assert erf.startswith("no TFLite Micro kernel;") and "'decompose-gelu' pass" in erf
    assert exp == "not lowered by mcugraph yet (TFLM has EXP)"
    assert f"(Erf: {erf})" in str(info.value) and "run the canonicali" not in str(info.value).lower()


def test_clip_min_0_alone_is_relu_and_clip_minus_1_1_alone_has_no_kernel():
    """Clip(min=0) without max runs as RELU, alone or fused; a standalone Clip(-1,1) is RELU_N1_TO_1, which TFLM
    has only as a fused activation, so it is refused as such."""
    relu = view("""
g (float[1,8] x, float[1,8] z) => (float[1,8] y, float[1,8] w) <float lo = {0.0}>
{ y = Clip(x, lo)
  s = Add(x, z)
  w = Clip(s, lo) }
""")
    assert [(k.op, k.activation) for k in relu.kernels] == [("RELU", "NONE"), ("ADD", "RELU")]
    with pytest.raises(UnsupportedOpError, match=r"Clip: no TFLite Micro kernel \(RELU_N1_TO_1\)"):
        view("""
g (float[1,8] x) => (float[1,8] y) <float lo = {-1.0}, float hi = {1.0}>
{ y = Clip(x, lo, hi) }
""")


def test_float32_dtype_keeps_4_bytes():
    """dtype='float32' sizes float activations at 4 bytes per element."""
    assert view(CONV_RELU, "float32", w=(4, 3, 3, 3), b=(4,)).tensors["y"].itemsize == 4


def test_mobilenetv2_zoo_kernels(zoo):
    """MobileNetV2-style: BN and ReLU6 fused, 5 depthwise, 3 residual ADDs, a PAD before each stride-2 conv."""
    g = kernel_view(mcugraph.load(zoo("mobilenetv2")))
    ops = Counter(k.op for k in g.kernels)
    assert ops == {
        "CONV_2D": 12, "DEPTHWISE_CONV_2D": 5, "ADD": 3, "PAD": 3, "MEAN": 1, "RESHAPE": 1, "FULLY_CONNECTED": 1,
    }
    first = next(k for k in g.kernels if k.op == "CONV_2D")
    assert [n.rsplit("/", 1)[-1] for n in first.nodes] == ["Conv", "BatchNormalization", "Clip"]


@pytest.mark.parametrize("name", MLPERF)
def test_shared_models_match_the_reference_tflite(shared_models, name):
    """After canonicalisation, the kernels are the reference .tflite's and TFLM's greedy plan gives its head."""
    from mcugraph.memory.tflite_graph import kernel_graph_from_tflite
    from mcugraph.tflite.tflm import arena_head

    model = mcugraph.run_pipeline(mcugraph.load(shared_models / f"{name}.onnx"), mcugraph.CANONICALIZE).model
    g = kernel_view(model)
    data = (shared_models / f"{name}.int8.tflite").read_bytes()
    reference = kernel_graph_from_tflite(data)
    assert [k.op for k in g.kernels] == [k.op for k in reference.kernels]
    assert tflm_greedy_plan(g).arena_bytes == arena_head(data)


def test_onnxruntime_qdq_model_has_the_float_models_kernels(zoo, tmp_path):
    """A QDQ model from onnxruntime's quantize_static: Q/DQ pairs vanish, same kernels and peak as the float one."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    model = mcugraph.run_pipeline(mcugraph.load(zoo("digits_cnn")), mcugraph.CANONICALIZE).model
    mcugraph.save(model, tmp_path / "float.onnx")

    class Samples(CalibrationDataReader):
        def __init__(self):
            self.left = [{"input": np.random.default_rng(i).random((1, 1, 8, 8), np.float32)} for i in range(2)]

        def get_next(self):
            return self.left.pop() if self.left else None

    quantize_static(tmp_path / "float.onnx", tmp_path / "qdq.onnx", Samples(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    loaded = mcugraph.load(tmp_path / "qdq.onnx")
    assert sum(n.op_type == "QuantizeLinear" for n in loaded.graph) >= 5
    qdq = kernel_view(loaded)
    float_view = kernel_view(model)
    assert [k.op for k in qdq.kernels] == [k.op for k in float_view.kernels]
    assert peak_memory(qdq).live_bytes == peak_memory(float_view).live_bytes


def test_integer_tensors_keep_their_width_in_int8_mode():
    """An ArgMax index (int64 in ONNX) is TFLite int32: 4 bytes per element even when activations are int8."""
    g = view("""
g (float[1,10] x) => (int64[1,1] y)
{ y = ArgMax<axis=1, keepdims=1>(x) }
""")
    assert [k.op for k in g.kernels] == ["ARG_MAX"]
    assert (g.tensors["x"].itemsize, g.tensors["y"].itemsize) == (1, 4)

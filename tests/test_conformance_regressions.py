"""Regression tests for the bugs the ONNX node-test conformance run found (issue 31), one behaviour each."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import mcugraph
from mcugraph.errors import ExportError, ShapeError
from mcugraph.export.calib_data import load_calib, sample_shape

QUIET = {"progress": False, "warn": lambda _: None}


def _model(nodes, inputs, outputs, inits=(), opset=17) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
                              [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs], list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _relu(shape) -> onnx.ModelProto:
    return _model([helper.make_node("Relu", ["x"], ["y"])], [("x", TensorProto.FLOAT, shape)],
                  [("y", TensorProto.FLOAT, shape)])


def test_sample_shape_keeps_a_static_first_dimension_that_is_not_one():
    """A (3, 4, 5) input's sample is the whole tensor; a (1, 4, 5) input's is (4, 5)."""
    assert sample_shape((3, 4, 5)) == (3, 4, 5)
    assert sample_shape((1, 4, 5)) == (4, 5)
    assert sample_shape(()) == ()


def test_calibration_takes_whole_samples_when_dim0_is_not_one():
    """(N, 3, 4) samples for a (3, 4) input are N samples; exactly (3, 4) is one sample; (N, 4) is refused."""
    model = mcugraph.load(_relu((3, 4)))
    assert load_calib(np.zeros((5, 3, 4), np.float32), model).calib_count == 4
    assert load_calib(np.zeros((3, 4), np.float32), model).calib_count == 1
    with pytest.raises(ShapeError, match=r"expected \(N, 3, 4\)"):
        load_calib(np.zeros((5, 4), np.float32), model)


@pytest.mark.parametrize("quantize", [True, False])
def test_optimize_exports_and_verifies_a_model_whose_dim0_is_three(quantize):
    """int8 and float32: a (3, 4, 5) input is calibrated and verified on whole (3, 4, 5) samples."""
    x = np.random.default_rng(0).uniform(-1, 1, (6, 3, 4, 5)).astype(np.float32)
    result = mcugraph.optimize(_relu((3, 4, 5)), calib=x, quantize=quantize, **QUIET)
    assert result.report["verification"]["samples"] == 1
    assert result.report["verification"]["passed"]


def test_a_rank4_input_read_only_by_a_reshape_stays_in_onnx_order():
    """No unmodelled TRANSPOSE after a (1, 3, 4, 5) input that a Reshape reads: TFLM's arena head is the prediction."""
    shape = numpy_helper.from_array(np.array([3, 4, 5], np.int64), "s")
    model = _model([helper.make_node("Reshape", ["x", "s"], ["y"])], [("x", TensorProto.FLOAT, (1, 3, 4, 5))],
                   [("y", TensorProto.FLOAT, (3, 4, 5))], [shape])
    for quantize in (True, False):
        result = mcugraph.optimize(model, calib=np.ones((2, 3, 4, 5), np.float32), quantize=quantize, **QUIET)
        assert result.report["arena_head_bytes"] == result.report["predicted_arena_bytes"]


@pytest.mark.parametrize(("dtype", "message"), [
    (TensorProto.INT32, "integer-typed models are out of scope"),
    (TensorProto.FLOAT16, "re-export the model in float32"),
    (TensorProto.DOUBLE, "no float64 kernels"),
])
@pytest.mark.parametrize("quantize", [True, False])
def test_a_non_float32_input_is_refused_at_the_door_in_both_modes(dtype, message, quantize):
    """int8 and float32 exports name the input's dtype, not the calibration data."""
    model = _model([helper.make_node("Neg", ["x"], ["y"])], [("x", dtype, (1, 4))], [("y", dtype, (1, 4))])
    with pytest.raises(ExportError, match=f"model input 'x' is .*; .*{message}"):
        mcugraph.optimize(model, calib="random:0,1", quantize=quantize, **QUIET)


def test_an_integer_parameter_given_as_a_graph_input_is_named_not_run():
    """A Reshape shape fed as a graph input: 'needs as a constant', not onnxruntime's failure on random integers."""
    model = _model([helper.make_node("Reshape", ["x", "shape"], ["y"])],
                   [("x", TensorProto.FLOAT, (2, 6)), ("shape", TensorProto.INT64, (2,))], [("y", TensorProto.FLOAT, None)])
    with pytest.raises(ShapeError, match="graph input 'shape' is input 1 of node .* needs as a constant"):
        mcugraph.load(model)


def _optimize(model, x, quantize=True):
    return mcugraph.optimize(model, calib=x, quantize=quantize, **QUIET)


def test_a_constant_concat_operand_keeps_its_values_in_int8():
    """Concat(x, constant): the constant's range joins the shared scale (it was clipped to x's: 8 dB)."""
    c = numpy_helper.from_array(np.full((1, 4), 5.0, np.float32), "c")
    model = _model([helper.make_node("Concat", ["x", "c"], ["y"], axis=1)], [("x", TensorProto.FLOAT, (1, 4))],
                   [("y", TensorProto.FLOAT, (1, 8))], [c])
    x = np.random.default_rng(0).uniform(-1, 1, (10, 4)).astype(np.float32)
    assert _optimize(model, x).report["verification"]["sqnr_db"] > 30


def test_reduce_mean_with_empty_axes_reduces_every_axis():
    """Opset 18 ReduceMean with a constant empty axes input is reduce-all, not no reduction."""
    axes = numpy_helper.from_array(np.zeros(0, np.int64), "axes")
    model = _model([helper.make_node("ReduceMean", ["x", "axes"], ["y"])], [("x", TensorProto.FLOAT, (3, 2, 2))],
                   [("y", TensorProto.FLOAT, (1, 1, 1))], [axes], opset=18)
    x = np.random.default_rng(0).uniform(-1, 1, (3, 2, 2)).astype(np.float32)
    assert _optimize(model, x, quantize=False).report["verification"]["passed"]


def test_3d_pooling_is_refused_by_name_not_by_a_python_error():
    """A 3-D MaxPool says TFLite's kernels are 2-D instead of 'too many values to unpack'."""
    model = _model([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2, 2])],
                   [("x", TensorProto.FLOAT, (1, 1, 4, 4, 4))], [("y", TensorProto.FLOAT, (1, 1, 3, 3, 3))])
    with pytest.raises(mcugraph.errors.UnsupportedOpError, match="3-D pooling"):
        _optimize(model, np.zeros((1, 1, 4, 4, 4), np.float32))


def _conv_transpose(x_hw, out_hw, **attrs) -> onnx.ModelProto:
    w = numpy_helper.from_array(np.random.default_rng(0).uniform(-1, 1, (1, 2, 3, 3)).astype(np.float32), "w")
    return _model([helper.make_node("ConvTranspose", ["x", "w"], ["y"], **attrs)],
                  [("x", TensorProto.FLOAT, (1, 1, *x_hw))], [("y", TensorProto.FLOAT, (1, 2, *out_hw))], [w])


def test_conv_transpose_padding_trans_conv_cannot_express_is_refused():
    """Stride 2, pads (1, 2) on W: ceil(3 / 2) != 3, which LiteRT rejects and TFLM runs wrongly: refused."""
    model = _conv_transpose((3, 3), (5, 3), strides=[2, 2], pads=[1, 1, 1, 2])
    with pytest.raises(ExportError, match=r"needs ceil\(output / stride\) == input"):
        _optimize(model, np.zeros((1, 1, 3, 3), np.float32), quantize=False)


@pytest.mark.parametrize("attrs", [{"strides": [3, 2], "output_padding": [1, 1]},
                                   {"strides": [3, 2], "output_shape": [10, 8]}])
def test_conv_transpose_output_padding_and_output_shape_are_exact(attrs):
    """Stride 3 with output_padding or output_shape: the extra rows are zero-extended (VALID), verified at 40 dB."""
    model = _conv_transpose((3, 3), (10, 8), **attrs)
    x = np.random.default_rng(0).uniform(-1, 1, (4, 1, 3, 3)).astype(np.float32)
    assert _optimize(model, x, quantize=False).report["verification"]["sqnr_db"] > 100


def test_a_reshape_writing_a_rank4_output_needs_no_transpose():
    """Unsqueeze to a (1, 3, 4, 5) graph output keeps ONNX order: TFLM's arena head is the prediction."""
    axes = numpy_helper.from_array(np.array([0], np.int64), "a")
    model = _model([helper.make_node("Unsqueeze", ["x", "a"], ["y"])], [("x", TensorProto.FLOAT, (3, 4, 5))],
                   [("y", TensorProto.FLOAT, (1, 3, 4, 5))], [axes])
    result = _optimize(model, np.ones((2, 3, 4, 5), np.float32))
    assert result.report["arena_head_bytes"] == result.report["predicted_arena_bytes"]


def test_training_mode_dropout_is_refused_not_exported_as_identity():
    """Dropout with a constant training_mode true: refused (it was an identity that then failed verification)."""
    flag = numpy_helper.from_array(np.array(True), "t")
    ratio = numpy_helper.from_array(np.array(0.5, np.float32), "r")
    model = _model([helper.make_node("Dropout", ["x", "r", "t"], ["y"])], [("x", TensorProto.FLOAT, (1, 8))],
                   [("y", TensorProto.FLOAT, (1, 8))], [ratio, flag], opset=13)
    with pytest.raises(mcugraph.errors.UnsupportedOpError, match="training mode"):
        _optimize(model, np.ones((2, 8), np.float32), quantize=False)


def test_a_model_without_inputs_is_refused_by_name():
    """Only constants: 'the model has no inputs' instead of 'inputs have different sample counts []'."""
    value = helper.make_tensor("v", TensorProto.FLOAT, (2,), [1.0, 2.0])
    model = _model([helper.make_node("Constant", [], ["y"], value=value)], [], [("y", TensorProto.FLOAT, (2,))])
    with pytest.raises(ExportError, match="the model has no inputs"):
        _optimize(model, None, quantize=False)


def test_an_empty_value_is_refused_before_export():
    """A Slice that selects nothing: 'has no elements' instead of a model TFLM cannot allocate."""
    consts = [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in (("s", [5]), ("e", [9]), ("a", [1]))]
    model = _model([helper.make_node("Slice", ["x", "s", "e", "a"], ["y"])], [("x", TensorProto.FLOAT, (1, 4))],
                   [("y", TensorProto.FLOAT, (1, 0))], consts)
    with pytest.raises(ExportError, match="has no elements"):
        _optimize(model, np.ones((2, 4), np.float32), quantize=False)


def test_a_float_resize_scales_input_is_named_as_a_parameter():
    """Resize scales given as a (float) graph input: 'needs as a constant', not onnxruntime's failure."""
    model = _model([helper.make_node("Resize", ["x", "", "scales"], ["y"])],
                   [("x", TensorProto.FLOAT, (1, 1, 2, 2)), ("scales", TensorProto.FLOAT, (4,))],
                   [("y", TensorProto.FLOAT, None)])
    with pytest.raises(ShapeError, match="graph input 'scales' is input 2 .* needs as a constant"):
        mcugraph.load(model)


def test_a_scalar_input_reaches_tflm_as_a_scalar():
    """A rank-0 input is fed as shape () (np.ascontiguousarray made it (1,), which TFLM refused)."""
    model = _model([helper.make_node("Relu", ["x"], ["y"])], [("x", TensorProto.FLOAT, ())],
                   [("y", TensorProto.FLOAT, ())])
    assert _optimize(model, np.array([0.5, -1.0, 2.0], np.float32), quantize=False).report["verification"]["passed"]


def test_litert_runs_without_its_default_delegate():
    """The int8 bidirectional GRU node test verifies: XNNPACK (LiteRT's default delegate) refused it."""
    from mcugraph.ops import conformance

    (case,) = [c for c in conformance.cases(["GRU"]) if c.name == "test_gru_bidirectional"]
    assert conformance.run(conformance.deployable(case), "int8").kind in ("match", "noise")


@pytest.mark.parametrize("quantize", [True, False])
def test_a_gemm_matrix_bias_and_trans_a_are_exported(quantize):
    """Gemm(transA=1) with a (M, N) bias C: a TRANSPOSE, FULLY_CONNECTED and an ADD of C (a numpy broadcasting
    error before, then refused)."""
    consts = [numpy_helper.from_array(np.random.default_rng(1).uniform(-1, 1, s).astype(np.float32), n)
              for n, s in (("b", (4, 3)), ("c", (2, 3)))]
    model = _model([helper.make_node("Gemm", ["x", "b", "c"], ["y"], transA=1)], [("x", TensorProto.FLOAT, (4, 2))],
                   [("y", TensorProto.FLOAT, (2, 3))], consts)
    x = np.random.default_rng(0).uniform(-1, 1, (6, 4, 2)).astype(np.float32)
    assert _optimize(model, x, quantize=quantize).report["verification"]["sqnr_db"] > 30


def test_pad_with_an_axes_input_pads_those_axes():
    """Opset-18 Pad with constant axes: the pads of the listed axes only (it was refused)."""
    consts = [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in (("p", [1, 2]), ("a", [1]))]
    model = _model([helper.make_node("Pad", ["x", "p", "", "a"], ["y"])], [("x", TensorProto.FLOAT, (1, 4))],
                   [("y", TensorProto.FLOAT, (1, 7))], consts, opset=18)
    x = np.random.default_rng(0).uniform(-1, 1, (3, 4)).astype(np.float32)
    assert _optimize(model, x, quantize=False).report["verification"]["max_abs_error"] == 0


@pytest.mark.parametrize(("attrs", "out_hw"), [
    ({"mode": "linear"}, (8, 8)),  # half_pixel: RESIZE_BILINEAR half_pixel_centers
    ({"mode": "linear", "coordinate_transformation_mode": "align_corners"}, (7, 7)),
    ({"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}, (6, 6)),
])
def test_resize_maps_tflite_reproduces_are_exported_exactly(attrs, out_hw):
    """Resize to sizes whose pixel map a TFLite flag pair reproduces: float32 within 1e-5 of onnxruntime."""
    sizes = numpy_helper.from_array(np.array([1, 1, *out_hw], np.int64), "sizes")
    model = _model([helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], **attrs)],
                   [("x", TensorProto.FLOAT, (1, 1, 4, 4))], [("y", TensorProto.FLOAT, (1, 1, *out_hw))], [sizes])
    x = np.random.default_rng(0).uniform(-1, 1, (4, 1, 4, 4)).astype(np.float32)
    assert _optimize(model, x, quantize=False).report["verification"]["max_abs_error"] < 1e-5


def test_resize_whose_map_tflite_cannot_reproduce_is_refused():
    """Cubic, or align_corners with an unfloored ONNX length (scales 0.6), is refused with its mode."""
    scales = numpy_helper.from_array(np.array([1, 1, 0.6, 0.6], np.float32), "scales")
    model = _model([helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="linear",
                                     coordinate_transformation_mode="align_corners")],
                   [("x", TensorProto.FLOAT, (1, 1, 2, 4))], [("y", TensorProto.FLOAT, (1, 1, 1, 2))], [scales])
    with pytest.raises(ExportError, match="mode=linear, 2x4 -> 1x2, align_corners"):
        _optimize(model, np.ones((1, 1, 2, 4), np.float32), quantize=False)


@pytest.mark.parametrize("quantize", [True, False])
def test_gather_with_constant_indices_is_exported(quantize):
    """Gather of a constant index array (negative ones included) is GATHER (it was refused as not lowered)."""
    indices = numpy_helper.from_array(np.array([[0, -1], [2, 1]], np.int64), "i")
    model = _model([helper.make_node("Gather", ["x", "i"], ["y"], axis=1)], [("x", TensorProto.FLOAT, (3, 4))],
                   [("y", TensorProto.FLOAT, (3, 2, 2))], [indices])
    x = np.random.default_rng(0).uniform(-1, 1, (5, 3, 4)).astype(np.float32)
    assert _optimize(model, x, quantize=quantize).report["verification"]["sqnr_db"] > 40


@pytest.mark.parametrize("quantize", [True, False])
def test_matmul_with_a_batched_constant_is_batch_matmul(quantize):
    """MatMul of (2, 3, 4) by a constant (2, 4, 3): BATCH_MATMUL with a constant rhs (it was refused)."""
    w = numpy_helper.from_array(np.random.default_rng(1).uniform(-1, 1, (2, 4, 3)).astype(np.float32), "w")
    model = _model([helper.make_node("MatMul", ["x", "w"], ["y"])], [("x", TensorProto.FLOAT, (2, 3, 4))],
                   [("y", TensorProto.FLOAT, (2, 3, 3))], [w])
    x = np.random.default_rng(0).uniform(-1, 1, (5, 2, 3, 4)).astype(np.float32)
    assert _optimize(model, x, quantize=quantize).report["verification"]["sqnr_db"] > 30

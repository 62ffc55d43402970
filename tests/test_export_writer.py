"""Whole models through export_tflite: numerics in TFLM/LiteRT, layouts, int8 rules, plans and refusals."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from export_check import activation_params, as_onnx, check_export, one_node, operators, tflite_inputs, weights
from onnx import helper

import mcugraph
from mcugraph.errors import ExportError, UnsupportedOpError
from mcugraph.export import export_tflite
from mcugraph.memory.kernel_view import kernel_view
from mcugraph.memory.planner import plan_arena
from mcugraph.memory.schedule import schedule_min_peak
from mcugraph.runtime import input_feeds, run_onnx
from mcugraph.tflite.offline_plan import read_offline_plan
from mcugraph.tflite.schema import read, schema
from mcugraph.tflite.tflm import arena_head, run_tflm

ZOO = ("mobilenetv2", "resnet", "inception", "densenet")


def canonical(zoo, name: str):
    return mcugraph.run_pipeline(mcugraph.load(zoo(name)), mcugraph.CANONICALIZE).model


def kws(shared_models):
    return mcugraph.run_pipeline(mcugraph.load(shared_models / "kws_dscnn.onnx"), mcugraph.CANONICALIZE).model


def conv_flatten_gemm():
    """Conv -> Relu -> Flatten -> Gemm: the classic head whose flatten must keep ONNX's (C, H, W) feature order."""
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("Flatten", ["r"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], name="fc", transB=1),
    ]
    inits = {"w": weights(3, 2, 3, 3), "fw": weights(5, 3 * 4 * 4, seed=1), "fb": weights(5, seed=2)}
    graph = helper.make_graph(
        nodes, "head", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, (1, 2, 4, 4))],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)],
        [onnx.numpy_helper.from_array(v, n) for n, v in inits.items()],
    )
    return mcugraph.load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


def tensors(data: bytes):
    return read(data).subgraphs[0].tensors


@pytest.mark.parametrize("name", ZOO)
def test_zoo_float32_matches_onnxruntime_without_transpose(zoo, name):
    """A canonicalised zoo model exports to float32 TFLite that matches onnxruntime and has no TRANSPOSE."""
    result = check_export(canonical(zoo, name), int8=False)
    assert "TRANSPOSE" not in operators(result.data)


@pytest.mark.parametrize("name", ZOO)
def test_zoo_int8_matches_onnxruntime(zoo, name):
    """A canonicalised zoo model in int8 stays within a few output steps of onnxruntime, in TFLM and LiteRT."""
    check_export(canonical(zoo, name), int8=True, steps=4)


def test_kws_float32_end_to_end(shared_models):
    """The tf2onnx KWS model exports to float32 with its NHWC input kept and no TRANSPOSE."""
    result = check_export(kws(shared_models), int8=False)
    sub = read(result.data).subgraphs[0]
    assert list(sub.tensors[sub.inputs[0]].shape) == [1, 49, 10, 1]
    assert "TRANSPOSE" not in operators(result.data)


def test_kws_int8_end_to_end(shared_models):
    """The KWS model in int8 matches onnxruntime within a few softmax steps, in TFLM and LiteRT."""
    check_export(kws(shared_models), int8=True, steps=4)


def test_flatten_before_gemm_permutes_weights_instead_of_transposing():
    """Flatten after a conv feeds FULLY_CONNECTED directly: the Gemm columns are permuted, no TRANSPOSE runs."""
    result = check_export(conv_flatten_gemm(), int8=False)
    assert operators(result.data) == ["CONV_2D", "RESHAPE", "FULLY_CONNECTED"]
    check_export(conv_flatten_gemm(), int8=True)


def test_nchw_input_layout_adds_one_transpose():
    """input_layout="nchw" keeps the ONNX input shape and transposes once at the input."""
    model = conv_flatten_gemm()
    result = check_export(model, int8=False, input_layout="nchw")
    sub = read(result.data).subgraphs[0]
    assert list(sub.tensors[sub.inputs[0]].shape) == [1, 2, 4, 4]
    assert operators(result.data) == ["TRANSPOSE", "CONV_2D", "RESHAPE", "FULLY_CONNECTED"]


def test_float_io_wraps_int8_model_in_quantize_dequantize():
    """io_dtype="float32" gives float inputs/outputs around an int8 body."""
    result = check_export(conv_flatten_gemm(), int8=True, io_dtype="float32")
    sub = read(result.data).subgraphs[0]
    ops = operators(result.data)
    assert (ops[0], ops[-1]) == ("QUANTIZE", "DEQUANTIZE")
    assert sub.tensors[sub.inputs[0]].type == sub.tensors[sub.outputs[0]].type == 0  # FLOAT32
    assert sub.tensors[result.tensor_index["y"]].type == 9  # the body is INT8


def test_int8_weights_are_per_channel_with_matching_bias_scales(zoo):
    """CONV_2D weights quantise on axis 0, DEPTHWISE on axis 3, biases at input_scale * weight_scale, zp 0."""
    model = canonical(zoo, "mobilenetv2")
    result = export_tflite(model, activations=activation_params(model, (0,)))
    tfl = read(result.data)
    sub = tfl.subgraphs[0]
    seen = set()
    for op in sub.operators:
        code = tfl.operatorCodes[op.opcodeIndex].builtinCode
        if code not in (3, 4):  # CONV_2D, DEPTHWISE_CONV_2D
            continue
        x, w, b = (sub.tensors[i] for i in op.inputs)
        assert w.quantization.quantizedDimension == (0 if code == 3 else 3)
        assert len(w.quantization.scale) == w.shape[w.quantization.quantizedDimension]
        assert not np.any(w.quantization.zeroPoint) and not np.any(b.quantization.zeroPoint)
        np.testing.assert_allclose(b.quantization.scale, x.quantization.scale[0] * w.quantization.scale, rtol=1e-6)
        seen.add(code)
    assert seen == {3, 4}


def test_concat_inputs_share_the_output_parameters(zoo):
    """Every CONCATENATION input carries its output's scale and zero point (TFLM's requirement)."""
    model = canonical(zoo, "inception")
    result = export_tflite(model, activations=activation_params(model, (0,)))
    tfl = read(result.data)
    sub = tfl.subgraphs[0]
    concats = [op for op in sub.operators if tfl.operatorCodes[op.opcodeIndex].builtinCode == 2]
    assert concats
    for op in concats:
        out = sub.tensors[op.outputs[0]].quantization
        for i in op.inputs:
            q = sub.tensors[i].quantization
            assert (q.scale[0], q.zeroPoint[0]) == (out.scale[0], out.zeroPoint[0])


def test_softmax_output_has_tflm_fixed_parameters():
    """SOFTMAX's int8 output is scale 1/256, zero point -128 whatever the calibration said."""
    model = one_node("Softmax", {"x": (1, 10)})
    result = export_tflite(model, activations=activation_params(model))
    q = tensors(result.data)[result.tensor_index["y0"]].quantization
    assert (q.scale[0], q.zeroPoint[0]) == (np.float32(1 / 256), -128)


def test_scheduled_order_and_offline_plan_reach_tflm_exactly(zoo):
    """With the scheduler's order and the planner's offsets, TFLM's arena head equals the planned arena bytes."""
    model = canonical(zoo, "inception")
    graph = kernel_view(model)
    schedule = schedule_min_peak(graph, time_limit_s=2)
    plan = plan_arena(graph, schedule.order)
    result = check_export(model, int8=True, steps=4, order=schedule.order, offline_offsets=plan.offsets)
    assert result.kernel_order == tuple(schedule.order)
    offsets = read_offline_plan(read(result.data))
    assert all(offsets[result.tensor_index[name]] == offset for name, offset in plan.offsets.items())
    assert arena_head(result.data) == plan.arena_bytes


def test_model_header_is_version_3_mcugraph():
    """The flatbuffer says schema version 3; the description "mcugraph" and the names only with keep_names."""
    model = one_node("Relu", {"x": (1, 4)})
    lean, named = (read(export_tflite(model, activations=None, keep_names=k).data) for k in (False, True))
    assert (lean.version, lean.description, lean.subgraphs[0].name) == (3, None, None)
    assert [t.name for t in lean.subgraphs[0].tensors] == [None, None]
    assert (named.version, named.description, named.subgraphs[0].name) == (3, b"mcugraph", b"main")
    assert [t.name for t in named.subgraphs[0].tensors] == [b"x", b"y0"]


def test_unsupported_ops_are_listed_together():
    """Every unsupported node is named in one UnsupportedOpError, before anything is written."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["a"], name="computed_weights"),  # only the exporter refuses
             helper.make_node("Sin", ["a"], ["b"], name="sin"),  # TFLM has SIN, mcugraph does not lower it
             helper.make_node("ArgMax", ["b"], ["y"], name="argmax", axis=1)]
    graph = helper.make_graph(nodes, "bad", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, (1, 4, 5, 5)),
                                             helper.make_tensor_value_info("w", onnx.TensorProto.FLOAT, (4, 4, 3, 3))],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.INT64, None)])
    model = mcugraph.load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    with pytest.raises(UnsupportedOpError) as info:
        export_tflite(model, activations=None)
    assert sorted(name for name, _ in info.value.nodes) == ["argmax", "computed_weights", "sin"]


def test_missing_activation_parameters_name_the_value():
    """An int8 export without parameters for a value raises ExportError naming it."""
    model = one_node("Relu", {"x": (1, 4)})
    with pytest.raises(ExportError, match="'y0'"):
        export_tflite(model, activations={"x": activation_params(model)["x"]})


def test_order_must_name_every_kernel():
    """An order that misses a kernel is an ExportError, not a silently incomplete model."""
    with pytest.raises(ExportError, match="kernel order"):
        export_tflite(conv_flatten_gemm(), activations=None, order=["conv"])


def _concat_with_times_eight(first: str, *extra_nodes: onnx.NodeProto):
    """y = Concat(first, x * 8) over a (1, 8) input x; ``extra_nodes`` compute ``first`` from x when it is not x."""
    nodes = [*extra_nodes, helper.make_node("Mul", ["x", "k"], ["m"], name="mul"),
             helper.make_node("Concat", [first, "m"], ["y"], name="concat", axis=1)]
    graph = helper.make_graph(
        nodes, "cat", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, (1, 8))],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)],
        [onnx.numpy_helper.from_array(np.array(8.0, np.float32), "k")],
    )
    return mcugraph.load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


def test_graph_input_entering_concat_takes_its_parameters():
    """A graph input concatenated with a wider-range value is quantised with the concat's parameters: no extra op."""
    result = check_export(_concat_with_times_eight("x"), int8=True)
    assert operators(result.data) == ["MUL", "CONCATENATION"]
    x, y = (tensors(result.data)[result.tensor_index[n]].quantization for n in ("x", "y"))
    assert (x.scale[0], x.zeroPoint[0]) == (y.scale[0], y.zeroPoint[0])


def test_softmax_entering_concat_is_requantised():
    """A softmax output (fixed 1/256 parameters) concatenated with a wider value gets a QUANTIZE to the concat's."""
    softmax = helper.make_node("Softmax", ["x"], ["s"], name="softmax")
    result = check_export(_concat_with_times_eight("s", softmax), int8=True)
    assert operators(result.data) == ["SOFTMAX", "MUL", "QUANTIZE", "CONCATENATION"]


def test_result_reports_io_permutations(shared_models):
    """ExportResult says how each input/output was laid out: NHWC for a torch input, as-is for tf2onnx's."""
    torch_style = export_tflite(conv_flatten_gemm(), activations=None)
    assert (torch_style.input_perms, torch_style.output_perms) == (((0, 2, 3, 1),), ((0, 1),))
    assert export_tflite(kws(shared_models), activations=None).input_perms == ((0, 1, 2, 3),)


@pytest.mark.parametrize("name", ["kws_dscnn", "vww_mobilenetv1", "ic_resnet8", "ad_autoencoder"])
def test_mlperf_int8_accurate_and_no_bigger_arena_than_tf_converter(shared_models, name):
    """Each MLPerf model's int8 export keeps >= 15 dB SQNR and needs no more TFLM arena than the TF converter's."""
    model = mcugraph.run_pipeline(mcugraph.load(shared_models / f"{name}.onnx"), mcugraph.CANONICALIZE).model
    result = export_tflite(model, activations=activation_params(model))
    feeds = input_feeds(model, 0)
    expected = run_onnx(model, feeds)[0]
    raw = run_tflm(result.data, tflite_inputs(result.data, model, list(feeds.values())))
    got = as_onnx(result.data, raw, [expected.shape])[0][0]
    sqnr_db = 10 * np.log10(np.sum(expected**2) / np.sum((got - expected) ** 2))
    assert sqnr_db >= 15
    reference = (shared_models / f"{name}.int8.tflite").read_bytes()
    assert arena_head(result.data) <= arena_head(reference)


def test_concat_chain_tensors_match_the_kernel_view():
    """A 12-input Concat is written as the kernel view's chain: its part tensors take planned offsets exactly."""
    model = one_node("Concat", {f"x{i}": (1, 2, 4, 4) for i in range(12)}, axis=1)
    graph = kernel_view(model)
    plan = plan_arena(graph)
    result = check_export(model, int8=True, offline_offsets=plan.offsets)
    assert result.kernel_order == tuple(k.name for k in graph.kernels)
    assert "y0/part0" in result.tensor_index
    assert arena_head(result.data) == plan.arena_bytes


def test_constant_buffers_are_16_byte_aligned(zoo):
    """Every weight/bias buffer starts on a 16-byte boundary of the file, as TFLM on Cortex-M expects."""
    data = export_tflite(canonical(zoo, "resnet"), activations=None).data
    array = np.frombuffer(data, dtype=np.uint8)
    base = array.__array_interface__["data"][0]
    root = schema.Model.GetRootAs(array, 0)
    starts = [root.Buffers(i).DataAsNumpy().__array_interface__["data"][0] - base
              for i in range(root.BuffersLength()) if root.Buffers(i).DataLength()]
    assert starts and all(start % 16 == 0 for start in starts)


def test_helper_kernels_run_where_the_order_puts_them():
    """An explicit PAD and a Concat part scheduled early are written there, so the offline plan stays valid."""
    nodes = [helper.make_node("Relu", [f"x{i}"], [f"r{i}"], name=f"relu{i}") for i in range(12)]
    nodes += [helper.make_node("Concat", [f"r{i}" for i in range(12)], ["cat"], name="concat", axis=1),
              helper.make_node("Conv", ["cat", "w"], ["y"], name="conv", pads=[1, 1, 1, 1], strides=[2, 2])]
    graph = helper.make_graph(
        nodes, "late", [helper.make_tensor_value_info(f"x{i}", onnx.TensorProto.FLOAT, (1, 1, 6, 6))
                        for i in range(12)],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)],
        [onnx.numpy_helper.from_array(weights(2, 12, 3, 3), "w")],
    )
    model = mcugraph.load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    graph_view = kernel_view(model)
    order = [f"relu{i}" for i in range(10)] + ["concat/part0", "relu10", "relu11", "concat", "conv/pad", "conv"]
    assert sorted(order) == sorted(k.name for k in graph_view.kernels)
    plan = plan_arena(graph_view, order)
    result = check_export(model, int8=True, order=order, offline_offsets=plan.offsets)
    assert operators(result.data) == ["RELU"] * 10 + ["CONCATENATION", "RELU", "RELU", "CONCATENATION", "PAD",
                                                      "CONV_2D"]
    assert arena_head(result.data) == plan.arena_bytes

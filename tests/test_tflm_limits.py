"""Quantisation parameters TFLM always accepts: range floor, bias-driven weight scales, and the pre-write check that
names the operator when parameters would still be refused or saturated."""

from __future__ import annotations

import dataclasses

import numpy as np
import onnx
import onnx_ir as ir
import pytest
from export_check import activation_params, weights
from onnx import helper

import mcugraph
from mcugraph.errors import ExportError
from mcugraph.export import export_tflite
from mcugraph.export.quant_params import (
    BIAS_LIMIT,
    MIN_RANGE,
    QuantParam,
    bias_weight_scales,
    param_from_range,
    quantize_bias,
    quantize_weights,
)
from mcugraph.tflite.tflm import arena_head


def conv_relu6_fc() -> ir.Model:
    """Conv -> Clip(0, 6) (fused RELU6) -> Flatten -> Gemm with a bias."""
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Clip", ["c", "lo", "hi"], ["r"], name="relu6"),
        helper.make_node("Flatten", ["r"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], name="fc", transB=1),
    ]
    inits = {
        "w": weights(3, 2, 3, 3), "lo": np.array(0, np.float32), "hi": np.array(6, np.float32),
        "fw": weights(5, 3 * 4 * 4, seed=1), "fb": weights(5, seed=2),
    }
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, (1, 2, 4, 4))],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)],
        [onnx.numpy_helper.from_array(v, n) for n, v in inits.items()],
    )
    return mcugraph.load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]))


def test_near_empty_range_is_floored_so_relu6_fits_int32():
    """A calibrated range of 1e-8 (an untrained deep net) is widened to MIN_RANGE; 6 / scale then fits int32."""
    param = param_from_range(0.0, 1e-8)
    low, high = param.range
    assert high - low >= MIN_RANGE * 0.99
    assert abs(np.round(6.0 / param.scale)) < 2**31
    assert abs(param_from_range(-1e-8, 1e-8).zero_point - param_from_range(-1.0, 1.0).zero_point) <= 1  # 0 stays
    assert param_from_range(0.0, 1.0) == QuantParam(1.0 / 255.0, -128)  # ordinary ranges are untouched


def test_weight_scale_widens_so_the_bias_fits():
    """A large bias over a tiny input scale gets a weight scale whose int32 bias stays within BIAS_LIMIT."""
    w = np.full((2, 4), 0.01, np.float32)
    bias = np.array([0.5, 0.0], np.float32)
    input_scale = 1e-9
    _, plain = quantize_weights(w, 0)
    _, scales = quantize_weights(w, 0, bias_weight_scales(bias, input_scale))
    q, _ = quantize_bias(bias, input_scale, scales)
    assert abs(int(q[0])) <= BIAS_LIMIT
    assert scales[0] > plain[0] and scales[1] == plain[1]  # only the channel that needed it


def test_export_refuses_an_output_scale_tflm_cannot_prepare():
    """A fused RELU6 over an output scale of 1e-12 is refused before writing, naming the operator and numbers."""
    model = conv_relu6_fc()
    params = activation_params(model)
    params["r"] = QuantParam(1e-12, -128)
    with pytest.raises(ExportError, match=r"CONV_2D writing 'r'.*RELU6 bound 6"):
        export_tflite(model, activations=params)


def test_export_refuses_a_saturated_requantisation_multiplier():
    """A layer whose input * weight / output scale reaches 2^30 is refused (TFLM would saturate it silently)."""
    model = conv_relu6_fc()
    params = activation_params(model)
    params["y"] = dataclasses.replace(params["y"], scale=1e-15)
    with pytest.raises(ExportError, match=r"FULLY_CONNECTED writing 'y'.*multiplier.*>= 2\^30"):
        export_tflite(model, activations=params)


def test_ordinary_parameters_pass_the_check():
    """The check accepts what calibration produces for an ordinary model, and TFLM prepares it."""
    model = conv_relu6_fc()
    result = export_tflite(model, activations=activation_params(model))
    assert arena_head(result.data) > 0


def test_untrained_mobilenetv2_exports(tmp_path):
    """A freshly initialised MobileNetV2 (width 0.35, BatchNorm untouched) prepares in TFLM and verifies; its
    activations shrink to ~1e-8 by the last blocks, which TFLM refused before the floor."""
    import torch

    from mcugraph import zoo_coverage

    torch.manual_seed(0)
    module = zoo_coverage.MobileNetV2(width=0.35, classes=10).eval()
    path = tmp_path / "m.onnx"
    torch.onnx.export(module, (torch.rand(1, 3, 32, 32),), str(path), dynamo=False, input_names=["input"])
    result = mcugraph.optimize(str(path), calib="random:0,1,20", progress=False, warn=lambda _: None)
    assert result.report["verification"]["sqnr_db"] >= 20

"""The flash figure of ``analyze`` is what the int8 exporter really writes for the layers' weights and biases."""

from __future__ import annotations

import pytest

import mcugraph
from mcugraph.tflite import schema

LAYERS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")


def layer_constant_bytes(data: bytes) -> int:
    """Bytes of the weight (input 1) and bias (input 2) buffers of the .tflite's layer operators."""
    model = schema.read(data)
    graph = model.subgraphs[0]
    total = 0
    for op in graph.operators:
        if schema.builtin_name(schema.opcode_builtin(model.operatorCodes[op.opcodeIndex])) not in LAYERS:
            continue
        for index in op.inputs[1:3]:
            buffer = model.buffers[graph.tensors[index].buffer] if index >= 0 else None
            total += len(buffer.data) if buffer is not None and buffer.data is not None else 0
    return total


def int8_tflite(model) -> bytes:
    return mcugraph.optimize(model, calib="random:0,1", verify=False, warn=lambda message: None).tflite


@pytest.mark.parametrize("name", ["mobilenetv2", "inception"])
def test_zoo_flash_equals_exported_layer_bytes(zoo, name):
    """Zoo models: analyze's weight_bytes equals the int8 weights + int32 biases in the exported file, its
    flash_bytes the file's length."""
    report = mcugraph.analyze(mcugraph.run_pipeline(mcugraph.load(zoo(name)), mcugraph.CANONICALIZE).model)
    data = int8_tflite(zoo(name))
    assert report.weight_bytes == layer_constant_bytes(data)
    assert report.flash_bytes == len(data)


def test_mlperf_flash_equals_exported_layer_bytes(shared_models):
    """ResNet-8: analyze's weight_bytes equals the int8 weights + int32 biases in the exported file, its
    flash_bytes the file's length."""
    path = shared_models / "ic_resnet8.onnx"
    report = mcugraph.analyze(mcugraph.run_pipeline(mcugraph.load(path), mcugraph.CANONICALIZE).model)
    data = int8_tflite(path)
    assert report.weight_bytes == layer_constant_bytes(data)
    assert report.flash_bytes == len(data)

"""Reading a .tflite file as a KernelGraph (mcugraph.memory.tflite_graph)."""

from __future__ import annotations

import numpy as np
import pytest

from mcugraph.errors import InvalidModelError, ModelLoadError
from mcugraph.memory.tflite_graph import kernel_graph_from_tflite
from mcugraph.tflite import schema as tfl
from mcugraph.tflite.builder import TinyTflite


def _add_mul(dtype=np.float32) -> bytes:
    b = TinyTflite()
    x = b.tensor("x", (1, 4, 4, 2), dtype)
    y = b.tensor("y", (1, 4, 4, 2), dtype)
    k = b.tensor("k", (1,), dtype, data=np.array([2], dtype))
    z = b.tensor("z", (1, 4, 4, 2), dtype)
    b.op("ADD", [x, y], [z])
    o = b.tensor("o", (1, 4, 4, 2), dtype)
    b.op("MUL", [z, k], [o])
    return b.build([x, y], [o])


def test_kernels_are_named_by_index_and_builtin():
    """Operator i becomes kernel "<i>:<BUILTIN>" with its tensors in operator order."""
    graph = kernel_graph_from_tflite(_add_mul())
    assert [(k.name, k.op, k.inputs, k.outputs) for k in graph.kernels] == [
        ("0:ADD", "ADD", ("x", "y"), ("z",)),
        ("1:MUL", "MUL", ("z", "k"), ("o",)),
    ]
    assert (graph.inputs, graph.outputs) == (("x", "y"), ("o",))


def test_tensor_sizes_follow_the_tflite_type():
    """float32 tensors take 4 bytes per element, int8 ones 1; tensors with buffer data are constants."""
    f32 = kernel_graph_from_tflite(_add_mul(np.float32)).tensors
    i8 = kernel_graph_from_tflite(_add_mul(np.int8)).tensors
    assert (f32["z"].nbytes, i8["z"].nbytes) == (128, 32)
    assert f32["k"].constant and not f32["z"].constant


def test_duplicate_tensor_names_are_made_unique():
    """Two tensors with the same TFLite name get distinct names carrying their index."""
    b = TinyTflite()
    x = b.tensor("same", (1, 8))
    y = b.tensor("same", (1, 8))
    b.op("RESHAPE", [x], [y])
    graph = kernel_graph_from_tflite(b.build([x], [y]))
    assert graph.kernels[0].inputs == ("t0:same",) and graph.kernels[0].outputs == ("t1:same",)


def test_real_model_has_one_kernel_per_operator(shared_models):
    """The IC ResNet-8 reference model reads as 16 kernels whose activations are 16-channel 32x32 int8 maps."""
    graph = kernel_graph_from_tflite((shared_models / "ic_resnet8.int8.tflite").read_bytes())
    assert len(graph.kernels) == 16 and graph.kernels[3].op == "ADD"
    assert graph.tensors[graph.kernels[0].outputs[0]].nbytes == 32 * 32 * 16


def test_variable_tensor_is_refused():
    """A variable (stateful) tensor is refused with an error naming it."""
    data = bytearray(_add_mul())
    model = tfl.read(data)
    model.subgraphs[0].tensors[2].isVariable = True
    with pytest.raises(InvalidModelError, match="variable tensor"):
        kernel_graph_from_tflite(tfl.pack(model))


def test_several_subgraphs_are_refused():
    """A model with two subgraphs is refused: TFLM plans them with nested scopes."""
    model = tfl.read(_add_mul())
    model.subgraphs = model.subgraphs * 2
    with pytest.raises(InvalidModelError, match="2 subgraphs"):
        kernel_graph_from_tflite(tfl.pack(model))


def test_non_tflite_bytes_are_refused():
    """Bytes without the TFL3 identifier raise ModelLoadError, not a flatbuffer crash."""
    with pytest.raises(ModelLoadError, match="not a TFLite flatbuffer"):
        kernel_graph_from_tflite(b"\x08\x07onnx model bytes here")

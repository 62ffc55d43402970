"""``--io float32`` around an int8 model: the kernel view models the QUANTIZE/DEQUANTIZE edges and their 4-byte
float tensors, and TFLM's arena head equals the prediction."""

from __future__ import annotations

import pytest

import mcugraph
from mcugraph import zoo_coverage
from mcugraph.memory.kernel_view import FLOAT_EDGE_SUFFIX, float_edges, kernel_view


@pytest.fixture(scope="module")
def two_outputs(tmp_path_factory):
    path = zoo_coverage.export("two_outputs", tmp_path_factory.mktemp("io") / "m.onnx", "legacy")
    return mcugraph.run_pipeline(mcugraph.load(str(path)), mcugraph.CANONICALIZE).model


def test_float_edges_are_kernels_with_4_byte_tensors(two_outputs):
    """One QUANTIZE per input and one DEQUANTIZE per output; the graph's inputs/outputs are their float sides."""
    int8 = kernel_view(two_outputs)
    graph = kernel_view(two_outputs, io_dtype="float32")
    edges = float_edges(graph)
    assert [k.op for k in edges] == ["QUANTIZE", "DEQUANTIZE", "DEQUANTIZE"]
    assert float_edges(int8) == ()
    assert len(graph.kernels) == len(int8.kernels) + 3
    for outer, inner in zip((*graph.inputs, *graph.outputs), (*int8.inputs, *int8.outputs), strict=True):
        assert outer.endswith(FLOAT_EDGE_SUFFIX)
        assert graph.tensors[outer].nbytes == 4 * int8.tensors[inner].nbytes


def test_float32_model_has_no_edges(two_outputs):
    """A float32 model has float inputs already: no QUANTIZE/DEQUANTIZE kernels."""
    assert float_edges(kernel_view(two_outputs, "float32", io_dtype="float32")) == ()


@pytest.mark.parametrize("name", ["two_inputs", "two_outputs", "mlp_autoencoder"])
def test_io_float32_arena_matches_tflm(name, tmp_path):
    """opt --io float32 passes its own arena check (it refused these three before the kernel view had the edges)."""
    path = zoo_coverage.export(name, tmp_path / "m.onnx", "legacy")
    low, high = zoo_coverage.FAMILIES[name].value_range
    result = mcugraph.optimize(
        str(path), calib=f"random:{low},{high},20", io_dtype="float32", progress=False, warn=lambda _: None
    )
    report = result.report
    assert report["io_dtype"] == "float32"
    assert report["arena_head_bytes"] == report["predicted_arena_bytes"]
    int8 = mcugraph.optimize(str(path), calib=f"random:{low},{high},20", progress=False, warn=lambda _: None)
    assert report["arena_head_bytes"] >= int8.report["arena_head_bytes"]  # the float sides cost SRAM, if at the peak


def test_edges_follow_the_order_or_go_to_the_ends(two_outputs):
    """The writer puts each QUANTIZE/DEQUANTIZE where the order names it; edges the order leaves out go first/last."""
    from export_check import activation_params, operators

    from mcugraph.export import export_tflite

    params = activation_params(two_outputs)
    plain = [k.name for k in kernel_view(two_outputs).kernels]
    ops = operators(export_tflite(two_outputs, activations=params, order=plain, io_dtype="float32").data)
    assert ops[0] == "QUANTIZE" and ops[-2:] == ["DEQUANTIZE", "DEQUANTIZE"]
    graph = kernel_view(two_outputs, io_dtype="float32")
    edges = float_edges(graph)
    last = graph.kernel(plain[-1])
    early = next(k.name for k in edges if k.op == "DEQUANTIZE" and k.inputs[0] not in last.outputs)
    late = [k.name for k in edges if k.op == "DEQUANTIZE" and k.name != early]
    quantize = [k.name for k in edges if k.op == "QUANTIZE"]
    order = [*quantize, *plain[:-1], early, plain[-1], *late]  # one output's DEQUANTIZE before the last kernel
    ops = operators(export_tflite(two_outputs, activations=params, order=order, io_dtype="float32").data)
    assert ops[-3] == "DEQUANTIZE" and ops[-1] == "DEQUANTIZE" and ops[-2] != "DEQUANTIZE"

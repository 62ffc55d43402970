"""Helpers shared by the exporter tests (tests/test_export_*.py); not a test module itself.

``check_export`` exports a model, runs it in TFLite Micro (and LiteRT) on the inputs onnxruntime sees and compares:
float32 tightly, int8 within a few quantisation steps of the output. Activation ranges come from onnxruntime on a few
random inputs (the pipeline engineer owns real calibration).
"""

from __future__ import annotations

import numpy as np
import onnx
import onnx_ir as ir
from onnx import helper

import mcugraph
from mcugraph.analysis.flash import placeholder_params
from mcugraph.export import ExportResult, QuantParam, export_tflite, layout, param_from_range
from mcugraph.export.quant_params import dequantize, quantize
from mcugraph.runtime import input_feeds, run_onnx, run_onnx_all_values
from mcugraph.tflite.schema import builtin_name, opcode_builtin, read
from mcugraph.tflite.tflm import run_litert, run_tflm

SEEDS = (0, 1, 2)


def one_node(
    op_type: str, inputs: dict[str, tuple[int, ...]], consts: dict[str, np.ndarray] | None = None,
    order: list[str] | None = None, outputs: int = 1, **attrs,
) -> ir.Model:
    """A model of one ONNX node: ``inputs`` are graph inputs (name -> shape), ``consts`` initializers; ``order``
    lists the node's input names (default: inputs then consts)."""
    consts = consts or {}
    names = order or [*inputs, *consts]
    outs = [f"y{i}" for i in range(outputs)]
    node = helper.make_node(op_type, names, outs, name=f"{op_type.lower()}0", **attrs)
    graph = helper.make_graph(
        [node], "one",
        [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, s) for n, s in inputs.items()],
        [helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, None) for o in outs],
        [onnx.numpy_helper.from_array(np.asarray(v), n) for n, v in consts.items()],
    )
    return mcugraph.load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


def weights(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.5, 0.5, shape).astype(np.float32)


def activation_params(model: ir.Model, seeds: tuple[int, ...] = SEEDS) -> dict[str, QuantParam]:
    """int8 parameters for every float value from its range over random inputs."""
    names = [v.name for v in model.graph.inputs]
    names += [o.name for n in model.graph for o in n.outputs if o.dtype is not None and o.dtype.is_floating_point()]
    lo: dict[str, float] = {}
    hi: dict[str, float] = {}
    for seed in seeds:
        for name, value in run_onnx_all_values(model, names, seed=seed).items():
            lo[name] = min(lo.get(name, 0.0), float(value.min()))
            hi[name] = max(hi.get(name, 0.0), float(value.max()))
    return {n: param_from_range(lo[n], hi[n]) for n in lo}


def operators(data: bytes) -> list[str]:
    model = read(data)
    return [builtin_name(opcode_builtin(model.operatorCodes[o.opcodeIndex])) for o in model.subgraphs[0].operators]


def _param(tensor) -> QuantParam | None:
    q = tensor.quantization
    if q is None or q.scale is None or not len(q.scale):
        return None
    return QuantParam(float(q.scale[0]), int(q.zeroPoint[0]))


def tflite_inputs(data: bytes, model: ir.Model, feeds: list[np.ndarray], input_layout: str = "nhwc") -> list:
    """ONNX feeds as the TFLite model takes them: NHWC for NCHW rank-4 inputs read as images (not those only a
    reshape or MatMul reads), int8 codes where it is int8."""
    sub = read(data).subgraphs[0]
    result = []
    for index, x, value in zip(sub.inputs, feeds, model.graph.inputs, strict=True):
        tensor = sub.tensors[index]
        if (x.ndim == 4 and input_layout == "nhwc" and not layout.input_is_nhwc(value)
                and layout.value_perm(value) == layout.NHWC):  # as the writer: only inputs read as images
            x = x.transpose(0, 2, 3, 1)
        param = _param(tensor)
        result.append(quantize(x, param) if param is not None else x.astype(np.float32))
    return result


def as_onnx(data: bytes, outputs: list[np.ndarray], shapes: list[tuple[int, ...]], perms=None) -> tuple[list, list]:
    """TFLite outputs dequantised and in ONNX layout, with the output quantisation steps (0 for float); ``perms``:
    the export's ``output_perms`` (default: rank-4 outputs are NHWC)."""
    sub = read(data).subgraphs[0]
    values, steps = [], []
    perms = perms or [None] * len(outputs)
    for index, y, _shape, perm in zip(sub.outputs, outputs, shapes, perms, strict=True):
        param = _param(sub.tensors[index])
        y = dequantize(y, param) if param is not None else y
        if y.ndim == 4 and (perm is None or tuple(perm) == layout.NHWC):
            y = y.transpose(0, 3, 1, 2)
        values.append(y)
        steps.append(param.scale if param is not None else 0.0)
    return values, steps


def check_export(
    model: ir.Model, *, int8: bool, steps: float = 3, seed: int = 0, litert: bool = True, **kwargs
) -> ExportResult:
    """Export, run in TFLM (and LiteRT), assert the outputs match onnxruntime; return the export."""
    feeds = input_feeds(model, seed)
    expected = run_onnx(model, feeds)
    params = activation_params(model) if int8 else None
    result = export_tflite(model, activations=params, **kwargs)
    # The flash analyze and prune predict: the same export with placeholder ranges has the file's size exactly.
    placeholder = export_tflite(model, activations=placeholder_params(model) if int8 else None, **kwargs)
    assert len(placeholder.data) == len(result.data)
    x = tflite_inputs(result.data, model, list(feeds.values()), kwargs.get("input_layout", "nhwc"))
    raw = run_tflm(result.data, x)
    got, quant_steps = as_onnx(result.data, raw, [e.shape for e in expected], result.output_perms)
    for e, g, q, value in zip(expected, got, quant_steps, model.graph.outputs, strict=True):
        q = q or (params[value.name].scale if params else 0.0)  # float I/O around an int8 body
        atol = steps * q if int8 else 1e-4
        np.testing.assert_allclose(g, e, rtol=1e-4 if not int8 else 0, atol=atol)
    if litert:
        for a, b in zip(raw, run_litert(result.data, x), strict=True):
            # Same arithmetic; LiteRT's optimised kernels round differently (its int8 softmax by up to 2 codes).
            np.testing.assert_allclose(b.astype(np.float32), a.astype(np.float32), rtol=0 if int8 else 1e-5,
                                       atol=2.0 if int8 else 1e-5)
    return result

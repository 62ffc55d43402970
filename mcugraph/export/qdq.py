"""Pre-quantised (QDQ) ONNX models: keep their activation scales, export them without re-calibrating.

A QDQ model (onnxruntime ``quantize_static(..., quant_format=QDQ)``, torch-ao style exports) carries
``x -> QuantizeLinear(s, z) -> DequantizeLinear(s, z) -> consumers`` on activations and
``int8 W -> DequantizeLinear -> consumers`` on weights. The weights' DequantizeLinear nodes are folded into float
constants by the ``fold-dequantize-weights`` pass of ``mcugraph.CANONICALIZE``; the exporter then re-quantises
them per channel, which gives back the same codes (onnxruntime's int8 weights are symmetric, ``max|w| = 127 s``).

:func:`strip_activation_qdq` removes every activation Q/DQ pair (the graph becomes float) and returns each
activation's ``(scale, zero_point)`` as a :class:`QuantParam` exactly (uint8 parameters are shifted by -128, which
is the same real mapping in int8). Values between pairs that carry no Q/DQ of their own (reshapes and pools that
onnxruntime leaves unquantised) take the parameters of their input, as TFLite requires of those ops anyway.
It refuses (``ExportError``) per-axis activation scales, a QuantizeLinear feeding anything but
DequantizeLinear, and values left without parameters.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from mcugraph.errors import ExportError
from mcugraph.export.quant_params import QuantParam
from mcugraph.ops import SHARES, SHARES_ALL, ops_where

# Ops across which a missing scale may be copied: those whose int8 codes TFLM copies (the op table's int8 column:
# inputs and outputs share parameters), and the fusable activations (fused, the value before a Relu/Clip is the
# kernel's output and takes its parameters).
PASS_THROUGH = ops_where(lambda row: row.exported and (row.int8 in (SHARES, SHARES_ALL) or row.activation))


def is_qdq_model(model: ir.Model) -> bool:
    """True when some QuantizeLinear quantises a value computed at run time (an activation)."""
    return any(node.op_type == "QuantizeLinear" and not _is_constant(node.inputs[0]) for node in model.graph)


def strip_activation_qdq(model: ir.Model) -> dict[str, QuantParam]:
    """Remove activation Q/DQ pairs from ``model`` in place; return ``{float value name: QuantParam}``."""
    graph = model.graph
    params: dict[str, QuantParam] = {}
    for q in [n for n in graph if n.op_type == "QuantizeLinear"]:
        x = q.inputs[0]
        if _is_constant(x):
            continue
        param = _param(q)
        quantized = q.outputs[0]
        dqs = [use.node for use in quantized.uses()]
        if not dqs or any(d.op_type != "DequantizeLinear" for d in dqs) or quantized.is_graph_output():
            raise ExportError(
                f"QDQ model: QuantizeLinear '{q.name}' output must feed only DequantizeLinear nodes; "
                "int8 values flowing between other ops are not supported, re-export as plain QDQ"
            )
        for dq in dqs:
            _replace_dq(graph, dq, x)
        graph.remove(q, safe=True)
        params[x.name] = param
    _fill_pass_through(graph, params)
    return params


def _replace_dq(graph: ir.Graph, dq: ir.Node, x: ir.Value) -> None:
    out = dq.outputs[0]
    name = out.name
    was_output = out.is_graph_output()
    out.replace_all_uses_with(x, replace_graph_outputs=True)
    graph.remove(dq, safe=True)
    if was_output and not x.is_graph_input():
        x.name = name  # keep the model's public output name


def _fill_pass_through(graph: ir.Graph, params: dict[str, QuantParam]) -> None:
    changed = True
    while changed:  # forward and backward along pass-through ops until nothing new is learnt
        changed = False
        for node in graph:
            if node.op_type not in PASS_THROUGH or not node.inputs or node.inputs[0] is None:
                continue
            src = node.inputs[0]
            for out in node.outputs:
                if out.name not in params and src.name in params:
                    params[out.name] = params[src.name]
                    changed = True
                elif src.name not in params and out.name in params and not _is_constant(src):
                    params[src.name] = params[out.name]
                    changed = True
    missing = [v.name for v in _runtime_float_values(graph) if v.name not in params]
    if missing:
        raise ExportError(
            f"QDQ model: {len(missing)} activation(s) carry no QuantizeLinear/DequantizeLinear pair and cannot "
            f"inherit one: {', '.join(missing[:6])}; quantise every activation (quantize_static with all op types) "
            "or export the float model with --calib instead"
        )


def _runtime_float_values(graph: ir.Graph) -> list[ir.Value]:
    """Float values that depend on a graph input (weights and their DequantizeLinear outputs do not)."""
    runtime = {id(v) for v in graph.inputs}
    values = list(graph.inputs)
    for node in graph:  # graph order is topological
        if any(v is not None and id(v) in runtime for v in node.inputs):
            runtime.update(id(v) for v in node.outputs)
            values.extend(v for v in node.outputs if v.dtype == ir.DataType.FLOAT)
    return values


def _param(node: ir.Node) -> QuantParam:
    """Per-tensor (scale, zero point) of a QuantizeLinear/DequantizeLinear node, as int8."""
    scale_value = node.inputs[1]
    zp_value = node.inputs[2] if len(node.inputs) > 2 else None
    scale = _const(scale_value, node)
    zero = _const(zp_value, node) if zp_value is not None else np.zeros((), np.int8)
    if scale.size != 1 or zero.size != 1:
        raise ExportError(
            f"QDQ model: {node.op_type} '{node.name}' has per-axis activation scales ({scale.size} values); "
            "TFLite int8 activations are per-tensor, re-quantise with per-tensor activations"
        )
    zp = int(zero.reshape(()))
    if zero.dtype == np.uint8:
        zp -= 128  # uint8 (s, z) and int8 (s, z - 128) map codes to the same real values
    elif zero.dtype != np.int8:
        raise ExportError(
            f"QDQ model: {node.op_type} '{node.name}' quantises to {zero.dtype}; only int8/uint8 activations "
            "can become TFLite int8"
        )
    return QuantParam(float(scale.reshape(())), zp)


def _const(value: ir.Value, node: ir.Node) -> np.ndarray:
    tensor = ir.convenience.get_const_tensor(value)
    if tensor is None:
        raise ExportError(
            f"QDQ model: {node.op_type} '{node.name}' scale/zero point '{value.name}' is not a constant"
        )
    return tensor.numpy()


def _is_constant(value: ir.Value | None) -> bool:
    if value is None:
        return True
    if value.const_value is not None:
        return True
    producer = value.producer()
    return producer is not None and producer.op_type == "Constant"

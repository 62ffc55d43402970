"""Per-node compute and flash costs: multiply-accumulates and the bytes of weights and biases at deployment.

MACs count multiply-accumulates of the ops that dominate inference on a microcontroller; every other op is 0:

- ``Conv``: one MAC per output element per weight element feeding it, ``prod(out) * prod(W.shape[1:])``,
  i.e. Oh·Ow·Oc·Kh·Kw·Ic/groups for 2-D (any rank works the same way).
- ``ConvTranspose``: each input element scatters into ``prod(W.shape[1:])`` outputs, Ih·Iw·Ic·Kh·Kw·Oc/groups.
- ``Gemm``/``MatMul``: ``prod(out) * K``, i.e. in·out times the rows.
- ``LSTM``/``GRU``/``RNN``: per time step and sequence, one MAC per element of ``W`` and ``R`` (all gates).

Weight bytes are what the int8 exporter writes to flash: weights int8 (1 byte/element), biases int32 (4
bytes/element); ``dtype="float32"`` makes both 4 bytes. Which constant inputs are weights and which are biases is
the op table's "weights" column (:data:`mcugraph.ops.OPS`, seen here as :data:`WEIGHT_ROLES`). A constant used by
several nodes (weight sharing) is counted once, on the first node in graph order. Nodes whose inputs are all
constant (``Constant``, ``DequantizeLinear`` of int8 weights, shape arithmetic) fold away before deployment and cost nothing; the node consuming their output pays for it.
Integer constants (shapes, axes, pads) are operator metadata, not parameters, and are not counted.
"""

from __future__ import annotations

import dataclasses
import math

import onnx_ir as ir

from mcugraph.errors import InvalidModelError, MCUGraphError
from mcugraph.ops import BIAS, OPS, WEIGHT

# op -> {input index: role}, the op table's "weights" column. Add/Sub after a Conv/Gemm/MatMul carry that layer's
# bias (the exporter fuses them).
WEIGHT_ROLES: dict[str, dict[int, str]] = {op: dict(row.weights) for op, row in OPS.items() if row.weights}
_LAYERS_WITH_BIAS = frozenset(op for op, row in OPS.items() if row.layer)  # the op table's weighted layers
_ITEMSIZE = {"int8": {WEIGHT: 1, BIAS: 4}, "float32": {WEIGHT: 4, BIAS: 4}}


@dataclasses.dataclass(frozen=True)
class NodeCost:
    """Costs of one IR node. ``weight_bytes`` in bytes at the deployment dtype; ``params`` in elements."""

    name: str
    op: str
    macs: int
    weight_bytes: int
    params: int


def node_costs(model: ir.Model, dtype: str = "int8") -> tuple[NodeCost, ...]:
    """One :class:`NodeCost` per node of ``model.graph``, in graph order. Needs static shapes (``mcugraph.load``)."""
    if dtype not in _ITEMSIZE:
        raise MCUGraphError(f"deployment dtype {dtype!r} is not supported; use one of {', '.join(_ITEMSIZE)}")
    itemsize = _ITEMSIZE[dtype]
    constant = constant_values(model.graph)
    counted: set[int] = set()
    costs = []
    for node in model.graph:
        if _folds_away(node, constant):
            costs.append(NodeCost(node.name, node.op_type, 0, 0, 0))
            continue
        weight_bytes = params = 0
        for value, role in _weights_of(node, constant):
            if id(value) in counted:
                continue
            counted.add(id(value))
            elements = math.prod(_static_shape(value, node))
            params += elements
            weight_bytes += elements * itemsize[role]
        costs.append(NodeCost(node.name, node.op_type, macs(node), weight_bytes, params))
    return tuple(costs)


def macs(node: ir.Node) -> int:
    """Multiply-accumulates of ``node`` (0 for ops other than Conv, ConvTranspose, Gemm, MatMul and recurrences)."""
    op = node.op_type
    if op == "Conv":
        return math.prod(_static_shape(node.outputs[0], node)) * math.prod(_static_shape(node.inputs[1], node)[1:])
    if op == "ConvTranspose":
        return math.prod(_static_shape(node.inputs[0], node)) * math.prod(_static_shape(node.inputs[1], node)[1:])
    if op == "Gemm":
        a = _static_shape(node.inputs[0], node)
        transposed = bool(node.attributes.get_int("transA", 0))
        return math.prod(_static_shape(node.outputs[0], node)) * (a[0] if transposed else a[1])
    if op == "MatMul":
        a = _static_shape(node.inputs[0], node)
        return math.prod(_static_shape(node.outputs[0], node)) * a[-1]
    if op in ("LSTM", "GRU", "RNN"):
        # Every time step of every sequence multiplies the input by W and the hidden state by R.
        steps = math.prod(_static_shape(node.inputs[0], node)[:2])  # seq_len * batch in either layout
        return steps * (math.prod(_static_shape(node.inputs[1], node)) + math.prod(_static_shape(node.inputs[2], node)))
    return 0


def constant_values(graph: ir.Graph) -> set[ir.Value]:
    """Values known before inference: initializers and outputs of nodes whose inputs are all constant."""
    constant = {v for v in graph.initializers.values() if v.const_value is not None}
    for node in graph:  # graph order is topological
        if _folds_away(node, constant):
            constant.update(node.outputs)
    return constant


def _folds_away(node: ir.Node, constant: set[ir.Value]) -> bool:
    inputs = [v for v in node.inputs if v is not None]
    return all(v in constant for v in inputs) and (bool(inputs) or node.op_type == "Constant")


def _weights_of(node: ir.Node, constant: set[ir.Value]) -> list[tuple[ir.Value, str]]:
    roles = WEIGHT_ROLES.get(node.op_type, {})
    found = []
    for index, role in roles.items():
        value = node.inputs[index] if index < len(node.inputs) else None
        if value is None or value not in constant or not _is_float(value):
            continue
        if node.op_type in ("Add", "Sub") and _follows_layer(node, value):
            role = BIAS
        found.append((value, role))
    return found


def _follows_layer(node: ir.Node, constant_operand: ir.Value) -> bool:
    """Is ``node`` adding a constant to the output of a Conv/Gemm/MatMul, i.e. that layer's bias?"""
    other = next((v for v in node.inputs if v is not None and v is not constant_operand), None)
    producer = other.producer() if other is not None else None
    return producer is not None and producer.op_type in _LAYERS_WITH_BIAS


def _is_float(value: ir.Value) -> bool:
    return value.dtype is not None and value.dtype.is_floating_point()


def _static_shape(value: ir.Value | None, node: ir.Node) -> tuple[int, ...]:
    if value is None or value.shape is None or not all(isinstance(d, int) for d in value.shape):
        name = value.name if value is not None else "(missing input)"
        raise InvalidModelError(
            f"node '{node.name}' ({node.op_type}): value '{name}' has no static shape; "
            "load the model with mcugraph.load (fix dynamic inputs with --input-shape)"
        )
    return tuple(value.shape)

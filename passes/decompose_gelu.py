"""``decompose-gelu``: GELU (the ``Gelu`` op or torch's Erf spelling) as its tanh approximation in Mul/Add/Sigmoid."""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import numpy as np
import onnx_ir as ir

from mcugraph.passes._rewrite import add_initializer, constant_array, remove_node, set_static
from mcugraph.registry import register

_TOL = 1e-4  # float32 spellings of sqrt(2), 1/sqrt(2), 0.5 and 1
# tanh-GELU: 0.5 x (1 + tanh(K (x + A x^3))) = x * sigmoid(2K (x + A x^3)), since (1 + tanh z) / 2 = sigmoid(2z).
K = math.sqrt(2 / math.pi)
A = 0.044715


@register
@dataclasses.dataclass(frozen=True)
class DecomposeGeluPass(ir.passes.InPlacePass):
    """Rewrite GELU as the tanh approximation, written with kernels TFLM has (MUL, ADD, LOGISTIC)::

        gelu(x) ~ 0.5 x (1 + tanh(K (x + A x^3)))      K = sqrt(2 / pi), A = 0.044715
                = x * Sigmoid(x * (2K + 2KA * x * x))   (because (1 + tanh z) / 2 = sigmoid(2z))

    Matches ``Gelu(x)`` (opset 20, either ``approximate``; "tanh" is then exact) and torch's opset-13 spelling of
    exact GELU, ``Mul(Mul(x, Add(Erf(Div(x, sqrt 2)), 1)), 0.5)`` with the Div as ``Mul(x, 1/sqrt 2)`` and the
    factors 0.5 and x in any order. The approximation differs from the Erf form by at most 4.7e-4 (SQNR 82 dB over
    x uniform in [-6, 6], 77 dB for x ~ N(0, 2^2); tests/test_passes_decompose_gelu.py), far below int8 resolution.

    Leaves alone: the Erf spelling when any intermediate has another reader or is a graph output, an Erf that is
    not part of a GELU (it is then refused by the exporter), and non-float tensors.
    """

    name: ClassVar[str] = "decompose-gelu"

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        graph = model.graph
        modified = False
        for node in list(graph):
            if node.graph is None or node.domain not in ("", "ai.onnx"):
                continue
            if node.op_type == "Gelu":
                match = node.inputs[0], node.outputs[0], [node]
            elif node.op_type == "Erf":
                match = _erf_gelu(node)
            else:
                continue
            if match is None:
                continue
            x, y, dead = match
            if x.dtype is None or not x.dtype.is_floating_point():
                continue
            _write_tanh_gelu(graph, x, y, dead)
            modified = True
        return ir.passes.PassResult(model, modified)


def _write_tanh_gelu(graph: ir.Graph, x: ir.Value, y: ir.Value, dead: list[ir.Node]) -> None:
    dtype = x.dtype.numpy()
    base = dead[-1].name or y.name
    c_cube = add_initializer(graph, np.array(2 * K * A, dtype), f"{y.name}/gelu_2ka")
    c_lin = add_initializer(graph, np.array(2 * K, dtype), f"{y.name}/gelu_2k")
    new_nodes: list[ir.Node] = []

    def add(op: str, inputs: list[ir.Value], tag: str) -> ir.Value:
        new = ir.node(op, inputs, name=f"{base}/{tag}")
        new.outputs[0].name = f"{y.name}/{tag}"
        set_static(new.outputs[0], tuple(y.shape), y.dtype)
        new_nodes.append(new)
        return new.outputs[0]

    square = add("Mul", [x, x], "square")
    slope = add("Add", [add("Mul", [square, c_cube], "cube_term"), c_lin], "slope")
    gate = add("Sigmoid", [add("Mul", [x, slope], "logit")], "gate")
    out = add("Mul", [x, gate], "gelu")
    graph.insert_before(dead[-1], new_nodes)
    name = y.name
    y.replace_all_uses_with(out, replace_graph_outputs=True)
    remove_node(graph, dead)
    y.name = f"{name}__replaced"
    out.name = name


def _sole_reader(value: ir.Value, op: str) -> ir.Node | None:
    uses = value.uses()
    if value.is_graph_output() or len(uses) != 1:
        return None
    reader = uses[0].node
    return reader if reader.op_type == op and reader.domain in ("", "ai.onnx") else None


def _is_const(value: ir.Value | None, target: float) -> bool:
    array = constant_array(value)
    return array is not None and array.size == 1 and abs(float(array.ravel()[0]) - target) <= _TOL


def _other(node: ir.Node, value: ir.Value) -> ir.Value | None:
    """The operand of binary ``node`` that is not ``value`` (None when ``value`` is not an operand)."""
    a, b = node.inputs[0], node.inputs[1]
    return b if a is value else a if b is value else None


def _erf_gelu(erf: ir.Node) -> tuple[ir.Value, ir.Value, list[ir.Node]] | None:
    """``(x, y, nodes)`` if ``erf`` sits in ``y = 0.5 * x * (1 + erf(x / sqrt 2))``, nodes in graph order."""
    scaled = erf.inputs[0]
    pre = scaled.producer()
    if pre is None or len(scaled.uses()) != 1 or scaled.is_graph_output() or pre.op_type not in ("Div", "Mul"):
        return None
    x = pre.inputs[0]
    if not _is_const(pre.inputs[1], math.sqrt(2) if pre.op_type == "Div" else 1 / math.sqrt(2)):
        return None
    add = _sole_reader(erf.outputs[0], "Add")
    if add is None or not _is_const(_other(add, erf.outputs[0]), 1.0):
        return None
    m1 = _sole_reader(add.outputs[0], "Mul")
    if m1 is None:
        return None
    factor = _other(m1, add.outputs[0])
    if factor is x or _is_const(factor, 0.5):  # (x or 0.5) * (1 + erf), then times the other one
        m2 = _sole_reader(m1.outputs[0], "Mul")
        if m2 is None:
            return None
        last = _other(m2, m1.outputs[0])
        ok = _is_const(last, 0.5) if factor is x else last is x
        return (x, m2.outputs[0], [pre, erf, add, m1, m2]) if ok else None
    half = factor.producer()  # (0.5 * x) * (1 + erf)
    if half is None or half.op_type != "Mul" or len(factor.uses()) != 1 or factor.is_graph_output():
        return None
    if _other(half, x) is None or not _is_const(_other(half, x), 0.5):
        return None
    return x, m1.outputs[0], [pre, erf, add, half, m1]

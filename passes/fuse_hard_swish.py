"""``fuse-hard-swish``: the spelled-out HardSwish patterns of older exporters back into one ``HardSwish`` node."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
import onnx_ir as ir

from mcugraph.passes._rewrite import constant_array, remove_node, set_static
from mcugraph.registry import register

_TOL = 1e-5  # exporters write 1/6 as a float32; anything this close is the same function at int8 precision


@register
@dataclasses.dataclass(frozen=True)
class FuseHardSwishPass(ir.passes.InPlacePass):
    """Rewrite ``x * HardSigmoid(x)`` (``alpha = 1/6``, ``beta = 1/2``: what torch's opset-13 export writes for
    ``hardswish``) and ``x * relu6(x + 3) / 6`` into ``HardSwish(x)``, so TFLite runs one HARD_SWISH kernel
    instead of three (and the arena holds one tensor less).

    ``relu6(t)`` is any of ``Clip(t, 0, 6)``, ``Min(Relu(t), 6)``, ``Min(Max(t, 0), 6)``; the division by 6 may be
    ``Div(., 6)`` or ``Mul(., 1/6)`` on either the product or the relu6 (``x * (relu6(x + 3) / 6)``). Operands of
    Mul and Add may come in either order.

    Refuses to fuse: when an intermediate value has another reader or is a graph output (it must stay), when a
    constant differs from 1/6, 1/2, 3 or 6 by more than 1e-5, for non-float tensors, and in models importing the
    default opset below 13 (HardSwish needs opset 14; a model at 13 is raised to 14, which changes no op it can
    contain: the 13 -> 14 changes only add types and attributes with the old defaults).
    Runs before ``decompose-hard-sigmoid``, which would otherwise take the HardSigmoid apart first.
    """

    name: ClassVar[str] = "fuse-hard-swish"

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        opset = model.opset_imports.get("", model.opset_imports.get("ai.onnx", 0))
        if opset < 13:
            return ir.passes.PassResult(model, False)
        graph = model.graph
        modified = False
        for node in list(graph):
            if node.graph is None or node.op_type not in ("Mul", "Div") or node.domain not in ("", "ai.onnx"):
                continue
            match = _match(node)
            if match is None:
                continue
            x, dead = match
            out = node.outputs[0]
            if out.dtype is None or not out.dtype.is_floating_point():
                continue
            fused = ir.node("HardSwish", [x], name=f"{node.name}/hard_swish")
            set_static(fused.outputs[0], tuple(out.shape), out.dtype)
            graph.insert_before(node, fused)
            name = out.name
            out.replace_all_uses_with(fused.outputs[0], replace_graph_outputs=True)
            remove_node(graph, [node, *dead])
            out.name = f"{name}__replaced"
            fused.outputs[0].name = name
            modified = True
        if modified and opset == 13:
            model.opset_imports["" if "" in model.opset_imports else "ai.onnx"] = 14
        return ir.passes.PassResult(model, modified)


def _producer(value: ir.Value, *ops: str) -> ir.Node | None:
    """The node making ``value`` if it is one of ``ops`` and ``value`` has exactly that one reader."""
    node = value.producer()
    if node is None or node.op_type not in ops or node.domain not in ("", "ai.onnx"):
        return None
    if value.is_graph_output() or len(value.uses()) != 1:
        return None
    return node


def _const_is(value: ir.Value | None, target: float) -> bool:
    array = constant_array(value)
    return array is not None and array.size == 1 and abs(float(array.ravel()[0]) - target) <= _TOL


def _split_const(node: ir.Node, target: float) -> ir.Value | None:
    """For a binary ``node`` with one operand the constant ``target``: the other operand."""
    a, b = node.inputs[0], node.inputs[1]
    if _const_is(b, target):
        return a
    if node.op_type in ("Mul", "Add", "Min", "Max") and _const_is(a, target):
        return b
    return None


def _match(node: ir.Node) -> tuple[ir.Value, list[ir.Node]] | None:
    """``(x, nodes to remove besides node)`` if ``node`` computes HardSwish(x)."""
    # The product divided by 6 last: Div(Mul(x, relu6(x + 3)), 6) or Mul(Mul(...), 1/6).
    inner = _split_const(node, 6.0) if node.op_type == "Div" else _split_const(node, 1 / 6)
    if inner is not None and (product := _producer(inner, "Mul")) is not None:
        for x, gate in (product.inputs, reversed(product.inputs)):
            if (dead := _relu6_of_x_plus_3(gate, x)) is not None:
                return x, [product, *dead]
        return None
    if node.op_type != "Mul":
        return None
    for x, gate in (node.inputs, tuple(reversed(node.inputs))):
        if (dead := _hard_sigmoid_of(gate, x)) is not None:
            return x, dead
    return None


def _hard_sigmoid_of(gate: ir.Value, x: ir.Value) -> list[ir.Node] | None:
    """Nodes computing ``gate = HardSigmoid(x)`` in one of the accepted spellings, else None."""
    hs = _producer(gate, "HardSigmoid")
    if hs is not None:
        alpha = hs.attributes["alpha"].as_float() if "alpha" in hs.attributes else 0.2
        beta = hs.attributes["beta"].as_float() if "beta" in hs.attributes else 0.5
        ok = hs.inputs[0] is x and abs(alpha - 1 / 6) <= _TOL and abs(beta - 0.5) <= _TOL
        return [hs] if ok else None
    scaled = _producer(gate, "Div", "Mul")
    if scaled is None:
        return None
    inner = _split_const(scaled, 6.0 if scaled.op_type == "Div" else 1 / 6)
    dead = None if inner is None else _relu6_of_x_plus_3(inner, x)
    return None if dead is None else [scaled, *dead]


def _relu6_of_x_plus_3(value: ir.Value, x: ir.Value) -> list[ir.Node] | None:
    """Nodes computing ``value = relu6(x + 3)``, else None."""
    clip = _producer(value, "Clip")
    if clip is not None:
        ok = len(clip.inputs) == 3 and _const_is(clip.inputs[1], 0.0) and _const_is(clip.inputs[2], 6.0)
        ok = ok or (
            len(clip.inputs) == 1 and _attr(clip, "min") == 0.0 and _attr(clip, "max") == 6.0  # opset < 11 form
        )
        rest = _x_plus_3(clip.inputs[0], x) if ok else None
        return None if rest is None else [clip, *rest]
    low = _producer(value, "Min")
    if low is None or len(low.inputs) != 2 or (shifted := _split_const(low, 6.0)) is None:
        return None
    relu = _producer(shifted, "Relu", "Max")
    if relu is None:
        return None
    if relu.op_type == "Max":
        t = _split_const(relu, 0.0) if len(relu.inputs) == 2 else None
    else:
        t = relu.inputs[0]
    rest = None if t is None else _x_plus_3(t, x)
    return None if rest is None else [low, relu, *rest]


def _x_plus_3(value: ir.Value, x: ir.Value) -> list[ir.Node] | None:
    add = _producer(value, "Add")
    return [add] if add is not None and _split_const(add, 3.0) is x else None


def _attr(node: ir.Node, key: str) -> float | None:
    return float(np.float32(node.attributes[key].as_float())) if key in node.attributes else None

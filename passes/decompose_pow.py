"""``decompose-pow``: ``Pow`` by a constant 1, 2, 3 or 0.5 as Mul / Sqrt (TFLM has no POW kernel)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import onnx_ir as ir

from mcugraph.passes._rewrite import constant_array, set_static, swap_in
from mcugraph.registry import register

_EXPONENTS = (0.5, 1.0, 2.0, 3.0)


@register
@dataclasses.dataclass(frozen=True)
class DecomposePowPass(ir.passes.InPlacePass):
    """Rewrite ``Pow(x, c)`` for a scalar constant ``c``: 2 -> ``Mul(x, x)``, 3 -> ``Mul(Mul(x, x), x)``,
    0.5 -> ``Sqrt(x)``, 1 -> ``x``. torch's opset-13 export writes ``Pow(d, 2)`` inside every LayerNorm and the
    tanh GELU.

    Leaves alone: other exponents, exponents that are not constants or not scalars, non-float ``x``, a Pow whose
    output shape differs from ``x`` (the exponent broadcasts it), and ``Pow(x, 1)`` between a graph input and
    output (both names are fixed).
    """

    name: ClassVar[str] = "decompose-pow"

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        graph = model.graph
        modified = False
        for node in list(graph):
            if node.op_type != "Pow" or node.domain not in ("", "ai.onnx"):
                continue
            x, y = node.inputs[0], node.outputs[0]
            exponent = constant_array(node.inputs[1])
            if exponent is None or exponent.size != 1 or x.dtype is None or not x.dtype.is_floating_point():
                continue
            if y.shape is None or x.shape is None or tuple(y.shape) != tuple(x.shape):
                continue
            c = float(exponent.ravel()[0])
            if c not in _EXPONENTS or (c == 1.0 and x.is_graph_input() and y.is_graph_output()):
                continue
            value = x
            new_nodes = []
            if c == 0.5:
                new_nodes.append(ir.node("Sqrt", [x], name=f"{node.name}/sqrt"))
            for i in range(int(c) - 1):  # c = 2: one Mul; c = 3: two
                operand = x if not new_nodes else new_nodes[-1].outputs[0]
                new_nodes.append(ir.node("Mul", [operand, x], name=f"{node.name}/mul{i}"))
            for i, new in enumerate(new_nodes):
                new.outputs[0].name = f"{y.name}/pow{i}"
                set_static(new.outputs[0], tuple(y.shape), y.dtype)
            if new_nodes:
                graph.insert_before(node, new_nodes)
                value = new_nodes[-1].outputs[0]
            if value is x:
                if y.is_graph_output():
                    continue
                y.replace_all_uses_with(x)
                graph.remove(node, safe=True)
            else:
                swap_in(graph, y, value, [node])
            modified = True
        return ir.passes.PassResult(model, modified)

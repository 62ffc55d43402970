"""``reciprocal-sqrt``: ``Div(x, Sqrt(v))`` as ``Mul(x, Reciprocal(Sqrt(v)))``, which TFLM runs in int8 as RSQRT."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import onnx_ir as ir

from mcugraph.passes._rewrite import set_static, swap_in
from mcugraph.registry import register


@register
@dataclasses.dataclass(frozen=True)
class ReciprocalSqrtPass(ir.passes.InPlacePass):
    """Rewrite every ``q = Div(x, s)`` whose divisor is ``s = Sqrt(v)`` as ``q = Mul(x, r)``, ``r = Reciprocal(s)``
    (one Reciprocal shared by all such Divs of ``s``).

    TFLM's SQRT kernel is float32 only, but it has an int8 RSQRT: the kernel view runs ``Reciprocal(Sqrt(v))`` as
    one RSQRT kernel, and calibration sees the value ``r`` it writes. A decomposed LayerNorm normalises this way.

    Refuses (leaves the graph alone) when ``s`` is a graph output or is read by anything but Divs as the divisor
    (the Sqrt must stay for that reader, and then cannot fuse), or when a Div's output shape differs from ``x``'s
    and ``s``'s broadcast (never in a valid model).
    """

    name: ClassVar[str] = "reciprocal-sqrt"

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        graph = model.graph
        modified = False
        for node in list(graph):
            if node.op_type != "Sqrt" or node.domain not in ("", "ai.onnx"):
                continue
            s = node.outputs[0]
            uses = list(s.uses())
            divs = [u.node for u in uses
                    if u.node.op_type == "Div" and u.idx == 1 and u.node.domain in ("", "ai.onnx")]
            if not uses or len(divs) != len(uses) or s.is_graph_output() or s.shape is None or s.dtype is None:
                continue
            reciprocal = ir.node("Reciprocal", [s], name=f"{node.name}/reciprocal")
            reciprocal.outputs[0].name = f"{s.name}/reciprocal"
            set_static(reciprocal.outputs[0], tuple(s.shape), s.dtype)
            graph.insert_after(node, reciprocal)
            for div in divs:
                q = div.outputs[0]
                mul = ir.node("Mul", [div.inputs[0], reciprocal.outputs[0]], name=f"{div.name}/mul")
                set_static(mul.outputs[0], tuple(q.shape), q.dtype)
                graph.insert_before(div, mul)
                swap_in(graph, q, mul.outputs[0], [div])
            modified = True
        return ir.passes.PassResult(model, modified)

"""``binary-min-max``: a Max/Min of one or of more than two operands as Identity / a chain of two-operand ones."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
import onnx_ir as ir

from mcugraph.passes._rewrite import set_static, swap_in
from mcugraph.registry import register


@register
@dataclasses.dataclass(frozen=True)
class BinaryMinMaxPass(ir.passes.InPlacePass):
    """Rewrite ``Max(a, b, c, ...)`` as ``Max(Max(a, b), c) ...`` (likewise Min) and ``Max(a)`` as ``Identity(a)``.

    TFLite's MAXIMUM/MINIMUM take exactly two operands. Each link has the broadcast shape of the operands so far.
    Leaves alone: two-operand nodes, and operands without a static shape or dtype.
    """

    name: ClassVar[str] = "binary-min-max"

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        modified = False
        for node in list(model.graph):
            if node.op_type not in ("Max", "Min") or node.domain not in ("", "ai.onnx") or len(node.inputs) == 2:
                continue
            operands, y = list(node.inputs), node.outputs[0]
            if not operands or any(v is None or v.shape is None or v.dtype is None for v in operands):
                continue
            base = node.name or y.name
            if len(operands) == 1:
                links = [ir.node("Identity", operands, name=f"{base}/identity")]
                set_static(links[0].outputs[0], tuple(y.shape), y.dtype)
            else:
                links, value = [], operands[0]
                shape = tuple(int(d) for d in value.shape)
                for i, operand in enumerate(operands[1:]):
                    shape = tuple(np.broadcast_shapes(shape, tuple(int(d) for d in operand.shape)))
                    links.append(ir.node(node.op_type, [value, operand], name=f"{base}/{i}"))
                    set_static(links[-1].outputs[0], shape, y.dtype)
                    value = links[-1].outputs[0]
            for i, link in enumerate(links):
                link.outputs[0].name = f"{y.name}/{i}"
            model.graph.insert_before(node, links)
            swap_in(model.graph, y, links[-1].outputs[0], [node])
            modified = True
        return ir.passes.PassResult(model, modified)

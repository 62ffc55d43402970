"""``decompose-clip``: a Clip whose constant bounds are no TFLite activation as Max/Min, which TFLM has kernels for."""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import numpy as np
import onnx_ir as ir

from mcugraph.ops import FUSED_ACTIVATION_BUILTINS, facts
from mcugraph.ops.attributes import activation_name, clip_bounds
from mcugraph.passes._rewrite import add_initializer, set_static, swap_in
from mcugraph.registry import register


def _fuses(x: ir.Value) -> bool:
    """The producer of ``x`` may become a kernel that applies a fused activation (mcugraph.ops.table)."""
    producer = x.producer()
    row = facts(producer.op_type, producer.domain) if producer is not None else None
    return row is not None and bool(FUSED_ACTIVATION_BUILTINS & set(row.builtins))


@register
@dataclasses.dataclass(frozen=True)
class DecomposeClipPass(ir.passes.InPlacePass):
    """Rewrite ``y = Clip(x, lo, hi)`` with constant bounds other than (0, 6), (0, inf), (-1, 1) as
    ``Min(Max(x, lo), hi)`` (a side that is infinite is left out; no bound at all is an ``Identity``).

    The exporter lowers Max/Min with a constant operand to MAXIMUM/MINIMUM, whose int8 kernels share the input's
    scale. Leaves alone: (0, 6) and (0, inf) (TFLM's RELU6/RELU), (-1, 1) after a kernel it fuses into as
    RELU_N1_TO_1 (TFLM has that only as a fused activation), bounds that are not constants (the exporter refuses
    those), and non-float tensors.
    """

    name: ClassVar[str] = "decompose-clip"

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        modified = False
        for node in list(model.graph):
            if node.op_type != "Clip" or node.domain not in ("", "ai.onnx"):
                continue
            x, y = node.inputs[0], node.outputs[0]
            bounds = clip_bounds(node)
            if x.dtype is None or not x.dtype.is_floating_point() or bounds is None:
                continue
            if activation_name(node) in ("RELU", "RELU6") or (activation_name(node) and _fuses(x)):
                continue
            graph, value, new_nodes = model.graph, x, []
            for op, bound in (("Max", bounds[0]), ("Min", bounds[1])):
                if math.isinf(bound):
                    continue
                const = add_initializer(graph, np.array(bound, x.dtype.numpy()), f"{y.name}/{op.lower()}_bound")
                new_nodes.append(ir.node(op, [value, const], name=f"{node.name or y.name}/{op.lower()}"))
                value = new_nodes[-1].outputs[0]
            if not new_nodes:
                new_nodes.append(ir.node("Identity", [x], name=f"{node.name or y.name}/identity"))
            for new in new_nodes:
                set_static(new.outputs[0], tuple(y.shape), y.dtype)
                new.outputs[0].name = f"{y.name}/{new.op_type.lower()}"
            graph.insert_before(node, new_nodes)
            swap_in(graph, y, new_nodes[-1].outputs[0], [node])
            modified = True
        return ir.passes.PassResult(model, modified)

"""``broadcast-ranks``: a lower-rank activation operand of an element-wise op gets a Reshape to the output rank."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
import onnx_ir as ir

from mcugraph.ops.table import ELEMENTWISE, ops_where
from mcugraph.passes._rewrite import add_initializer, constant_array, set_static, unique_name
from mcugraph.registry import register

_BROADCASTING = ops_where(lambda row: row.channels == ELEMENTWISE)  # the op table's broadcasting binary ops


@register
@dataclasses.dataclass(frozen=True)
class BroadcastRanksPass(ir.passes.InPlacePass):
    """Rewrite ``Add(x[2, 3, 5], s[5])`` (any broadcasting element-wise op of the table) as
    ``Add(x, Reshape(s, [1, 1, 5]))``: ONNX broadcasts by aligning trailing axes, TFLite's kernels need equal
    ranks. The Reshape is a RESHAPE kernel (the kernel view models it; it may share its input's bytes).

    Leaves alone: constant operands (the exporter pads their rank itself), operands of the output's rank, and
    values without a static shape.
    """

    name: ClassVar[str] = "broadcast-ranks"

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        modified = False
        graph = model.graph
        for node in list(graph):
            if node.op_type not in _BROADCASTING or node.domain not in ("", "ai.onnx"):
                continue
            out = node.outputs[0]
            if out.shape is None or not all(isinstance(d, int) for d in out.shape):
                continue
            rank = len(out.shape)
            for index, value in enumerate(node.inputs):
                if value is None or value.shape is None or constant_array(value) is not None:
                    continue
                if len(value.shape) >= rank or not all(isinstance(d, int) for d in value.shape):
                    continue
                shape = (1,) * (rank - len(value.shape)) + tuple(int(d) for d in value.shape)
                target = add_initializer(graph, np.array(shape, np.int64), f"{value.name}_rank{rank}_shape")
                reshape = ir.node("Reshape", [value, target], name=unique_name(graph, f"{node.name}/rank{index}"))
                reshape.outputs[0].name = unique_name(graph, f"{value.name}_rank{rank}")
                set_static(reshape.outputs[0], shape, value.dtype)
                graph.insert_before(node, reshape)
                node.replace_input_with(index, reshape.outputs[0])
                modified = True
        return ir.passes.PassResult(model, modified)

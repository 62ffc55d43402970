"""``remove-unused``: dead-code elimination for nodes and initializers."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import onnx_ir as ir

from mcugraph.registry import register


@register
@dataclasses.dataclass(frozen=True)
class RemoveUnusedPass(ir.passes.InPlacePass):
    """Remove nodes none of whose outputs is used or a graph output, then initializers nothing reads.

    One reverse sweep suffices: a node's users come after it, so they are gone by the time it is visited.
    Never touches graph inputs or outputs (an initializer that is a graph input stays: callers may feed it).
    Unlike onnx-ir's ``RemoveUnusedNodesPass`` it leaves unused optional outputs alone, so ``modified`` is
    exactly "a node or initializer was removed".
    """

    name: ClassVar[str] = "remove-unused"

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        graph = model.graph
        removed = 0
        for node in reversed(list(graph)):
            if not any(v.uses() or v.is_graph_output() for v in node.outputs):
                graph.remove(node, safe=True)
                removed += 1
        for name, value in list(graph.initializers.items()):
            if not (value.uses() or value.is_graph_input() or value.is_graph_output()):
                del graph.initializers[name]
                removed += 1
        return ir.passes.PassResult(model, bool(removed))

"""``fold-constants``: evaluate every node whose inputs are all constant and store its outputs as initializers."""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import numpy as np
import onnx_ir as ir

from mcugraph.passes._rewrite import constant_array, evaluate, fold_into_initializers
from mcugraph.registry import register

# Folding these would freeze one random draw into the model.
_NONDETERMINISTIC = {"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial",
                     "Bernoulli"}


@register
@dataclasses.dataclass(frozen=True)
class FoldConstantsPass(ir.passes.InPlacePass):
    """Replace constant computations by initializers, in one topological sweep (so chains fold completely).

    Rewrites: a ``Constant`` node becomes an initializer of the same name; ``Shape``/``Size`` of a value with a
    static shape become int64 initializers (this collapses tf2onnx's Shape->Gather->Concat->Reshape chains);
    any other node whose inputs are all constant is evaluated by onnxruntime (onnx's ReferenceEvaluator as
    fallback) and its outputs become initializers named like them.
    Refuses: nodes with a graph output (it would become an initializer output), random ops, nodes with
    subgraphs, non-ONNX domains, nodes whose outputs hold more than ``size_limit`` elements in all (a Tile or
    Expand of a constant would grow the flash image), and nodes neither evaluator can run.
    """

    name: ClassVar[str] = "fold-constants"
    size_limit: int = 1 << 20

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        modified = False
        for node in list(model.graph):
            if node.domain not in ("", "ai.onnx") or any(v.is_graph_output() for v in node.outputs):
                continue
            results = self._fold(node, model)
            if results is None:
                continue
            if sum(np.size(a) for a in results) > self.size_limit and node.op_type != "Constant":
                continue
            fold_into_initializers(model.graph, node, results)
            modified = True
        return ir.passes.PassResult(model, modified)

    def _fold(self, node: ir.Node, model: ir.Model) -> list[np.ndarray] | None:
        """The node's output arrays if it is constant, else None."""
        if node.op_type == "Constant":
            array = constant_array(node.outputs[0])
            return None if array is None else [array]
        if node.op_type in ("Shape", "Size"):
            return _static_shape_of(node)
        if node.op_type in _NONDETERMINISTIC or not node.inputs or _has_subgraph(node):
            return None
        if _declared_size(node) > self.size_limit:
            return None  # known too big before spending time evaluating it
        arrays = [constant_array(v) for v in node.inputs]
        if any(a is None and v is not None for a, v in zip(arrays, node.inputs, strict=True)):
            return None
        return evaluate(node, arrays, model)


def _static_shape_of(node: ir.Node) -> list[np.ndarray] | None:
    source = node.inputs[0]
    if source is None or source.shape is None or not all(isinstance(d, int) for d in source.shape):
        return None
    dims = list(source.shape)
    if node.op_type == "Size":
        return [np.array(math.prod(dims), dtype=np.int64)]
    start = node.attributes.get_int("start", 0)
    end = node.attributes.get_int("end", len(dims))
    # Shape's start/end clamp like Python slicing (opset 15), which is exactly what a slice does.
    return [np.array(dims[start:end], dtype=np.int64)]


def _has_subgraph(node: ir.Node) -> bool:
    return any(a.type in (ir.AttributeType.GRAPH, ir.AttributeType.GRAPHS) for a in node.attributes.values())


def _declared_size(node: ir.Node) -> int:
    """Elements of the node's outputs as declared (0 where a shape is unknown; the real size is checked after)."""
    total = 0
    for value in node.outputs:
        if value.shape is not None and all(isinstance(d, int) for d in value.shape):
            total += math.prod(value.shape)
    return total

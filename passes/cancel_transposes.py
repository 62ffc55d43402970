"""``cancel-transposes``: compose consecutive Transposes and drop the ones that do nothing."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import onnx_ir as ir

from mcugraph.passes._rewrite import can_replace, remove_node, replace_value
from mcugraph.registry import register


@register
@dataclasses.dataclass(frozen=True)
class CancelTransposesPass(ir.passes.InPlacePass):
    """Compose ``Transpose(Transpose(x, p1), p2)`` into ``Transpose(x, q)`` with ``q[i] = p1[p2[i]]``.

    Rewrites: the outer Transpose reads ``x`` directly with the composed permutation (the inner one is removed
    once nothing reads it); a Transpose whose permutation is the identity, given or composed, is removed.
    Refuses: a Transpose with an input of unknown rank, and removing an identity Transpose between a graph input
    (or initializer) and a graph output, whose names are both fixed.
    """

    name: ClassVar[str] = "cancel-transposes"

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        graph = model.graph
        modified = False
        for node in list(graph):
            if not _is_transpose(node):
                continue
            perm = _perm(node)
            if perm is None:
                continue
            inner = node.inputs[0].producer()
            if _is_transpose(inner) and (inner_perm := _perm(inner)) is not None:
                perm = [inner_perm[p] for p in perm]
                node.replace_input_with(0, inner.inputs[0])
                node.attributes["perm"] = ir.AttrInt64s("perm", perm)
                if not any(v.uses() or v.is_graph_output() for v in inner.outputs):
                    remove_node(graph, inner)
                modified = True
            source, out = node.inputs[0], node.outputs[0]
            if perm == list(range(len(perm))) and can_replace(out, source):
                replace_value(out, source)
                remove_node(graph, node)
                modified = True
        return ir.passes.PassResult(model, modified)


def _is_transpose(node: ir.Node | None) -> bool:
    return node is not None and node.op_type == "Transpose" and node.domain in ("", "ai.onnx")


def _perm(node: ir.Node) -> list[int] | None:
    """The node's permutation; ONNX's default (no ``perm``) reverses the axes."""
    if "perm" in node.attributes:
        return list(node.attributes.get_ints("perm"))
    shape = node.inputs[0].shape
    return None if shape is None else list(reversed(range(len(shape))))

"""``normalize-reshape``: every data-preserving shape change as one ``Reshape`` with a static int64 shape."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
import onnx_ir as ir

from mcugraph.passes._rewrite import (
    add_initializer,
    can_replace,
    constant_array,
    drop_if_unused,
    remove_node,
    replace_value,
    set_static,
    swap_in,
    unique_name,
)
from mcugraph.registry import register

_RESHAPES = ("Reshape", "Flatten", "Squeeze", "Unsqueeze")


@register
@dataclasses.dataclass(frozen=True)
class NormalizeReshapePass(ir.passes.InPlacePass):
    """Rewrite Flatten/Squeeze/Unsqueeze/Reshape as ``Reshape(x, const int64 shape)`` with no 0 or -1.

    Each of these ops only relabels the dimensions of its input, so with static shapes it is fully described by
    its output shape. Rewrites: the op becomes a Reshape to its output shape (a non-constant shape input, such
    as an unfolded Shape->Concat chain, is replaced too); a chain of such ops reads the first one's input
    directly (the bypassed ones are removed once unused); a reshape whose output shape equals its input's
    shape is removed.
    Refuses: ops whose input or output shape is not static, and removing a same-shape reshape between a graph
    input (or initializer) and a graph output, whose names are both fixed.
    """

    name: ClassVar[str] = "normalize-reshape"

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        graph = model.graph
        modified = False
        bypassed: list[ir.Node] = []
        for node in list(graph):
            if not _is_reshape(node) or not (_static(node.inputs[0]) and _static(node.outputs[0])):
                continue
            source = node.inputs[0]
            while _is_reshape(source.producer()):  # reshape of a reshape: only the first input matters
                bypassed.append(source.producer())
                source = source.producer().inputs[0]
            target = tuple(node.outputs[0].shape)
            if tuple(source.shape) == target and can_replace(node.outputs[0], source):
                replace_value(node.outputs[0], source)
                remove_node(graph, node)
                modified = True
            elif not _is_canonical(node, source, target):
                _rewrite(graph, node, source, target)
                modified = True
        for node in reversed(bypassed):  # later links first: each may feed the one before it
            if node.graph is graph and not any(v.uses() or v.is_graph_output() for v in node.outputs):
                remove_node(graph, node)
        return ir.passes.PassResult(model, modified)


def _is_reshape(node: ir.Node | None) -> bool:
    return node is not None and node.op_type in _RESHAPES and node.domain in ("", "ai.onnx")


def _static(value: ir.Value | None) -> bool:
    return value is not None and value.shape is not None and all(isinstance(d, int) for d in value.shape)


def _is_canonical(node: ir.Node, source: ir.Value, target: tuple[int, ...]) -> bool:
    if node.op_type != "Reshape" or node.inputs[0] is not source or "allowzero" in node.attributes:
        return False
    shape = constant_array(node.inputs[1])
    return shape is not None and shape.dtype == np.int64 and tuple(shape.tolist()) == target


def _rewrite(graph: ir.Graph, node: ir.Node, source: ir.Value, target: tuple[int, ...]) -> None:
    shape = add_initializer(graph, np.array(target, dtype=np.int64), f"{node.name or 'reshape'}_shape")
    if node.op_type == "Reshape":  # edit in place: keeps the node's name and output value
        old = list(node.inputs)
        node.replace_input_with(0, source)
        node.replace_input_with(1, shape)
        node.attributes.pop("allowzero", None)  # the shape holds no 0, so allowzero means nothing
        drop_if_unused(graph, old)
        return
    out = node.outputs[0]
    reshape = ir.Node("", "Reshape", [source, shape], name=node.name)
    reshape.outputs[0].name = unique_name(graph, f"{out.name}_reshaped")
    set_static(reshape.outputs[0], target, out.dtype)
    graph.insert_before(node, reshape)
    swap_in(graph, out, reshape.outputs[0], [node])

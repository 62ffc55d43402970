"""``remove-identity``: drop Identity nodes, inference-mode Dropout and Casts to the dtype a value already has."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import onnx_ir as ir

from mcugraph.passes._rewrite import can_replace, constant_array, remove_node, replace_value
from mcugraph.registry import register


@register
@dataclasses.dataclass(frozen=True)
class RemoveIdentityPass(ir.passes.InPlacePass):
    """Remove ``Identity``, ``Dropout`` and same-dtype ``Cast`` nodes: their users read the node's input directly.

    Dropout is an identity at inference; it is removed only when its ``mask`` output is unused and its
    ``training_mode`` input is absent or a constant false. When the node's output is a graph output, the input
    value takes over the output's name so the model's interface does not change.
    Refuses (keeps the node) when that is impossible: the input is a graph input, an initializer or another graph
    output, whose names are fixed too.
    """

    name: ClassVar[str] = "remove-identity"

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        modified = False
        for node in list(model.graph):
            if node.domain not in ("", "ai.onnx") or not _is_identity(node):
                continue
            source, output = node.inputs[0], node.outputs[0]
            if source is None or not can_replace(output, source):
                continue
            replace_value(output, source)
            remove_node(model.graph, node)
            modified = True
        return ir.passes.PassResult(model, modified)


def _is_identity(node: ir.Node) -> bool:
    if node.op_type == "Identity":
        return True
    if node.op_type == "Cast":  # to the dtype it already has (float -> float): nothing to convert
        to = node.attributes.get("to")
        source = node.inputs[0]
        return to is not None and source is not None and source.dtype is not None and to.as_int() == source.dtype
    if node.op_type != "Dropout":
        return False
    mask = node.outputs[1] if len(node.outputs) > 1 else None
    if mask is not None and (mask.uses() or mask.is_graph_output()):
        return False  # the mask of an inference Dropout is all ones, but someone reads it: keep the op honest
    training = node.inputs[2] if len(node.inputs) > 2 else None
    if training is None:
        return True
    flag = constant_array(training)
    return flag is not None and not bool(flag)

"""``fold-dequantize-weights``: DequantizeLinear of constant weights becomes a float initializer."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import onnx_ir as ir

from mcugraph.passes._rewrite import constant_array, evaluate, fold_into_initializers
from mcugraph.registry import register


@register
@dataclasses.dataclass(frozen=True)
class FoldDequantizeWeightsPass(ir.passes.InPlacePass):
    """Fold DequantizeLinear(const x, const scale[, const zero_point]) into a float initializer.

    Rewrite: the node's output is replaced by an initializer of the same name holding ``(x - zero_point) *
    scale``, computed by onnxruntime (per-tensor, per-axis and blocked quantisation alike).
    Refuses when an input is not constant (activation Quantize/Dequantize pairs are the exporter's decision and
    stay) and when the output is a graph output (it would have to become an initializer output).
    mcugraph quantises the float model itself at export, so weights stored as int8 + scale only get in the way.
    """

    name: ClassVar[str] = "fold-dequantize-weights"

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        modified = False
        for node in list(model.graph):
            if node.op_type != "DequantizeLinear" or node.domain not in ("", "ai.onnx"):
                continue
            if node.outputs[0].is_graph_output():
                continue
            arrays = [constant_array(v) for v in node.inputs]
            if any(a is None and v is not None for a, v in zip(arrays, node.inputs, strict=True)):
                continue  # an activation Q/DQ pair
            results = evaluate(node, arrays, model)
            if results is None:
                continue
            fold_into_initializers(model.graph, node, results)
            modified = True
        return ir.passes.PassResult(model, modified)

"""``gather-to-slice``: ``Gather`` of one constant index as Slice + Squeeze (``y[:, -1]`` after an RNN)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
import onnx_ir as ir

from mcugraph.passes._rewrite import add_initializer, constant_array, set_static, swap_in
from mcugraph.registry import register


@register
@dataclasses.dataclass(frozen=True)
class GatherToSlicePass(ir.passes.InPlacePass):
    """Rewrite ``Gather(x, i, axis)`` with a constant index ``i`` as ``Slice(x, [i], [i + 1], [axis])``, followed
    by ``Squeeze(axis)`` when ``i`` is a scalar (a 1-element index vector keeps the axis). A negative ``i`` counts
    from the end. The exporter runs STRIDED_SLICE and RESHAPE, which copy int8 codes unchanged.

    Leaves alone: indices that are not constants or have more than one element (an embedding lookup), data of
    unknown shape, and indices out of range (onnxruntime raises for those).
    """

    name: ClassVar[str] = "gather-to-slice"

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        graph = model.graph
        axes_as_input = model.opset_imports.get("", 13) >= 13
        modified = False
        for node in list(graph):
            if node.op_type != "Gather" or node.domain not in ("", "ai.onnx"):
                continue
            x, y = node.inputs[0], node.outputs[0]
            index = constant_array(node.inputs[1])
            if index is None or index.size != 1 or x.shape is None or y.shape is None:
                continue
            rank = len(x.shape)
            axis = node.attributes["axis"].as_int() if "axis" in node.attributes else 0
            axis = axis + rank if axis < 0 else axis
            size = x.shape[axis]
            i = int(index.ravel()[0])
            i = i + size if i < 0 else i
            if not isinstance(size, int) or not 0 <= i < size:
                continue
            base = node.name or y.name
            consts = [add_initializer(graph, np.array([v], np.int64), f"{y.name}/{tag}")
                      for tag, v in (("start", i), ("end", i + 1), ("axis", axis))]
            sliced = ir.node("Slice", [x, *consts], name=f"{base}/slice")
            kept = tuple(1 if a == axis else int(d) for a, d in enumerate(x.shape))
            set_static(sliced.outputs[0], kept, x.dtype)
            sliced.outputs[0].name = f"{y.name}/slice"
            new_nodes = [sliced]
            if index.ndim == 0:
                if axes_as_input:
                    squeeze = ir.node("Squeeze", [sliced.outputs[0], consts[2]], name=f"{base}/squeeze")
                else:
                    squeeze = ir.node("Squeeze", [sliced.outputs[0]], attributes={"axes": [axis]},
                                      name=f"{base}/squeeze")
                set_static(squeeze.outputs[0], tuple(y.shape), y.dtype)
                new_nodes.append(squeeze)
            graph.insert_before(node, new_nodes)
            swap_in(graph, y, new_nodes[-1].outputs[0], [node])
            modified = True
        return ir.passes.PassResult(model, modified)

"""``decompose-layer-norm``: LayerNormalization as ReduceMean, Sub, Mul, Add, Sqrt, Div (TFLite has no LayerNorm)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
import onnx_ir as ir

from mcugraph.passes._rewrite import add_initializer, set_static, swap_in
from mcugraph.registry import register


@register
@dataclasses.dataclass(frozen=True)
class DecomposeLayerNormPass(ir.passes.InPlacePass):
    """Rewrite ``y = LayerNormalization(x, scale, bias; axis, epsilon)`` as::

        mean = ReduceMean(x, axes)            d = Sub(x, mean)
        var  = ReduceMean(Mul(d, d), axes)    n = Div(d, Sqrt(Add(var, epsilon)))
        y    = Add(Mul(n, scale), bias)

    with ``axes = axis .. rank-1`` and ``keepdims=1``: the same ops torch's opset-13 exporter writes for
    ``nn.LayerNorm`` (``decompose-pow`` turns its ``Pow(d, 2)`` into ``Mul(d, d)``), so both exporters reach the
    exporter in one form. The exporter lowers ``Div(d, Sqrt(v))`` (TFLM's int8 SQRT is missing; RSQRT and MUL
    exist). A scale of ones or a bias of zeros is still written (``fold-constants`` does not remove them).

    When the optional ``Mean`` / ``InvStdDev`` outputs are read, they are ``mean`` and ``Reciprocal(Sqrt(...))``
    (one RSQRT kernel), and ``n = Mul(d, InvStdDev)``. Leaves non-float inputs and inputs of unknown shape alone.
    """

    name: ClassVar[str] = "decompose-layer-norm"

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        graph = model.graph
        axes_as_input = model.opset_imports.get("", 17) >= 18
        modified = False
        for node in list(graph):
            if node.op_type != "LayerNormalization" or node.domain not in ("", "ai.onnx"):
                continue
            x = node.inputs[0]
            if x.dtype is None or not x.dtype.is_floating_point() or x.shape is None:
                continue
            _decompose(graph, node, axes_as_input)
            modified = True
        return ir.passes.PassResult(model, modified)


def _decompose(graph: ir.Graph, node: ir.Node, axes_as_input: bool) -> None:
    x, y = node.inputs[0], node.outputs[0]
    rank = len(x.shape)
    axis = node.attributes["axis"].as_int() if "axis" in node.attributes else -1
    axis = axis + rank if axis < 0 else axis
    epsilon = node.attributes["epsilon"].as_float() if "epsilon" in node.attributes else 1e-5
    axes = list(range(axis, rank))
    reduced = tuple(1 if i in axes else int(d) for i, d in enumerate(x.shape))
    full = tuple(int(d) for d in x.shape)
    dtype = x.dtype
    base = node.name or y.name
    new_nodes: list[ir.Node] = []

    def add(op: str, inputs: list[ir.Value], shape: tuple[int, ...], tag: str, **attrs) -> ir.Value:
        new = ir.node(op, inputs, attributes=attrs or None, name=f"{base}/{tag}")
        new.outputs[0].name = f"{y.name}/{tag}"
        set_static(new.outputs[0], shape, dtype)
        new_nodes.append(new)
        return new.outputs[0]

    def mean(value: ir.Value, tag: str) -> ir.Value:
        if axes_as_input:
            axes_value = add_initializer(graph, np.array(axes, np.int64), f"{y.name}/axes")
            return add("ReduceMean", [value, axes_value], reduced, tag, keepdims=1)
        return add("ReduceMean", [value], reduced, tag, axes=axes, keepdims=1)

    stats = [v if v is not None and (v.uses() or v.is_graph_output()) else None for v in node.outputs[1:3]]
    stats += [None] * (2 - len(stats))
    average = mean(x, "mean")
    centred = add("Sub", [x, average], full, "centred")
    variance = mean(add("Mul", [centred, centred], full, "square"), "variance")
    eps = add_initializer(graph, np.array(epsilon, dtype.numpy()), f"{y.name}/epsilon")
    std = add("Sqrt", [add("Add", [variance, eps], reduced, "variance_eps")], reduced, "std")
    if stats[1] is not None:  # InvStdDev is read: compute it once (RSQRT) and multiply by it
        inv_std = add("Reciprocal", [std], reduced, "inv_std")
        out = add("Mul", [centred, inv_std], full, "normalised")
    else:
        inv_std = None
        out = add("Div", [centred, std], full, "normalised")
    out = add("Mul", [out, node.inputs[1]], full, "scaled")
    if len(node.inputs) > 2 and node.inputs[2] is not None:
        out = add("Add", [out, node.inputs[2]], full, "shifted")
    graph.insert_before(node, new_nodes)
    for old, new in zip(stats, (average, inv_std), strict=True):
        if old is not None:
            name = old.name
            old.replace_all_uses_with(new, replace_graph_outputs=True)
            old.name, new.name = f"{name}__replaced", name
    swap_in(graph, y, out, [node])

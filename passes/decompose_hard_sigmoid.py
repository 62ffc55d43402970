"""``decompose-hard-sigmoid``: HardSigmoid as Mul, Add, Relu, Min, which TFLite Micro has kernels for."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
import onnx_ir as ir

from mcugraph.passes._rewrite import add_initializer, set_static, swap_in
from mcugraph.registry import register


@register
@dataclasses.dataclass(frozen=True)
class DecomposeHardSigmoidPass(ir.passes.InPlacePass):
    """Rewrite ``y = HardSigmoid(x)`` (``max(0, min(1, alpha * x + beta))``) as
    ``Min(Relu(Add(Mul(x, alpha), beta)), 1)``.

    TFLite has no HARD_SIGMOID builtin; the exporter lowers the result to MUL, ADD with a fused RELU and MINIMUM
    (the kernel view fuses the Relu into the Add). Refuses nothing: every float HardSigmoid is rewritten; other
    dtypes are left alone.
    """

    name: ClassVar[str] = "decompose-hard-sigmoid"

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        modified = False
        for node in list(model.graph):
            if node.op_type != "HardSigmoid" or node.domain not in ("", "ai.onnx"):
                continue
            x, y = node.inputs[0], node.outputs[0]
            if x.dtype is None or not x.dtype.is_floating_point():
                continue
            alpha = node.attributes["alpha"].as_float() if "alpha" in node.attributes else 0.2
            beta = node.attributes["beta"].as_float() if "beta" in node.attributes else 0.5
            dtype = x.dtype.numpy()
            graph = model.graph
            consts = [add_initializer(graph, np.array(v, dtype), f"{y.name}/{n}")
                      for n, v in (("alpha", alpha), ("beta", beta), ("one", 1.0))]
            new_nodes = []
            value = x
            for op, extra in (("Mul", consts[0]), ("Add", consts[1]), ("Relu", None), ("Min", consts[2])):
                inputs = [value] if extra is None else [value, extra]
                new = ir.node(op, inputs, name=f"{node.name or y.name}/{op.lower()}")
                set_static(new.outputs[0], tuple(y.shape), y.dtype)
                new.outputs[0].name = f"{y.name}/{op.lower()}"
                new_nodes.append(new)
                value = new.outputs[0]
            graph.insert_before(node, new_nodes)
            swap_in(graph, y, value, [node])
            modified = True
        return ir.passes.PassResult(model, modified)

"""Multiply-accumulates of a .tflite model, per operator: what halo recomputation in a patched stage costs.

Counted as the analyses count them on the IR (:func:`mcugraph.analysis.costs.macs`): a convolution does one MAC
per output element per filter tap per input channel of its group, a fully connected layer one per output element
per input feature; everything else (elementwise, pooling, copies) counts 0.
"""

from __future__ import annotations

import math

from mcugraph.patch.geometry import builtin, ints, shape
from mcugraph.tflite import schema as tfl


def operator_macs(model: tfl.schema.ModelT, index: int) -> int:
    op = model.subgraphs[0].operators[index]
    name = builtin(model, op)
    inputs, outputs = ints(op.inputs), ints(op.outputs)
    if name not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV") or not outputs:
        return 0
    out = math.prod(shape(model, outputs[0]))
    if name == "CONV_2D":
        return out * math.prod(shape(model, inputs[1])[1:])  # filter [O, kh, kw, I/groups]
    if name == "DEPTHWISE_CONV_2D":
        filt = shape(model, inputs[1])  # [1, kh, kw, O]
        return out * filt[1] * filt[2]
    if name == "FULLY_CONNECTED":
        return out * shape(model, inputs[1])[-1]
    filt = shape(model, inputs[1])  # TRANSPOSE_CONV: every input element meets every tap
    return math.prod(shape(model, inputs[2])) * filt[0] * filt[1] * filt[2]


def model_macs(model: tfl.schema.ModelT) -> int:
    """Total MACs of subgraph 0."""
    return sum(operator_macs(model, i) for i in range(len(model.subgraphs[0].operators)))

"""Attribute readers shared by the kernel view, the exporter and the analyses (one reading of each attribute).

Pure functions of an onnx-ir node; they never raise for a malformed model, they answer None instead, and the caller
says what it needs.
"""

from __future__ import annotations

import math

import numpy as np
import onnx_ir as ir

# Clip bounds -> the TFLite activation they equal. (0, inf) is a plain ReLU.
_CLIP_ACTIVATIONS = {(0.0, 6.0): "RELU6", (0.0, math.inf): "RELU", (-1.0, 1.0): "RELU_N1_TO_1"}


def const_array(value: ir.Value | None) -> np.ndarray | None:
    """The constant array of ``value`` (initializer or ``Constant`` node output), or None for an activation."""
    if value is None:
        return None
    if value.const_value is not None:
        return value.const_value.numpy()
    producer = value.producer()
    if producer is not None and producer.op_type == "Constant" and "value" in producer.attributes:
        return producer.attributes["value"].as_tensor().numpy()
    return None


def clip_bounds(node: ir.Node) -> tuple[float, float] | None:
    """(min, max) of a Clip, from its inputs (opset >= 11) or attributes (opset < 11); -inf/inf where unbounded;
    None when a bound is not a constant."""
    bounds = [-math.inf, math.inf]
    for i, attr in ((1, "min"), (2, "max")):
        value = node.inputs[i] if len(node.inputs) > i else None
        if value is not None:
            array = const_array(value)
            if array is None:
                return None
            bounds[i - 1] = float(array.reshape(-1)[0])
        elif attr in node.attributes:
            bounds[i - 1] = node.attributes[attr].as_float()
    return bounds[0], bounds[1]


def activation_name(node: ir.Node) -> str | None:
    """The TFLite activation a Relu or Clip node computes ("RELU", "RELU6", "RELU_N1_TO_1"), or None."""
    if node.op_type == "Relu":
        return "RELU"
    if node.op_type != "Clip":
        return None
    bounds = clip_bounds(node)
    return None if bounds is None else _CLIP_ACTIVATIONS.get(bounds)


def int_list(node: ir.Node, name: str, default: list[int]) -> list[int]:
    """An ints attribute, or ``default`` when absent."""
    attr = node.attributes.get(name)
    return list(attr.as_ints()) if attr is not None else list(default)


def int_attr(node: ir.Node, name: str, default: int) -> int:
    attr = node.attributes.get(name)
    return attr.as_int() if attr is not None else default

"""``fold-bn``: fold inference BatchNormalization into the Conv/ConvTranspose/Gemm before it."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
import onnx_ir as ir

from mcugraph.errors import InvalidModelError
from mcugraph.ops.table import ops_where
from mcugraph.passes._rewrite import (
    add_initializer,
    constant_array,
    drop_if_unused,
    remove_node,
    replace_value,
    set_static,
    unique_name,
)
from mcugraph.registry import register

_FOLDABLE = ops_where(lambda row: row.foldable)  # the op table's weighted layers with a bias input


@register
@dataclasses.dataclass(frozen=True)
class FoldBatchNormPass(ir.passes.InPlacePass):
    """Fold ``BatchNormalization`` (inference) into the weights and bias of the Conv/ConvTranspose/Gemm feeding it.

    With ``s = gamma / sqrt(var + eps)`` and ``t = beta - mean * s``, BN is ``y = x * s + t`` per channel, so the
    producer's weights are scaled by ``s`` along its output channels and its bias becomes ``b * s + t``
    (a Gemm's ``beta`` is folded into its new bias and set to 1).
    Folds only when the producer's output feeds nothing but this BN (and is no graph output), its weight and
    bias are constant, and all four BN parameters are constant.
    Refuses (keeps the BN) in training mode, with a non-constant parameter, or when the BN's running mean/var
    outputs are read. Raises ``InvalidModelError`` when ``var + epsilon`` is not positive (the BN would compute
    NaN). A BN that cannot be folded becomes ``Mul(x, s)`` + ``Add(., t)`` with constant ``s``/``t``
    when ``standalone`` is true (the default), so no BatchNormalization reaches the exporter.
    """

    name: ClassVar[str] = "fold-bn"
    standalone: bool = True

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        modified = False
        for node in list(model.graph):
            if node.op_type != "BatchNormalization" or node.domain not in ("", "ai.onnx"):
                continue
            affine = _scale_and_shift(node)
            if affine is None:
                continue
            if _fold_into_producer(model.graph, node, *affine):
                modified = True
            elif self.standalone and _to_mul_add(model.graph, node, *affine):
                modified = True
        return ir.passes.PassResult(model, modified)


def _scale_and_shift(bn: ir.Node) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-channel (s, t) in float64 with ``BN(x) = x * s + t``, or None when BN is not a constant affine map."""
    if bn.attributes.get_int("training_mode", 0):
        return None
    if any(v.uses() or v.is_graph_output() for v in bn.outputs[1:]):
        return None  # running statistics are read: that is training
    params = [constant_array(v) for v in bn.inputs[1:5]]
    if len(params) != 4 or any(p is None for p in params):
        return None
    gamma, beta, mean, var = (p.astype(np.float64) for p in params)
    eps = bn.attributes.get_float("epsilon", 1e-5)
    if not np.all(var + eps > 0) or not all(np.isfinite(p).all() for p in (gamma, beta, mean, var)):
        # onnxruntime computes NaN here without complaint; a NaN weight must never reach a .tflite.
        raise InvalidModelError(
            f"BatchNormalization '{bn.name}': variance + epsilon ({eps:g}) is not positive or a parameter is not "
            "finite; the model is invalid, re-export it"
        )
    scale = gamma / np.sqrt(var + eps)
    return scale, beta - mean * scale


def _fold_into_producer(graph: ir.Graph, bn: ir.Node, scale: np.ndarray, shift: np.ndarray) -> bool:
    x = bn.inputs[0]
    producer = x.producer()
    if producer is None or producer.op_type not in _FOLDABLE or producer.domain not in ("", "ai.onnx"):
        return False
    if len(x.uses()) != 1 or x.is_graph_output():
        return False  # someone else reads the un-normalised output
    if x.shape is None or len(x.shape) < 2 or x.shape[1] != len(scale):
        return False
    weight = constant_array(producer.inputs[1])
    bias_value = producer.inputs[2] if len(producer.inputs) > 2 else None
    bias = constant_array(bias_value) if bias_value is not None else np.zeros(1)
    if weight is None or bias is None:
        return False
    if producer.op_type == "Gemm":
        new_weight, new_bias = _fold_gemm(producer, weight, bias, scale, shift)
    else:
        new_weight, new_bias = _fold_conv(producer, weight, scale), bias * scale + shift
    dtype = weight.dtype
    old_inputs = list(producer.inputs[1:])
    producer.replace_input_with(1, add_initializer(graph, new_weight.astype(dtype), f"{producer.name}_weight"))
    if len(producer.inputs) < 3:
        producer.resize_inputs(3)
    producer.replace_input_with(2, add_initializer(graph, new_bias.astype(dtype), f"{producer.name}_bias"))
    replace_value(bn.outputs[0], x)
    remove_node(graph, bn)
    drop_if_unused(graph, old_inputs)  # the unfolded weights, unless another node shares them
    return True


def _fold_conv(conv: ir.Node, weight: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Scale the weight along its output channels: axis 0 for Conv, grouped axis 1 for ConvTranspose."""
    tail = (1,) * (weight.ndim - 2)
    if conv.op_type == "Conv":
        return weight * scale.reshape(-1, 1, *tail)
    groups = conv.attributes.get_int("group", 1)
    per_group_in, per_group_out = weight.shape[0] // groups, weight.shape[1]
    # ConvTranspose weight is [C_in, C_out/group, k...]: input channel i belongs to group i // per_group_in.
    grid = np.repeat(scale.reshape(groups, 1, per_group_out), per_group_in, axis=1)
    return weight * grid.reshape(weight.shape[0], per_group_out, *tail)


def _fold_gemm(gemm: ir.Node, weight: np.ndarray, bias: np.ndarray, scale: np.ndarray, shift: np.ndarray):
    """Gemm y = alpha*A*B' + beta*C; BN acts on the N columns of y."""
    trans_b = gemm.attributes.get_int("transB", 0)
    new_weight = weight * (scale[:, None] if trans_b else scale[None, :])
    new_bias = gemm.attributes.get_float("beta", 1.0) * bias * scale + shift
    gemm.attributes["beta"] = ir.AttrFloat32("beta", 1.0)
    return new_weight, new_bias


def _to_mul_add(graph: ir.Graph, bn: ir.Node, scale: np.ndarray, shift: np.ndarray) -> bool:
    """Replace a BN that has no foldable producer by Mul + Add with channel-broadcast constants."""
    x, y = bn.inputs[0], bn.outputs[0]
    if x.shape is None or len(x.shape) < 2 or y.dtype is None:
        return False
    broadcast = (-1,) + (1,) * (len(x.shape) - 2)  # channels are axis 1; the batch axis broadcasts
    dtype = y.dtype.numpy()
    s = add_initializer(graph, scale.reshape(broadcast).astype(dtype), f"{bn.name}_scale")
    t = add_initializer(graph, shift.reshape(broadcast).astype(dtype), f"{bn.name}_shift")
    mul = ir.Node("", "Mul", [x, s], name=f"{bn.name}_mul")
    mul.outputs[0].name = unique_name(graph, f"{y.name}_scaled")
    set_static(mul.outputs[0], tuple(y.shape), y.dtype)
    add = ir.Node("", "Add", [mul.outputs[0], t], name=f"{bn.name}_add")
    add.outputs[0].name = unique_name(graph, f"{y.name}_shifted")
    set_static(add.outputs[0], tuple(y.shape), y.dtype)
    graph.insert_before(bn, [mul, add])
    replace_value(y, add.outputs[0])
    remove_node(graph, bn)
    return True

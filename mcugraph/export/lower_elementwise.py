"""Lowerings of element-wise ops, activations, Softmax and Concat (same signature as ``lower_conv``)."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from mcugraph.errors import ExportError
from mcugraph.export import layout
from mcugraph.export.context import Lowering
from mcugraph.export.flatbuffer import ACTIVATIONS
from mcugraph.ops.attributes import activation_name
from mcugraph.tflite.schema import schema

MAX_CONCAT_INPUTS = 10  # TFLM's concatenation kernel (kMaxInputNum)


def _operand(cx: Lowering, value: ir.Value, perm: tuple[int, ...], base: str, param=None) -> int:
    """An input of a broadcasting op in the output's layout; a constant is padded to the output rank first (and in
    int8 quantised with ``param``, default its own range)."""
    array = cx.const(value)
    if array is not None:
        array = array.astype(np.float32)
        array = array.reshape((1,) * (len(perm) - array.ndim) + array.shape).transpose(perm)
        return cx.float_const(f"{base}/const", array, param)
    if len(value.shape) != len(perm):
        raise ExportError(
            f"value '{value.name}' (rank {len(value.shape)}) broadcasts against rank {len(perm)}; "
            "TFLite needs equal ranks there: add an explicit Reshape/Unsqueeze before the op"
        )
    return cx.input(value, perm)


def _operands_perm(cx: Lowering, node: ir.Node, out: ir.Value) -> tuple[int, ...]:
    """The layout of a broadcasting op's output: the one its activation operands of full rank share (no TRANSPOSE
    needed: a (1, heads, T, T) attention score stays in ONNX order), else the default for its rank."""
    rank = len(out.shape)
    perms = {cx.slot(v).perm for v in node.inputs
             if v is not None and cx.const(v) is None and v.shape is not None and len(v.shape) == rank}
    return perms.pop() if len(perms) == 1 else layout.default_perm(rank)


def _binary(builtin: str, options_cls: type, same_params: bool = False):
    """A two-operand broadcasting op; ``same_params``: TFLM compares raw codes, so constants take the output's
    parameters (activation operands already have them, see ``resolve_params``)."""

    def lower(cx: Lowering, node: ir.Node, out: ir.Value, act: str) -> None:
        if len(node.inputs) != 2:
            raise ExportError(f"node '{node.name}' ({node.op_type}): TFLite's {builtin} takes exactly 2 operands")
        perm = _operands_perm(cx, node, out)
        param = cx.param(out.name) if same_params and cx.int8 else None
        inputs = [_operand(cx, v, perm, node.name, param) for v in node.inputs]
        options = options_cls()
        if hasattr(options, "fusedActivationFunction"):
            options.fusedActivationFunction = ACTIVATIONS[act]
        cx.fm.op(builtin, inputs, [cx.output(out, perm)], options)

    lower.__name__ = builtin.lower()
    return lower


add = _binary("ADD", schema.AddOptionsT)
sub = _binary("SUB", schema.SubOptionsT)
mul = _binary("MUL", schema.MulOptionsT)
div = _binary("DIV", schema.DivOptionsT)
maximum = _binary("MAXIMUM", schema.MaximumMinimumOptionsT, same_params=True)
minimum = _binary("MINIMUM", schema.MaximumMinimumOptionsT, same_params=True)


def prelu(cx: Lowering, node: ir.Node, out: ir.Value, act: str) -> None:
    x, slope = node.inputs
    perm = layout.default_perm(len(out.shape))
    cx.fm.op("PRELU", [cx.input(x, perm), _operand(cx, slope, perm, node.name)], [cx.output(out, perm)])


def _unary(cx: Lowering, node: ir.Node, out: ir.Value, builtin: str, options: object = None) -> None:
    slot = cx.slot(node.inputs[0])
    index = cx.input(node.inputs[0])
    cx.fm.op(builtin, [index], [cx.output(out, slot.perm)], options)


def relu(cx: Lowering, node: ir.Node, out: ir.Value, act: str) -> None:
    """A standalone Relu/Clip as the activation builtin the kernel view chose for it."""
    name = cx.step.builtin or activation_name(node)
    if name is None:
        raise ExportError(
            f"node '{node.name}' (Clip): only Clip(0, 6), Clip(0, inf) and Clip(-1, 1) have TFLM kernels"
        )
    _unary(cx, node, out, name)


def leaky_relu(cx: Lowering, node: ir.Node, out: ir.Value, act: str) -> None:
    options = schema.LeakyReluOptionsT()
    options.alpha = node.attributes["alpha"].as_float() if "alpha" in node.attributes else 0.01
    _unary(cx, node, out, "LEAKY_RELU", options)


def sigmoid(cx: Lowering, node: ir.Node, out: ir.Value, act: str) -> None:
    _unary(cx, node, out, "LOGISTIC")


def tanh(cx: Lowering, node: ir.Node, out: ir.Value, act: str) -> None:
    _unary(cx, node, out, "TANH")


def elu(cx: Lowering, node: ir.Node, out: ir.Value, act: str) -> None:
    alpha = node.attributes["alpha"].as_float() if "alpha" in node.attributes else 1.0
    if alpha != 1.0:
        raise ExportError(f"node '{node.name}' (Elu): alpha={alpha}; TFLite's ELU computes alpha=1 only")
    _unary(cx, node, out, "ELU")


def sqrt(cx: Lowering, node: ir.Node, out: ir.Value, act: str) -> None:
    """SQRT, or RSQRT when the kernel view fused the Reciprocal after it (``out`` is then the reciprocal's)."""
    builtin = cx.step.builtin or "SQRT"
    if builtin == "SQRT" and cx.int8:
        raise ExportError(
            f"node '{node.name}' (Sqrt): TFLM's SQRT kernel is float32 only; export with --float32, or compute "
            "1/sqrt(x) (Reciprocal(Sqrt(x)), which runs as RSQRT in int8) and multiply"
        )
    _unary(cx, node, out, builtin)


def hard_swish(cx: Lowering, node: ir.Node, out: ir.Value, act: str) -> None:
    _unary(cx, node, out, "HARD_SWISH", schema.HardSwishOptionsT())


def softmax(cx: Lowering, node: ir.Node, out: ir.Value, act: str) -> None:
    x = node.inputs[0]
    slot = cx.slot(x)
    rank = len(x.shape)
    axis = (node.attributes["axis"].as_int() if "axis" in node.attributes else -1) % rank
    if slot.perm.index(axis) != rank - 1:
        raise ExportError(
            f"node '{node.name}' (Softmax): axis {axis} is not the last TFLite axis; TFLite's SOFTMAX only "
            "normalises the last axis"
        )
    options = schema.SoftmaxOptionsT()
    options.beta = 1.0
    _unary(cx, node, out, "SOFTMAX", options)


def concat(cx: Lowering, node: ir.Node, out: ir.Value, act: str) -> None:
    """CONCATENATION; TFLM requires one scale/zero point for all inputs and the output, and <= 10 inputs.

    More inputs form the kernel view's chain: the first 10 into ``<output>/part0``, that and the next 9 into
    ``part1``, ... Each part is written at its own kernel's place (``cx.step.part``); later steps reuse it.
    """
    rank = len(out.shape)
    perm = layout.default_perm(rank)
    axis = perm.index(node.attributes["axis"].as_int() % rank)
    param = cx.param(out.name) if cx.int8 else None
    values = list(node.inputs)
    chunks = [values[:MAX_CONCAT_INPUTS]]
    values = values[MAX_CONCAT_INPUTS:]
    while values:
        chunks.append(values[: MAX_CONCAT_INPUTS - 1])
        values = values[MAX_CONCAT_INPUTS - 1 :]
    previous: int | None = None
    for i, chunk in enumerate(chunks):
        last = i == len(chunks) - 1
        name = out.name if last else f"{out.name}/part{i}"
        if name in cx.slots:
            previous = cx.slots[name].index
            continue
        inputs = [previous] if previous is not None else []
        inputs += [_concat_operand(cx, v, perm, param, node.name) for v in chunk]
        if last:
            target = cx.output(out, perm)
        else:
            shape = [int(d) for d in cx.fm.tensors[inputs[0]].shape]
            shape[axis] = sum(int(cx.fm.tensors[t].shape[axis]) for t in inputs)
            target = cx.named(name, shape, param, perm)
        _concat_op(cx, inputs, target, axis, act if last else "NONE")
        previous = target
        if cx.step.part == name:
            return


def _concat_operand(cx: Lowering, value: ir.Value, perm: tuple[int, ...], param, base: str) -> int:
    array = cx.const(value)
    if array is not None:
        return cx.float_const(f"{base}/const", array.astype(np.float32).transpose(perm), param)
    index = cx.input(value, perm)
    return cx.requantized(index, param, value.name) if param is not None else index


def _concat_op(cx: Lowering, inputs: list[int], out: int, axis: int, act: str) -> None:
    options = schema.ConcatenationOptionsT()
    options.axis = axis
    options.fusedActivationFunction = ACTIVATIONS[act]
    cx.fm.op("CONCATENATION", inputs, [out], options)

"""Lower an onnx-ir model kernel by kernel into TFLite operators: the op table and the driver.

``LOWERINGS`` maps ONNX op types to functions ``fn(cx, node, out, act)`` (torch.fx interpreter style). The kernels,
which ONNX nodes form one TFLM operator (a Conv and the Relu fused into it), come from
``mcugraph.memory.kernel_view`` (a BatchNormalization or bias Add it absorbs is folded into the weights here); nodes
that belong to no kernel (layout Transposes, Identity) are lowered on demand, as aliases where possible, just before
the first kernel that reads them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import onnx_ir as ir

from mcugraph.errors import ExportError, UnsupportedOpError
from mcugraph.export.context import Lowering
from mcugraph.export.quant_params import FIXED_OUTPUT, QuantParam, union
from mcugraph.ops import FIXED, OPS, SHARES, SHARES_ALL, lowering_function, ops_where
from mcugraph.ops.attributes import activation_name
from mcugraph.ops.refusals import NO_KERNEL, NOT_LOWERED, clip_reason, reason, unsupported_error

# ONNX op -> fn(cx, node, out, act), from the op table (mcugraph.ops.OPS: the "lowering" column).
LOWERINGS = {op: lowering_function(op) for op, row in OPS.items() if row.exported}

# TFLM copies int8 codes through these ops without rescaling: inputs and outputs must share scale and zero point.
# (A standalone Clip is RELU6 / RELU_N1_TO_1, which clamp codes in the input's domain; RELU itself requantises.)
SAME_PARAMS = ops_where(lambda row: row.exported and row.int8 in (SHARES, SHARES_ALL))
# TFLM's int8 kernels for these check a fixed output scale and zero point.
FIXED_PARAMS = {op: row.builtins[0] for op, row in OPS.items() if row.int8 == FIXED}


@dataclasses.dataclass(frozen=True)
class Step:
    """One kernel to lower: the main node, the fused activation (TFLite name) and the kernel's output value."""

    name: str
    node: ir.Node
    act: str
    out: ir.Value
    kernel: bool = True  # False: a node the kernel view turns into an alias (no operator unless unavoidable)
    affine: tuple[np.ndarray, np.ndarray] | None = None  # absorbed BatchNormalization / bias Add: (scale, shift)
    members: tuple[ir.Node, ...] = ()  # every node the kernel executes
    # A helper kernel of the main node (explicit PAD, a Concat chain part): the tensor it writes. Lowered at its own
    # place in the order, so an offline arena plan made for that order stays valid.
    part: str | None = None
    builtin: str | None = None  # the TFLite builtin the kernel view chose (None for a non-kernel step)


def _refusal(node: ir.Node) -> str | None:
    """Why ``node`` cannot be lowered at all (checked for every node before anything is written)."""
    if node.op_type not in LOWERINGS or node.domain not in ("", "ai.onnx"):
        return reason(node.op_type, node.domain)
    if node.op_type == "Conv":
        w = node.inputs[1]
        if w.shape is not None and len(w.shape) != 4:
            return (f"{NO_KERNEL} for a {len(w.shape) - 2}-D convolution (the 'conv1d-to-2d' pass in "
                    "mcugraph.CANONICALIZE rewrites 1-D ones)")
    if node.op_type in ("ConvTranspose", "MaxPool", "AveragePool"):
        rank = len(node.inputs[0].shape or ())
        if rank != 4:
            kind = "transposed convolution" if node.op_type == "ConvTranspose" else "pooling"
            return f"{NO_KERNEL} for {rank - 2}-D {kind} (TFLite's kernels are 2-D)"
    if node.op_type in ("Conv", "Gemm") and len(node.inputs) > 1:
        if Lowering.const(node.inputs[1]) is None:
            return "non-constant weights"
    if node.op_type == "Gemm" and len(node.inputs) > 2 and node.inputs[2] is not None and node.inputs[2].shape:
        c, y = node.inputs[2].shape, node.outputs[0].shape
        if len(c) == 2 and c[0] != 1 and y is not None and y[0] != 1:
            return (f"{NOT_LOWERED}: a bias C of shape {tuple(c)} (one per row): FULLY_CONNECTED adds one bias "
                    "vector; add C after the Gemm instead")
    if node.op_type == "Dropout" and len(node.inputs) > 2 and node.inputs[2] is not None:
        flag = Lowering.const(node.inputs[2])
        if flag is None or bool(flag):
            return ("training mode: a Dropout with training_mode true drops random elements at run time; export "
                    "the model in inference mode")
    if node.op_type == "Slice" and len(node.inputs[0].shape or ()) > 4:
        return "no TFLite Micro kernel: TFLM's STRIDED_SLICE takes at most 4 dimensions; slice before adding the 5th"
    if node.op_type == "Clip" and activation_name(node) is None:
        return clip_reason(node)
    return None


def check_supported(plan: Sequence[Step]) -> None:
    """Raise one UnsupportedOpError listing every node of ``plan`` the exporter cannot lower."""
    bad = []
    for step in plan:
        why = None if step.part else _refusal(step.node)
        if why:
            bad.append((step.name, step.node.op_type, why))
    if bad:
        raise unsupported_error(bad, "cannot be exported to TFLite")


# Kernels whose weights and bias absorb a following BatchNormalization / bias Add (the kernel view fuses them).
_TAKES_AFFINE = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")


def _affine(extras: Sequence[ir.Node], out_channels: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(scale, shift) per output channel of the BatchNormalization / bias Add the kernel view absorbed."""
    scale, shift = np.ones(out_channels, np.float64), np.zeros(out_channels, np.float64)
    for node in extras:
        if node.op_type == "BatchNormalization":
            gamma, beta, mean, var = (Lowering.const(v).astype(np.float64) for v in node.inputs[1:5])
            eps = node.attributes["epsilon"].as_float() if "epsilon" in node.attributes else 1e-5
            k = gamma / np.sqrt(var + eps)
            scale, shift = scale * k, shift * k + beta - mean * k
        elif node.op_type == "Add":
            bias = next(Lowering.const(v) for v in node.inputs if Lowering.const(v) is not None)
            shift = shift + np.broadcast_to(bias.reshape(-1), (out_channels,))
        else:
            raise ExportError(f"node '{node.name}' ({node.op_type}) cannot be folded into the kernel before it")
    return scale.astype(np.float32), shift.astype(np.float32)


def _kernel_steps(model: ir.Model) -> list[tuple[str, Step]]:
    """(kernel name, Step) per ``kernel_view`` kernel. Helper kernels (``Step.part``) are run by the main node's
    lowering function too, writing only their part: the partial kernels of a split Concat (tensors
    ``<output>/part<i>``) and the explicit PAD before a Conv/pool whose padding TFLite cannot express (tensor
    ``<kernel>/pad``)."""
    from mcugraph.memory.kernel_view import kernel_view

    nodes = list(model.graph)
    by_name = {n.name: n for n in nodes if n.name}
    producer = {v.name: n for n in nodes for v in n.outputs if v is not None}
    result: list[tuple[str, Step]] = []
    for k in kernel_view(model).kernels:
        main = by_name.get(k.nodes[0]) if k.nodes else None
        main = main or producer.get(k.outputs[0])
        if main is None:
            raise ExportError(f"kernel '{k.name}' names no node of the model; name every node before exporting")
        group = members = [main] + [by_name[n] for n in k.nodes[1:]]
        if k.outputs[0] not in {v.name for n in group for v in n.outputs}:
            result.append((k.name, Step(k.name, main, "NONE", main.outputs[0], part=k.outputs[0], builtin=k.op)))
            continue
        if k.activation != "NONE":
            group = group[:-1]  # the kernel view fused the last node as the activation
        affine = None
        if len(group) > 1 and k.op in _TAKES_AFFINE:
            # Output channels: the last axis of a FULLY_CONNECTED output (rank 2 or a (1, T, D) token tensor), axis 1
            # of an NCHW convolution's.
            channels_axis = -1 if k.op == "FULLY_CONNECTED" else 1
            affine = _affine(group[1:], int(main.outputs[0].shape[channels_axis]))
        out = by_name[k.nodes[-1]].outputs[0] if len(k.nodes) > 1 else main.outputs[0]
        result.append((k.name, Step(k.name, main, k.activation, out, True, affine, tuple(members), builtin=k.op)))
    return result


def steps(model: ir.Model, order: Sequence[str] | None = None) -> tuple[list[Step], tuple[str, ...]]:
    """Kernels in ``order`` (default: the kernel view's order) as Steps; nodes that are no kernel (aliases such as
    layout Transposes and Identity) are inserted as non-kernel Steps just before their first reader. Also returns
    the kernel names in that order (with the partial kernels of a split Concat)."""
    try:
        kernels = _kernel_steps(model)
    except UnsupportedOpError as e:
        # The kernel view stops at ops TFLM cannot run; add the ones only the exporter refuses, so the user sees all.
        named = {name for name, _ in e.nodes}
        extra = [(n.name, n.op_type, why) for n in model.graph
                 if n.op_type != "Constant" and n.name not in named and (why := _refusal(n))
                 and Lowering.const(n.outputs[0]) is None]
        if not extra:
            raise
        raise unsupported_error([*e.offenders, *extra], "cannot be exported to TFLite") from e
    by_name = dict(kernels)
    if order is not None:
        unknown = [n for n in order if n not in by_name]
        if unknown or len(order) != len(kernels) or len(set(order)) != len(order):
            raise ExportError(
                f"kernel order must name each of the {len(kernels)} kernels once; unknown or missing: "
                f"{unknown or sorted(set(by_name) - set(order))[:5]}"
            )
        kernels = [(n, by_name[n]) for n in order]
    covered = {id(n) for _, s in kernels for n in s.members}
    done: set[int] = set()
    result: list[Step] = []

    def visit(node: ir.Node) -> None:
        for value in node.inputs:
            producer = value.producer() if value is not None else None
            if producer is None or id(producer) in covered or id(producer) in done:
                continue
            if Lowering.const(value) is not None:
                continue
            visit(producer)
            done.add(id(producer))
            result.append(Step(producer.name or producer.op_type, producer, "NONE", producer.outputs[0], False))

    for _, step in kernels:
        if step.part is None:  # a part's inputs may include aliases lowered later: the driver lowers them on demand
            visit(step.node)
        result.append(step)
    return result, tuple(name for name, _ in kernels)


class _Groups:
    """Union-find over value names: values that TFLM needs to carry identical quantisation parameters."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, a: str) -> str:
        self.parent.setdefault(a, a)
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def union(self, a: str, b: str) -> None:
        self.parent[self.find(a)] = self.find(b)


def resolve_params(
    model: ir.Model, plan: Sequence[Step], activations: dict[str, QuantParam]
) -> dict[str, QuantParam]:
    """Final int8 parameters per value: the given ones, adjusted to what TFLM's kernels require.

    * SOFTMAX/LOGISTIC output 1/256, zp -128; TANH 1/128, zp 0 (fixed in TFLM's Prepare).
    * Pools, PAD, RESHAPE, slices, splits, resize, transpose, standalone RELU6 and CONCATENATION copy codes, so
      their inputs and outputs form one group sharing one parameter set. The group's data comes from its *sources*
      (members no such op produces): one source gives its parameters to the whole group; several (a concat) give
      the union of their ranges, i.e. the concat output's range. A graph input simply takes the group's
      parameters (the application quantises its input with whatever the model states), so it needs no extra op.
      A source whose parameters TFLM fixes (a softmax output) keeps them and is requantised (QUANTIZE int8 -> int8)
      where it enters the group, unless its range already covers the group's.
    """
    pinned: dict[str, QuantParam] = {}
    for step in plan:
        if step.node.op_type in FIXED_PARAMS:
            pinned[step.out.name] = QuantParam(*FIXED_OUTPUT[FIXED_PARAMS[step.node.op_type]])
    groups = _Groups()
    copied: set[str] = set()  # values produced by a code-copying op: never a source
    for step in plan:
        if step.node.op_type not in SAME_PARAMS:
            continue
        # A constant operand of a Concat/Max/Min is quantised with the group's parameters: the output's own
        # calibrated range (which holds the constant's values) must then count as a source, or they are clipped.
        constant_operand = OPS[step.node.op_type].int8 == SHARES_ALL and any(
            v is not None and Lowering.const(v) is not None for v in step.node.inputs)
        for v in same_param_inputs(step.node):
            for out in step.node.outputs:
                groups.union(v.name, out.name)
                if not constant_operand:
                    copied.add(out.name)
    result = {**activations, **pinned}
    members: dict[str, list[str]] = {}
    for name in list(groups.parent):
        members.setdefault(groups.find(name), []).append(name)
    for names in members.values():
        sources = [n for n in names if n not in copied and n in result]
        if not sources:
            continue
        if len(sources) == 1:
            shared = result[sources[0]]
        else:
            lo = min(result[n].range[0] for n in sources)
            hi = max(result[n].range[1] for n in sources)
            covering = [pinned[n] for n in sources if n in pinned and _covers(pinned[n], lo, hi)]
            shared = covering[0] if covering else union([result[n] for n in sources])
        for n in names:
            result[n] = pinned.get(n, shared)
    return result


def same_param_inputs(node: ir.Node) -> list[ir.Value]:
    """The activation inputs of a code-copying op that must carry its output's parameters."""
    data = list(node.inputs) if OPS[node.op_type].int8 == SHARES_ALL else list(node.inputs[:1])
    return [v for v in data if v is not None and Lowering.const(v) is None]


def _covers(param: QuantParam, lo: float, hi: float) -> bool:
    low, high = param.range
    return low <= lo + param.scale / 2 and high >= hi - param.scale / 2

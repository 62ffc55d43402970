"""Lower an onnx-ir model kernel by kernel into TFLite operators: the op table and the driver.

``LOWERINGS`` maps ONNX op types to functions ``fn(cx, node, out, act)`` (torch.fx interpreter style). The kernels,
which ONNX nodes form one TFLM operator (a Conv and the Relu fused into it), come from
``mcugraph.memory.kernel_view``; nodes that belong to no kernel (layout Transposes the exporter removes, Constant
nodes) are lowered on demand, just before the first kernel that reads them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import onnx_ir as ir

from mcugraph.errors import ExportError, unsupported_ops_error
from mcugraph.export import lower_conv, lower_elementwise, lower_shape
from mcugraph.export.context import Lowering
from mcugraph.export.quant_params import FIXED_OUTPUT, QuantParam, union

LOWERINGS = {
    "Conv": lower_conv.conv,
    "Gemm": lower_conv.gemm,
    "MatMul": lower_conv.matmul,
    "MaxPool": lower_conv.max_pool,
    "AveragePool": lower_conv.average_pool,
    "GlobalAveragePool": lower_conv.global_average_pool,
    "ReduceMean": lower_conv.reduce_mean,
    "Add": lower_elementwise.add,
    "Sub": lower_elementwise.sub,
    "Mul": lower_elementwise.mul,
    "Relu": lower_elementwise.relu,
    "Clip": lower_elementwise.relu,
    "LeakyRelu": lower_elementwise.leaky_relu,
    "Sigmoid": lower_elementwise.sigmoid,
    "Tanh": lower_elementwise.tanh,
    "HardSwish": lower_elementwise.hard_swish,
    "HardSigmoid": lower_elementwise.hard_sigmoid,
    "Softmax": lower_elementwise.softmax,
    "Concat": lower_elementwise.concat,
    "Reshape": lower_shape.reshape,
    "Flatten": lower_shape.reshape,
    "Squeeze": lower_shape.reshape,
    "Unsqueeze": lower_shape.reshape,
    "Transpose": lower_shape.transpose,
    "Identity": lower_shape.identity,
    "Dropout": lower_shape.identity,
    "Pad": lower_shape.pad,
    "Slice": lower_shape.slice_,
    "Split": lower_shape.split,
    "Resize": lower_shape.resize,
}

# TFLM copies int8 codes through these ops without rescaling: inputs and outputs must share scale and zero point.
SAME_PARAMS = {
    "MaxPool", "AveragePool", "Pad", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Identity",
    "Dropout", "Slice", "Split", "Resize", "Concat",
}
# TFLM's int8 kernels for these check a fixed output scale and zero point.
FIXED_PARAMS = {"Softmax": "SOFTMAX", "Sigmoid": "LOGISTIC", "Tanh": "TANH"}
FUSABLE = {"Conv", "Gemm", "MatMul", "Add", "Sub", "Mul", "MaxPool", "AveragePool", "Concat"}


@dataclasses.dataclass(frozen=True)
class Step:
    """One kernel to lower: the main node, the fused activation (TFLite name) and the kernel's output value."""

    name: str
    node: ir.Node
    act: str
    out: ir.Value


def node_name(node: ir.Node, index: int) -> str:
    return node.name or f"{node.op_type}_{index}"


def _refusal(node: ir.Node) -> str | None:
    """Why ``node`` cannot be lowered at all (checked for every node before anything is written)."""
    if node.op_type not in LOWERINGS:
        return "no TFLite lowering"
    if node.op_type == "Conv":
        w = node.inputs[1]
        group = node.attributes["group"].as_int() if "group" in node.attributes else 1
        if w.shape is not None and len(w.shape) != 4:
            return "only 2-D convolutions"
        if group != 1 and (w.shape is None or w.shape[1] != 1 or group != node.inputs[0].shape[1]):
            return "grouped convolution other than depthwise"
    if node.op_type in ("Conv", "Gemm", "MatMul") and len(node.inputs) > 1:
        if Lowering.const(node.inputs[1]) is None:
            return "non-constant weights"
    if node.op_type == "Clip" and lower_elementwise.activation_name(node) is None:
        return "Clip bounds other than (0, 6), (0, inf), (-1, 1)"
    return None


def check_supported(model: ir.Model) -> None:
    """Raise one UnsupportedOpError listing every node the exporter cannot lower."""
    bad = []
    for i, node in enumerate(model.graph):
        if node.op_type == "Constant":
            continue
        reason = _refusal(node)
        if reason:
            bad.append((node_name(node, i), f"{node.op_type}: {reason}"))
    if bad:
        raise unsupported_ops_error(
            bad, "cannot be exported to TFLite", "rewrite them with supported ops (see mcugraph.export.lower)"
        )


def _fused_activation(node: ir.Node) -> str | None:
    return lower_elementwise.activation_name(node)


def default_kernels(model: ir.Model) -> list[tuple[str, list[ir.Node]]]:
    """(kernel name, nodes) with a Relu/Clip fused into a single-use producer that supports fusion."""
    kernels: list[tuple[str, list[ir.Node]]] = []
    fused: set[int] = set()
    nodes = list(model.graph)
    for i, node in enumerate(nodes):
        if id(node) in fused or node.op_type == "Constant":
            continue
        group = [node]
        out = node.outputs[0] if len(node.outputs) == 1 else None
        if node.op_type in FUSABLE and out is not None and not out.is_graph_output():
            users = [u.node for u in out.uses()]
            if len(users) == 1 and _fused_activation(users[0]) is not None:
                group.append(users[0])
                fused.add(id(users[0]))
        kernels.append((node_name(node, i), group))
    return kernels


def kernels_of(model: ir.Model) -> list[tuple[str, list[ir.Node]]]:
    """The kernels as the memory model sees them (``mcugraph.memory.kernel_view``), else :func:`default_kernels`."""
    try:
        from mcugraph.memory import kernel_view
    except ImportError:
        return default_kernels(model)
    by_name = {node_name(n, i): n for i, n in enumerate(model.graph)}
    graph = kernel_view(model)
    return [(k.name, [by_name[n] for n in k.nodes]) for k in graph.kernels if k.nodes]


def steps(model: ir.Model, order: Sequence[str] | None = None) -> list[Step]:
    """Kernels in ``order`` (default: stored order) as Steps, with uncovered producers inserted before use."""
    kernels = kernels_of(model)
    by_name = dict(kernels)
    if order is not None:
        unknown = [n for n in order if n not in by_name]
        if unknown or len(order) != len(kernels) or len(set(order)) != len(order):
            raise ExportError(
                f"kernel order must name each of the {len(kernels)} kernels once; unknown or missing: "
                f"{unknown or sorted(set(by_name) - set(order))[:5]}"
            )
        kernels = [(n, by_name[n]) for n in order]
    covered = {id(n) for _, group in kernels for n in group}
    names = {id(n): node_name(n, i) for i, n in enumerate(model.graph)}
    done: set[int] = set()
    result: list[Step] = []

    def visit_uncovered(node: ir.Node) -> None:
        for value in node.inputs:
            producer = value.producer() if value is not None else None
            if producer is None or id(producer) in covered or id(producer) in done:
                continue
            if producer.op_type == "Constant":
                continue
            visit_uncovered(producer)
            done.add(id(producer))
            result.append(Step(names[id(producer)], producer, "NONE", producer.outputs[0]))

    for name, group in kernels:
        for node in group:
            visit_uncovered(node)
        act = "NONE"
        for extra in group[1:]:
            act = _fused_activation(extra) or ""
            if not act:
                raise ExportError(
                    f"kernel '{name}': node '{extra.name}' ({extra.op_type}) cannot be fused into "
                    f"'{group[0].op_type}' (TFLite fuses only Relu, Relu6, Relu-1..1)"
                )
        result.append(Step(name, group[0], act, group[-1].outputs[0]))
    return result


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
    * Pools, PAD, RESHAPE, slices, splits, resize, transpose and CONCATENATION copy codes, so their inputs and
      outputs form one group sharing one parameter set: the union of the members' ranges (for a concat that is its
      output's range), or, when the group holds a graph input or a fixed-output value, that value's parameters.
      A second pinned member with other parameters is requantised (QUANTIZE int8 -> int8) where it enters a concat.
    """
    graph_inputs = {v.name for v in model.graph.inputs}
    pinned: dict[str, QuantParam] = {}
    for step in plan:
        if step.node.op_type in FIXED_PARAMS:
            pinned[step.out.name] = QuantParam(*FIXED_OUTPUT[FIXED_PARAMS[step.node.op_type]])
    for name in graph_inputs:
        if name in activations:
            pinned[name] = activations[name]
    groups = _Groups()
    for step in plan:
        node = step.node
        if node.op_type not in SAME_PARAMS:
            continue
        data = [v for v in node.inputs[:1] if v is not None] if node.op_type != "Concat" else list(node.inputs)
        for v in data:
            if Lowering.const(v) is None:
                for out in node.outputs:
                    groups.union(v.name, out.name)
    members: dict[str, list[str]] = {}
    for name in list(groups.parent):
        members.setdefault(groups.find(name), []).append(name)
    result = dict(activations)
    result.update(pinned)
    for names in members.values():
        pins = [pinned[n] for n in names if n in pinned]
        known = [activations[n] for n in names if n in activations]
        if not known and not pins:
            continue
        shared = pins[0] if pins else union(known)
        for n in names:
            result[n] = pinned.get(n, shared)
    return result

"""The IR as TFLite Micro will run it: one :class:`~mcugraph.kernel_graph.Kernel` per TFLite operator.

This is the single place that decides what becomes a kernel; the exporter lowers exactly these kernels, in the
order the scheduler picks. The rules, in the order they are applied to each node:

1. **Constants take no kernel.** Initializers, ``Constant`` nodes, nodes whose inputs are all constant and
   ``Shape``/``Size`` (shapes are static) produce constants: weights and biases in flash, 0 bytes of SRAM.
2. **Aliases take no kernel and no bytes**; the output is a second name for the input:
   ``Identity``/``Dropout`` (except as a graph output, whose name must stay: that is a ``RESHAPE`` copy); the
   tf2onnx layout ``Transpose(perm=[0,3,1,2])`` right after a graph input (the NHWC model input), or the
   ``Reshape`` tf2onnx writes instead when that transpose moves only a size-1 dim; an NCHW<->NHWC ``Transpose``
   of a 4-D tensor with 1x1 spatial dims whose readers are all ``Reshape``/``Flatten``; a ``QuantizeLinear``
   whose readers are all ``DequantizeLinear`` (QDQ models): each DequantizeLinear output aliases the Q input.
3. **Fusion** (TFLite ``fused_activation_function``): into a kernel whose builtin takes one
   (``mcugraph.ops.FUSED_ACTIVATION_BUILTINS``: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD, SUB, MUL) a
   following ``Relu``, ``Clip(0,inf)`` (RELU), ``Clip(0,6)`` (RELU6) or ``Clip(-1,1)`` (RELU_N1_TO_1) joins, and
   ``Kernel.activation`` records it (the exporter writes exactly that); so do a ``BatchNormalization``
   after a Conv/Gemm (what ``fold-bn`` does), a constant bias ``Add`` after a MatMul, and a ``Reciprocal`` after a
   ``Sqrt`` (one ``RSQRT`` kernel). A node is absorbed only
   when the value before it is read by that node alone and is not a graph output. ``Kernel.nodes`` lists the main
   node first, then the absorbed ones; the kernel writes the last node's output.
4. **Op names** are TFLite builtins: Conv -> ``CONV_2D``, or ``DEPTHWISE_CONV_2D`` when group == input channels
   and output channels are a multiple of it (other grouped convs stay ``CONV_2D``: TFLM's kernel runs groups);
   Gemm and MatMul with a constant second input -> ``FULLY_CONNECTED`` (two activations: ``BATCH_MATMUL``);
   GlobalAveragePool/ReduceMean -> ``MEAN``; a standalone Relu/Clip -> its activation; the rest by the first
   builtin of the op's row in :data:`mcugraph.ops.OPS` (ops the table marks neither exported nor ``modelled`` have
   no kernel). A builtin the bundled TFLM has no kernel for (a standalone RELU_N1_TO_1) is refused. A ``Concat``
   of more than 10 inputs becomes a chain of ``CONCATENATION`` kernels of at most 10 inputs each (TFLM's limit),
   the partial results named ``<output>/part<i>``. A Conv or pooling whose padding SAME/VALID cannot express (PyTorch's
   stride-2 pad 1) gets a ``PAD`` kernel before it, writing ``<kernel>/pad`` (the exporter lowers it so).
   Any other op is refused, all offenders listed in one error that says, per node, whether TFLM lacks a kernel or
   mcugraph does not lower it yet (:mod:`mcugraph.ops.refusals`).

Scratch: each kernel carries the scratch buffers TFLM's kernel will request in the arena
(``Kernel.scratch_bytes``, from :func:`mcugraph.memory.scratch.scratch_bytes`: MEAN, REDUCE_MAX, int8
TRANSPOSE_CONV), live only at that kernel's step.

Sizes: ``dtype="int8"`` (default) stores float activations in 1 byte, except the float side of an explicit
``QUANTIZE``/``DEQUANTIZE`` kernel (4 bytes); ``dtype="float32"`` keeps 4.

Float edges: ``io_dtype="float32"`` around an int8 model (``opt --io float32``) adds a ``QUANTIZE`` kernel
``<input>/quantize`` after each float graph input and a ``DEQUANTIZE`` kernel ``<output>/dequantize`` before each
graph output; their float sides are tensors of their own, ``<name>/float``, 4 bytes per element, and become the
graph's inputs and outputs. The exporter writes these operators where the schedule puts them. Integer tensors keep their width
(int32 stays 4; int64 becomes TFLite's int32, 4). Conv/FC biases are int32 (4 bytes) in int8 mode.
"""

from __future__ import annotations

import dataclasses
import math

import onnx_ir as ir

from mcugraph.errors import ShapeError
from mcugraph.kernel_graph import Kernel, KernelGraph, TensorInfo
from mcugraph.memory.scratch import scratch_bytes
from mcugraph.ops import FUSED_ACTIVATION_BUILTINS, TFLM_BUILTINS, facts
from mcugraph.ops.attributes import activation_name
from mcugraph.ops.padding import explicit_pads
from mcugraph.ops.refusals import clip_reason, reason, unsupported_error

MAX_CONCAT_INPUTS = 10  # TFLM's concatenation kernel takes at most this many inputs
_ALIAS_OPS = ("Identity", "Dropout")
_SHAPE_OPS = ("Shape", "Size")
_WITH_BIAS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")
_WINDOWED = ("CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D")


def kernel_view(model: ir.Model, dtype: str = "int8", io_dtype: str = "int8") -> KernelGraph:
    """The kernels and tensors of ``model`` as TFLM runs them (rules in the module docstring).

    ``io_dtype``: the dtype of the graph inputs and outputs; "float32" with ``dtype="int8"`` adds the float edges.
    """
    if dtype not in ("int8", "float32"):
        raise ValueError(f"dtype must be 'int8' or 'float32', got {dtype!r}")
    if io_dtype not in ("int8", "float32"):
        raise ValueError(f"io_dtype must be 'int8' or 'float32', got {io_dtype!r}")
    graph = _Builder(model.graph, dtype).build()
    if dtype == "int8" and io_dtype == "float32":
        graph = _with_float_edges(graph, [v.name for v in model.graph.outputs])
    return graph


FLOAT_EDGE_SUFFIX = "/float"  # the float32 tensor beside an int8 graph input or output (``io_dtype="float32"``)


def float_edges(graph: KernelGraph) -> tuple[Kernel, ...]:
    """The QUANTIZE / DEQUANTIZE kernels :func:`kernel_view` added for ``io_dtype="float32"`` (no IR node)."""
    return tuple(k for k in graph.kernels if not k.nodes and k.op in ("QUANTIZE", "DEQUANTIZE"))


def _with_float_edges(graph: KernelGraph, output_values: list[str]) -> KernelGraph:
    """``graph`` with a QUANTIZE after each float graph input and a DEQUANTIZE before each graph output.

    The float tensors are named after the ONNX values (``output_values``: graph output names, in order), as the
    exporter names them, so the arena plan's offsets land on the tensors TFLM allocates.
    """
    tensors = dict(graph.tensors)
    before: list[Kernel] = []
    after: list[Kernel] = []
    inputs: list[str] = []
    for name in graph.inputs:
        info = tensors[name]
        outer = f"{name}{FLOAT_EDGE_SUFFIX}"
        tensors[outer] = TensorInfo(outer, info.shape, 4)
        before.append(Kernel(f"{name}/quantize", "QUANTIZE", (outer,), (name,)))
        inputs.append(outer)
    outputs: list[str] = []
    for value, name in zip(output_values, graph.outputs, strict=True):
        outer = f"{value}{FLOAT_EDGE_SUFFIX}"
        tensors[outer] = TensorInfo(outer, tensors[name].shape, 4)
        after.append(Kernel(f"{value}/dequantize", "DEQUANTIZE", (name,), (outer,)))
        outputs.append(outer)
    return KernelGraph(tensors, (*before, *graph.kernels, *after), tuple(inputs), tuple(outputs))


class _Builder:
    def __init__(self, graph: ir.Graph, dtype: str):
        self.graph = graph
        self.dtype = dtype
        self.alias: dict[str, str] = {}
        self.constant: set[str] = set()
        self.absorbed: set[int] = set()  # id() of nodes already part of a kernel or vanished
        self.kernels: list[Kernel] = []
        self.extra: dict[str, TensorInfo] = {}  # tensors that have no IR value (Concat chain parts)
        self.float_io: set[str] = set()  # float side of QUANTIZE/DEQUANTIZE: stays float32 in int8 mode
        self.bias: set[str] = set()
        self.names: set[str] = set()
        self.axis_count: dict[str, int] = {}  # MEAN/REDUCE_MAX kernel -> elements of its axes tensor (scratch size)

    def build(self) -> KernelGraph:
        for name, value in self.graph.initializers.items():
            if value.const_value is not None or not value.is_graph_input():
                self.constant.add(name)
        bad: list[tuple[str, str, str]] = []
        for node in self.graph:
            if id(node) in self.absorbed:
                continue
            try:
                self._visit(node)
            except _Refused as e:
                bad.append((node.name or "?", node.op_type, e.reason))
        if bad:
            raise unsupported_error(bad)
        return self._graph()

    # --- classification -------------------------------------------------------------------------------------

    def _visit(self, node: ir.Node) -> None:
        inputs = [v for v in node.inputs if v is not None]
        if node.op_type == "Constant" or node.op_type in _SHAPE_OPS or (
            inputs and all(self._name(v) in self.constant for v in inputs)
        ):
            self.constant.update(v.name for v in node.outputs)
            return
        if (node.op_type in _ALIAS_OPS and not node.outputs[0].is_graph_output()) or self._is_layout_transpose(node):
            self._alias(node.outputs[0], inputs[0])
            return
        if node.op_type == "QuantizeLinear" and self._is_qdq_pair(node):
            for use in node.outputs[0].uses():
                self.absorbed.add(id(use.node))
                self._alias(use.node.outputs[0], inputs[0])
            return
        if node.op_type == "Concat" and len(inputs) > MAX_CONCAT_INPUTS:
            self._concat_chain(node, inputs)
            return
        op = self._op(node)
        if op is None or op not in TFLM_BUILTINS:
            raise _Refused(reason(node.op_type, node.domain, op))
        nodes, main_inputs, act = [node], inputs, "NONE"
        if node.op_type == "Clip" or op in ("RELU", "RELU6", "RELU_N1_TO_1"):
            main_inputs = inputs[:1]  # Clip's min/max are operator options in TFLite
        out = node.outputs[0]
        if op in _WITH_BIAS and (bn := self._sole_reader(out, ("BatchNormalization",))):
            nodes.append(bn)
            out = bn.outputs[0]
        if node.op_type == "MatMul" and op == "FULLY_CONNECTED" and (add := self._sole_reader(out, ("Add",))):
            bias = [v for v in add.inputs if v is not None and v is not out]
            if len(bias) == 1 and self._name(bias[0]) in self.constant and len(bias[0].shape or ()) <= 2:
                nodes.append(add)
                out = add.outputs[0]
                main_inputs = main_inputs + bias
        if op == "SQRT" and (reciprocal := self._sole_reader(out, ("Reciprocal",))):
            op = "RSQRT"  # 1/sqrt(x) is one TFLM kernel, and the only square root TFLM runs in int8
            nodes.append(reciprocal)
            out = reciprocal.outputs[0]
        if op in FUSED_ACTIVATION_BUILTINS and (reader := self._sole_reader(out, ("Relu", "Clip"))):
            if (act := activation_name(reader) or "NONE") != "NONE":
                nodes.append(reader)
                out = reader.outputs[0]
        self.absorbed.update(id(n) for n in nodes)
        outputs = [out] if len(nodes) > 1 else list(node.outputs)
        names, kernel = [self._name(v) for v in main_inputs], None
        if op in _WINDOWED and (pads := explicit_pads(node)) is not None:
            # Padding SAME/VALID cannot express (PyTorch's stride-2 pad 1): the exporter writes a PAD kernel first.
            kernel = self._kernel_name(node)
            n, c, h, w = (int(d) for d in node.inputs[0].shape)
            padded = f"{kernel}/pad"
            shape = (n, c, h + pads[0] + pads[2], w + pads[1] + pads[3])
            self.extra[padded] = TensorInfo(padded, shape, self._itemsize(node.inputs[0]))
            self._emit(node, "PAD", names[:1], [padded], (node.name,), name=padded)
            names[0] = padded
        self._emit(node, op, names, [v.name for v in outputs if v is not None], tuple(n.name for n in nodes), kernel,
                   activation=act)

    def _op(self, node: ir.Node) -> str | None:
        """The TFLite builtin ``node`` runs as (one of its row's ``builtins``), or None when it has none."""
        kind, row = node.op_type, facts(node.op_type, node.domain)
        if row is None or not row.kernel or not row.builtins:
            return None
        if kind == "Conv":
            return self._conv_op(node)
        if kind == "Gemm":
            return "FULLY_CONNECTED"
        if kind == "MatMul":
            weight = node.inputs[1]
            matrix = self._name(weight) in self.constant and len(weight.shape or ()) == 2
            return "FULLY_CONNECTED" if matrix else "BATCH_MATMUL"  # a batched constant is BATCH_MATMUL's rhs
        if row.activation:
            if (name := activation_name(node)) is None:
                raise _Refused(clip_reason(node))
            return name
        if kind == "Resize":
            mode = node.attributes.get("mode")
            return "RESIZE_BILINEAR" if mode is not None and mode.value == "linear" else "RESIZE_NEAREST_NEIGHBOR"
        return row.builtins[0]

    def _conv_op(self, node: ir.Node) -> str | None:
        group = node.attributes.get("group")
        groups = int(group.value) if group is not None else 1
        if groups == 1:
            return "CONV_2D"
        x, w = node.inputs[0], node.inputs[1]
        in_channels = int(x.shape[1]) if x.shape is not None and len(x.shape) > 1 else -1
        out_channels = int(w.shape[0]) if w.shape is not None else -1
        if groups == in_channels and out_channels % groups == 0:
            return "DEPTHWISE_CONV_2D"
        # TFLM's CONV_2D runs groups itself: its filter holds in_channels / groups input channels.
        return "CONV_2D" if in_channels % groups == 0 and out_channels % groups == 0 else None

    def _sole_reader(self, value: ir.Value, op_types: tuple[str, ...]) -> ir.Node | None:
        """The node reading ``value`` when it is the only reader, of one of ``op_types``, and value is internal."""
        if value.is_graph_output():
            return None
        uses = list(value.uses())
        if len(uses) != 1 or uses[0].node.op_type not in op_types:
            return None
        return uses[0].node

    def _is_layout_transpose(self, node: ir.Node) -> bool:
        if node.op_type not in ("Transpose", "Reshape") or node.outputs[0].is_graph_output():
            return False
        if node.op_type == "Reshape":
            return self._is_layout_reshape(node)
        perm = node.attributes.get("perm")
        perm = list(perm.value) if perm is not None else []
        x = node.inputs[0]
        if perm == [0, 3, 1, 2] and x.is_graph_input():
            return True  # tf2onnx's NHWC model input: the exporter keeps the input NHWC
        shape = list(x.shape) if x.shape is not None else []
        if len(shape) != 4 or perm not in ([0, 2, 3, 1], [0, 3, 1, 2]):
            return False
        spatial = shape[2:4] if perm == [0, 2, 3, 1] else shape[1:3]
        readers = [u.node.op_type for u in node.outputs[0].uses()]
        return spatial == [1, 1] and bool(readers) and all(r in ("Reshape", "Flatten") for r in readers)

    def _is_layout_reshape(self, node: ir.Node) -> bool:
        """tf2onnx writes the NHWC->NCHW input Transpose as a Reshape when it moves only a size-1 dim."""
        x, out = node.inputs[0], node.outputs[0]
        if not x.is_graph_input() or x.shape is None or out.shape is None or len(x.shape) != 4:
            return False
        n, h, w, c = (int(d) for d in x.shape)
        return [int(d) for d in out.shape] == [n, c, h, w] and (c == 1 or h * w == 1)

    def _is_qdq_pair(self, node: ir.Node) -> bool:
        out = node.outputs[0]
        uses = list(out.uses())
        return not out.is_graph_output() and bool(uses) and all(
            u.node.op_type == "DequantizeLinear" and u.idx == 0 for u in uses
        )

    # --- emission -------------------------------------------------------------------------------------------

    def _name(self, value: ir.Value) -> str:
        name = value.name
        while name in self.alias:
            name = self.alias[name]
        return name

    def _alias(self, out: ir.Value, source: ir.Value) -> None:
        self.alias[out.name] = self._name(source)

    def _kernel_name(self, node: ir.Node) -> str:
        base = node.name or f"{node.op_type}_{len(self.kernels)}"
        name, i = base, 1
        while name in self.names:
            name, i = f"{base}_{i}", i + 1
        self.names.add(name)
        return name

    def _emit(self, node: ir.Node, op: str, inputs: list[str], outputs: list[str], nodes: tuple[str, ...],
              name: str | None = None, activation: str = "NONE") -> None:
        if op == "QUANTIZE":
            self.float_io.update(inputs[:1])
        if op == "DEQUANTIZE":
            self.float_io.update(outputs[:1])
        if op in _WITH_BIAS and len(inputs) > 2:
            self.bias.add(inputs[2])
        name = name or self._kernel_name(node)
        if op in ("MEAN", "REDUCE_MAX"):
            self.axis_count[name] = _reduce_axis_count(node)
        self.kernels.append(Kernel(name, op, tuple(inputs), tuple(outputs), nodes, activation=activation))

    def _concat_chain(self, node: ir.Node, inputs: list[ir.Value]) -> None:
        """TFLM concatenates at most 10 inputs: 10, then (previous part + 9 more), ... until all are joined."""
        axis = int(node.attributes["axis"].value)
        out = node.outputs[0]
        rank = len(out.shape)
        axis %= rank
        names = [self._name(v) for v in inputs]
        shapes = [tuple(int(d) for d in v.shape) for v in inputs]
        base = self._kernel_name(node)
        self.absorbed.add(id(node))
        chunk, rest = names[:MAX_CONCAT_INPUTS], names[MAX_CONCAT_INPUTS:]
        width = sum(s[axis] for s in shapes[:MAX_CONCAT_INPUTS])
        done = MAX_CONCAT_INPUTS
        part = 0
        while rest:
            tmp = f"{out.name}/part{part}"
            shape = list(shapes[0])
            shape[axis] = width
            self.extra[tmp] = TensorInfo(tmp, tuple(shape), self._itemsize(out))
            self._emit(node, "CONCATENATION", chunk, [tmp], (node.name,), name=f"{base}/part{part}")
            take = MAX_CONCAT_INPUTS - 1
            chunk, rest = [tmp, *rest[:take]], rest[take:]
            width += sum(s[axis] for s in shapes[done:done + take])
            done += take
            part += 1
        self._emit(node, "CONCATENATION", chunk, [out.name], (node.name,), name=base)

    def _itemsize(self, value: ir.Value) -> int:
        dt = value.dtype
        if dt is None:
            raise ShapeError(f"value '{value.name}' has no dtype; load the model with mcugraph.load first")
        if dt.is_floating_point():
            return 1 if self.dtype == "int8" else 4
        if dt in (ir.DataType.INT64, ir.DataType.UINT64):
            return 4  # TFLite has no int64 activations: exporters write int32
        return max(1, math.ceil(dt.itemsize))

    def _info(self, value: ir.Value) -> TensorInfo:
        name = self._name(value)
        if value.shape is None or not all(isinstance(d, int) for d in value.shape):
            raise ShapeError(
                f"value '{value.name}' has no static shape ({value.shape}); load the model with mcugraph.load "
                "(and --input-shape for dynamic inputs) first"
            )
        itemsize = self._itemsize(value)
        if name in self.float_io and value.dtype is not None and value.dtype.is_floating_point():
            itemsize = 4
        if name in self.bias and self.dtype == "int8":
            itemsize = 4
        return TensorInfo(name, tuple(int(d) for d in value.shape), itemsize, name in self.constant)

    def _graph(self) -> KernelGraph:
        values: dict[str, ir.Value] = {}
        for v in self.graph.inputs:
            values.setdefault(v.name, v)
        for v in self.graph.initializers.values():
            values.setdefault(v.name, v)
        for node in self.graph:
            for v in (*node.inputs, *node.outputs):
                if v is not None:
                    values.setdefault(v.name, v)
        tensors: dict[str, TensorInfo] = {}

        def add(name: str) -> None:
            if name in tensors:
                return
            tensors[name] = self.extra[name] if name in self.extra else self._info(values[name])

        graph_inputs = tuple(dict.fromkeys(self._name(v) for v in self.graph.inputs if v.name not in self.constant))
        for t in graph_inputs:
            add(t)
        for k in self.kernels:
            for t in (*k.inputs, *k.outputs):
                add(t)
        graph_outputs = tuple(self._name(v) for v in self.graph.outputs)
        for t in graph_outputs:
            add(t)
        kernels = tuple(
            dataclasses.replace(k, scratch_bytes=scratch_bytes(
                k.op, tensors[k.inputs[0]] if k.inputs else None, tensors[k.outputs[0]] if k.outputs else None,
                self.axis_count.get(k.name, 0), integer=self.dtype == "int8",
            ))
            for k in self.kernels
        )
        return KernelGraph(tensors, kernels, graph_inputs, graph_outputs)


class _Refused(Exception):
    """A node the kernel view cannot turn into a TFLM kernel; ``reason`` says why (collected into one error)."""

    def __init__(self, why: str):
        super().__init__(why)
        self.reason = why


def _reduce_axis_count(node: ir.Node) -> int:
    """How many distinct axes the exporter writes into a reduction's axes tensor (as ``lower_pool`` does)."""
    rank = len(node.inputs[0].shape or ())
    if node.op_type.startswith("Global"):
        return max(rank - 2, 0)
    if len(node.inputs) > 1 and node.inputs[1] is not None and node.inputs[1].const_value is not None:
        axes = [int(a) for a in node.inputs[1].const_value.numpy().reshape(-1)]
    elif (attr := node.attributes.get("axes")) is not None:
        axes = [int(a) for a in attr.as_ints()]
    else:
        axes = list(range(rank))
    axes = axes or list(range(rank))  # empty axes reduce every axis (noop_with_empty_axes=1 is refused)
    return len({a % rank for a in axes}) if rank else 0

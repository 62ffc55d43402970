"""Write an onnx-ir model as a TFLite flatbuffer for TFLite Micro: float32, or int8 with given activation ranges.

Layouts follow ``mcugraph.export.layout`` (NHWC activations, OHWI / 1HWO weights, no runtime TRANSPOSE in conv
nets); int8 follows the TFLite quantisation spec (``mcugraph.export.quant_params``), with the parameter constraints
of TFLM's kernels enforced by ``mcugraph.export.lower.resolve_params``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import onnx_ir as ir

from mcugraph.errors import ExportError
from mcugraph.export import layout
from mcugraph.export.context import Lowering
from mcugraph.export.flatbuffer import FlatModel
from mcugraph.export.lower import (
    LOWERINGS,
    SAME_PARAMS,
    Step,
    check_supported,
    resolve_params,
    same_param_inputs,
    steps,
)
from mcugraph.export.quant_params import QuantParam
from mcugraph.export.tflm_limits import check_int8_limits
from mcugraph.tflite.file_layout import FileLayout, pack_traced
from mcugraph.tflite.offline_plan import write_offline_plan

INPUT_LAYOUTS = ("nhwc", "nchw")
IO_DTYPES = ("int8", "float32")


@dataclasses.dataclass(frozen=True)
class ExportResult:
    data: bytes  # the .tflite flatbuffer
    tensor_index: dict[str, int]  # ONNX value name -> TFLite tensor index holding it (at the model's dtype)
    kernel_order: tuple[str, ...]  # kernel names in the order their operators were written
    # Per graph input / output: the TFLite tensor is the ONNX value transposed by this permutation (NHWC = 0,2,3,1).
    input_perms: tuple[tuple[int, ...], ...] = ()
    output_perms: tuple[tuple[int, ...], ...] = ()
    # The name each tensor was built with (written to the file only with keep_names): "<node>/weights", ...
    tensor_names: tuple[str, ...] = ()
    # The file's byte layout, replayable with other lengths of every constant tensor's buffer (key ("buffer", i))
    # and of its per-channel quantisation arrays (("scale", tensor), ("zero_point", tensor)): flash per width.
    layout: FileLayout | None = None


def export_tflite(
    model: ir.Model,
    *,
    activations: dict[str, QuantParam] | None,
    order: Sequence[str] | None = None,
    offline_offsets: dict[str, int] | None = None,
    io_dtype: str = "int8",
    input_layout: str = "nhwc",
    keep_names: bool = False,
) -> ExportResult:
    """The model as TFLite: float32 when ``activations`` is None, else int8 with those per-value parameters.

    ``order``: kernel names (``mcugraph.memory.kernel_view``) in the execution order to write (default: stored).
    ``offline_offsets``: value name -> arena offset in bytes, written as ``OfflineMemoryAllocation`` metadata so
    TFLM uses that plan. ``io_dtype="float32"`` on an int8 model adds QUANTIZE after the inputs and DEQUANTIZE
    before the outputs. ``input_layout``: "nhwc" (default) makes rank-4 inputs NHWC, what TFLM applications feed;
    "nchw" keeps the ONNX input shape and adds one TRANSPOSE after the input. Rank-4 outputs are NHWC.
    ``keep_names``: write tensor names, the subgraph's name and the model description; TFLM and LiteRT read none of
    them, so by default the file leaves them out (see :func:`_lean`).
    Raises UnsupportedOpError (listing every unsupported node) before anything is built.
    """
    if input_layout not in INPUT_LAYOUTS:
        raise ExportError(f"input_layout must be one of {INPUT_LAYOUTS}, got '{input_layout}'")
    if io_dtype not in IO_DTYPES:
        raise ExportError(f"io_dtype must be one of {IO_DTYPES}, got '{io_dtype}'")
    edges = _FloatEdges(model, order, enabled=activations is not None and io_dtype == "float32")
    plan, kernel_order = steps(model, edges.order)
    check_supported(plan)
    params = resolve_params(model, plan, activations) if activations is not None else None
    fm = FlatModel()
    cx = Lowering(fm, params)
    inputs = [_graph_input(cx, v, input_layout, edges) for v in model.graph.inputs]
    lowered: set[int] = set()
    aliases = {id(step.node): step for step in plan if not step.kernel}

    def lower(step: Step) -> None:
        if id(step) in lowered:
            return
        lowered.add(id(step))
        outer, cx.step = cx.step, step
        try:
            if params is not None and step.node.op_type in SAME_PARAMS and step.node.op_type != "Concat":
                _requantize_inputs(cx, step, params[step.out.name])  # Concat requantises per chain part
            LOWERINGS[step.node.op_type](cx, step.node, step.out, step.act)
        except ExportError:
            raise
        except Exception as e:  # a bug or an unforeseen attribute: name the node, keep the cause
            raise ExportError(f"exporting node '{step.name}' ({step.node.op_type}) failed: {e}") from e
        finally:
            cx.step = outer

    def lower_alias_of(value: ir.Value) -> None:
        step = aliases.get(id(value.producer()))
        if step is not None:
            lower(step)

    cx.on_missing = lower_alias_of
    edges.write(cx, None)
    for step in plan:
        lower(step)
        if step.kernel:
            edges.write(cx, step.name)
    outputs = [_graph_output(cx, v, edges) for v in model.graph.outputs]
    tensor_index = {**cx.first_index, **edges.tensor_index}
    if edges.enabled and order is not None:
        kernel_order = tuple(order)
    tflite = fm.finish(inputs, outputs)
    if params is not None:
        check_int8_limits(tflite)
    if offline_offsets is not None:
        write_offline_plan(tflite, _offsets_per_tensor(len(fm.tensors), tensor_index, offline_offsets))
    input_perms = tuple(_input_perm(v, input_layout) for v in model.graph.inputs)
    output_perms = tuple(layout.output_perm(v) for v in model.graph.outputs)
    names = tuple(str(t.name) for t in fm.tensors)
    _unshare_width_dependent(tflite, model)
    data, file_layout = _pack(tflite, keep_names)
    return ExportResult(data, tensor_index, kernel_order, input_perms, output_perms, names, file_layout)


def _pack(tflite, keep_names: bool) -> tuple[bytes, FileLayout]:
    """The file, lean unless ``keep_names``, and its layout with every constant's data and per-channel arrays
    marked."""
    shared = _lean(tflite, keep_names)
    tensors = tflite.subgraphs[0].tensors
    buffers = {t.buffer: ("buffer", t.buffer) for t in tensors if t.buffer and tflite.buffers[t.buffer].data is not None}
    marked = {}
    for i, t in enumerate(tensors):
        q = t.quantization
        if t.buffer in buffers and q is not None and q.scale is not None and len(q.scale) > 1:
            marked.setdefault(id(q.scale), ("scale", i))
            marked.setdefault(id(q.zeroPoint), ("zero_point", i))
    return pack_traced(tflite, marked, buffers, shared)


def _lean(tflite, keep_names: bool) -> frozenset[int]:
    """Leave out what TFLM does not read; returns the ids of arrays written once for several tensors.

    - Names (tensors, subgraph) and the model description, unless ``keep_names``: TFLM and LiteRT run without them;
      mcugraph's own tools name a nameless tensor by its index (``mcugraph.memory.tflite_graph.tensor_names``).
    - The zero points of a layer's weights and bias, all 0 and one per output channel for both: one array in the
      file, which both tensors point to (flatbuffers allows it; LiteRT needs as many zero points as
      scales, so they cannot be cut to one).
    """
    if not keep_names:
        tflite.description = None
        for sub in tflite.subgraphs:
            sub.name = None
            for t in sub.tensors:
                t.name = None
    shared: set[int] = set()
    sub = tflite.subgraphs[0]
    for op in sub.operators:
        first: dict[int, np.ndarray] = {}
        for index in op.inputs:
            t = sub.tensors[index] if index >= 0 else None
            q = t.quantization if t is not None and t.buffer else None
            if q is None or q.zeroPoint is None or np.any(q.zeroPoint):
                continue
            n = len(q.zeroPoint)
            if n in first and q.zeroPoint is not first[n]:
                q.zeroPoint = first[n]
                shared.add(id(first[n]))
            first.setdefault(n, q.zeroPoint)
    return frozenset(shared)


# Constants whose values never depend on channel counts (spatial paddings, permutations, reduction axes, sizes).
_FIXED_CONSTANTS = frozenset({"perm", "paddings", "axes", "axis", "size", "pad_value"})


def _unshare_width_dependent(tflite, model: ir.Model) -> None:
    """Give a constant its own buffer unless what it shares is equal at every channel count.

    Equal constants share one buffer, but many are equal by accident of the widths: a weight with one element per
    channel quantises to +-127, the zero biases of untrained BatchNorms are equal at equal widths, a RESHAPE's
    [1, 2] equals a MEAN's axes [1, 2] when 2 channels are left. Shared so, pruning would change the file's
    structure with the widths, and the flash ``mcugraph.prune.resources`` predicts per width would not be the file's.
    Sharing stays between the constants of layers that read one ONNX weight (an unrolled RNN's R at every step)
    and between constants of one fixed kind (every TRANSPOSE's [0, 2, 3, 1]).
    """
    weight_of = {n.name: n.inputs[1].name for n in model.graph if len(n.inputs) > 1 and n.inputs[1] is not None}

    def source(t) -> str | None:
        name = str(t.name)
        base, _, role = name.rpartition("/")
        if role in ("weights", "bias"):
            return f"{weight_of.get(base, base)}/{role}"
        kind = name.rsplit("#", 1)[0]
        return kind if kind in _FIXED_CONSTANTS else None

    # Renumber in tensor order (as the exporter numbers them when nothing is shared), metadata buffers last: the
    # file's layout then does not depend on which constants happened to be equal.
    old = tflite.buffers
    buffers, kept = [old[0]], {}  # kept: (old buffer, source) -> new index
    for t in tflite.subgraphs[0].tensors:
        if not t.buffer:
            continue
        key = (t.buffer, source(t) or id(t))
        if key not in kept:
            first = next((k for k in kept if k[0] == t.buffer), None)
            buffer = old[t.buffer]
            if first is not None:  # a second source of the same bytes: its own copy
                buffer = type(buffer)()
                buffer.data = np.array(old[t.buffer].data, copy=True)
            buffers.append(buffer)
            kept[key] = len(buffers) - 1
        t.buffer = kept[key]
    for entry in tflite.metadata or []:
        buffers.append(old[entry.buffer])
        entry.buffer = len(buffers) - 1
    tflite.buffers = buffers


def _requantize_inputs(cx: Lowering, step, param: QuantParam) -> None:
    """A source whose parameters TFLM fixes (a softmax output) entering a code-copying op that needs other
    parameters is read through a QUANTIZE (int8 -> int8) copy from then on (``tensor_index`` keeps the original)."""
    for value in same_param_inputs(step.node):
        slot = cx.slot(value)
        index = cx.requantized(slot.index, param, value.name)
        if index != slot.index:
            cx.slots[value.name] = dataclasses.replace(slot, index=index)


def _input_perm(value: ir.Value, input_layout: str) -> tuple[int, ...]:
    rank = len(value.shape)
    # A rank-4 input read only in ONNX order (by a reshape, a MatMul...) stays so: an NHWC input would need a
    # TRANSPOSE before its first reader, which the kernel view does not model.
    if rank == 4 and input_layout == "nhwc" and not layout.input_is_nhwc(value) and layout.value_perm(value) == layout.NHWC:
        return layout.NHWC
    return layout.identity(rank)


class _FloatEdges:
    """``io_dtype="float32"`` on an int8 model: the QUANTIZE after each input and the DEQUANTIZE before each output
    that the kernel view adds (``mcugraph.memory.kernel_view.float_edges``), each written where ``order`` puts it,
    so that an arena plan made for that order holds; without an order, QUANTIZEs first and DEQUANTIZEs last."""

    def __init__(self, model: ir.Model, order: Sequence[str] | None, enabled: bool):
        self.enabled = enabled
        self.after: dict[str | None, list[str]] = {}  # kernel written just before (None: none) -> edge kernels
        self.quantize: dict[str, tuple[int, int]] = {}  # edge kernel -> (float input index, int8 index)
        self.outputs = {f"{v.name}/dequantize": v for v in model.graph.outputs} if enabled else {}
        self.output_index: dict[str, int] = {}  # graph output name -> its float TFLite tensor
        self.tensor_index: dict[str, int] = {}  # "<value>/float" -> TFLite tensor index
        self.order = order
        self.placed: set[str] = set()  # edge kernels the order names (the others: QUANTIZE first, DEQUANTIZE last)
        if not enabled or order is None:
            return
        from mcugraph.memory.kernel_view import float_edges, kernel_view

        names = {k.name for k in float_edges(kernel_view(model, "int8", io_dtype="float32"))}
        previous = None
        for name in order:
            if name in names:
                self.after.setdefault(previous, []).append(name)
                self.placed.add(name)
            else:
                previous = name
        self.order = [n for n in order if n not in names]

    def graph_input(self, cx: Lowering, value: ir.Value, index: int, shape: Sequence[int]) -> int:
        outer = cx.fm.tensor(f"{value.name}/float", shape, np.float32)
        self.quantize[f"{value.name}/quantize"] = (outer, index)
        self.tensor_index[f"{value.name}/float"] = outer
        if f"{value.name}/quantize" not in self.placed:  # not scheduled: straight after the inputs
            self.after.setdefault(None, []).append(f"{value.name}/quantize")
        return outer

    def write(self, cx: Lowering, after: str | None) -> None:
        """Write the edge operators the order puts right after kernel ``after`` (None: before the first kernel)."""
        for name in self.after.pop(after, []):
            if name in self.quantize:
                outer, index = self.quantize.pop(name)
                cx.fm.op("QUANTIZE", [outer], [index])
            else:
                self._dequantize(cx, self.outputs[name])

    def graph_output(self, cx: Lowering, value: ir.Value) -> int:
        """The float output tensor; its DEQUANTIZE is written now unless the order already placed it."""
        if value.name not in self.output_index:
            self._dequantize(cx, value)
        return self.output_index[value.name]

    def _dequantize(self, cx: Lowering, value: ir.Value) -> None:
        index = cx.input(value, layout.output_perm(value))  # rank 4: NHWC unless a reshape writes it
        shape = [int(d) for d in cx.fm.tensors[index].shape]
        outer = cx.fm.tensor(f"{value.name}/float", shape, np.float32)
        cx.fm.op("DEQUANTIZE", [index], [outer])
        self.output_index[value.name] = outer
        self.tensor_index[f"{value.name}/float"] = outer


def _graph_input(cx: Lowering, value: ir.Value, input_layout: str, edges: _FloatEdges) -> int:
    perm = _input_perm(value, input_layout)
    index = cx.output(value, perm)
    if not edges.enabled:
        return index
    return edges.graph_input(cx, value, index, layout.permute_shape(value.shape, perm))


def _graph_output(cx: Lowering, value: ir.Value, edges: _FloatEdges) -> int:
    if edges.enabled:
        return edges.graph_output(cx, value)
    return cx.input(value, layout.output_perm(value))  # rank 4: NHWC unless a reshape writes it


def _offsets_per_tensor(count: int, tensor_index: dict[str, int], offsets: dict[str, int]) -> list[int]:
    """One offset per TFLite tensor; tensors no ONNX value names (and constants) stay -1: TFLM plans them."""
    words = [-1] * count
    for name, offset in offsets.items():
        if name not in tensor_index:
            raise ExportError(
                f"offline_offsets names '{name}', which is not a value of the exported model; "
                "plan the kernel graph of this same model"
            )
        words[tensor_index[name]] = int(offset)
    return words


__all__ = ["ExportResult", "export_tflite"]

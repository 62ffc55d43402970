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
from mcugraph.tflite.offline_plan import write_offline_plan
from mcugraph.tflite.schema import pack

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


def export_tflite(
    model: ir.Model,
    *,
    activations: dict[str, QuantParam] | None,
    order: Sequence[str] | None = None,
    offline_offsets: dict[str, int] | None = None,
    io_dtype: str = "int8",
    input_layout: str = "nhwc",
) -> ExportResult:
    """The model as TFLite: float32 when ``activations`` is None, else int8 with those per-value parameters.

    ``order``: kernel names (``mcugraph.memory.kernel_view``) in the execution order to write (default: stored).
    ``offline_offsets``: value name -> arena offset in bytes, written as ``OfflineMemoryAllocation`` metadata so
    TFLM uses that plan. ``io_dtype="float32"`` on an int8 model adds QUANTIZE after the inputs and DEQUANTIZE
    before the outputs. ``input_layout``: "nhwc" (default) makes rank-4 inputs NHWC, what TFLM applications feed;
    "nchw" keeps the ONNX input shape and adds one TRANSPOSE after the input. Rank-4 outputs are NHWC.
    Raises UnsupportedOpError (listing every unsupported node) before anything is built.
    """
    if input_layout not in INPUT_LAYOUTS:
        raise ExportError(f"input_layout must be one of {INPUT_LAYOUTS}, got '{input_layout}'")
    if io_dtype not in IO_DTYPES:
        raise ExportError(f"io_dtype must be one of {IO_DTYPES}, got '{io_dtype}'")
    plan, kernel_order = steps(model, order)
    check_supported(plan)
    params = resolve_params(model, plan, activations) if activations is not None else None
    fm = FlatModel()
    cx = Lowering(fm, params)
    inputs = [_graph_input(cx, v, input_layout, io_dtype) for v in model.graph.inputs]
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
    for step in plan:
        lower(step)
    outputs = [_graph_output(cx, v, io_dtype) for v in model.graph.outputs]
    tensor_index = dict(cx.first_index)
    tflite = fm.finish(inputs, outputs)
    if offline_offsets is not None:
        write_offline_plan(tflite, _offsets_per_tensor(len(fm.tensors), tensor_index, offline_offsets))
    input_perms = tuple(_input_perm(v, input_layout) for v in model.graph.inputs)
    output_perms = tuple(layout.default_perm(len(v.shape)) for v in model.graph.outputs)
    return ExportResult(pack(tflite), tensor_index, kernel_order, input_perms, output_perms)


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
    if rank == 4 and input_layout == "nhwc" and not layout.input_is_nhwc(value):
        return layout.NHWC
    return layout.identity(rank)


def _graph_input(cx: Lowering, value: ir.Value, input_layout: str, io_dtype: str) -> int:
    perm = _input_perm(value, input_layout)
    index = cx.output(value, perm)
    if not cx.int8 or io_dtype == "int8":
        return index
    shape = layout.permute_shape(value.shape, perm)
    outer = cx.fm.tensor(f"{value.name}/float", shape, np.float32)
    cx.fm.op("QUANTIZE", [outer], [index])
    return outer


def _graph_output(cx: Lowering, value: ir.Value, io_dtype: str) -> int:
    index = cx.input(value, layout.default_perm(len(value.shape)))  # rank 4: NHWC, else ONNX order
    if not cx.int8 or io_dtype == "int8":
        return index
    shape = [int(d) for d in cx.fm.tensors[index].shape]
    outer = cx.fm.tensor(f"{value.name}/float", shape, np.float32)
    cx.fm.op("DEQUANTIZE", [index], [outer])
    return outer


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

"""The state one export shares between lowering functions: ONNX value -> TFLite tensor (and its layout).

A lowering function reads its inputs with :meth:`Lowering.input` (a tensor index in the layout it asks for; a
TRANSPOSE is emitted only when the value is stored differently), reads weights with :meth:`Lowering.const`, and
creates its result with :meth:`Lowering.output`. In int8 mode every activation tensor carries the parameters
resolved by ``mcugraph.export.lower.resolve_params``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import onnx_ir as ir

from mcugraph.errors import ExportError
from mcugraph.export import layout
from mcugraph.export.flatbuffer import FlatModel
from mcugraph.export.quant_params import QuantParam, param_from_range, quantize
from mcugraph.ops.attributes import const_array
from mcugraph.tflite.schema import schema


@dataclasses.dataclass
class Slot:
    """Where an ONNX value lives: TFLite tensor ``index`` holding ``onnx_value.transpose(perm)``."""

    index: int
    perm: tuple[int, ...]
    # Set on a (1, H*W*C) flatten of an NHWC tensor: column j holds ONNX feature feature_order[j].
    feature_order: np.ndarray | None = None


class Lowering:
    def __init__(self, fm: FlatModel, params: dict[str, QuantParam] | None):
        self.fm = fm
        self.params = params  # None: float32 export
        self.slots: dict[str, Slot] = {}
        self.first_index: dict[str, int] = {}  # name -> the tensor that first held it (before any requantised copy)
        self._layouts: dict[tuple[int, tuple[int, ...]], int] = {}  # (tensor, perm) -> transposed copy
        self._counter = 0
        self.step = None  # the mcugraph.export.lower.Step being lowered (its absorbed affine, kernel or alias)
        self.on_missing = None  # called with a value read before it exists (an alias lowered on demand)

    @property
    def int8(self) -> bool:
        return self.params is not None

    @property
    def dtype(self) -> type:
        return np.int8 if self.int8 else np.float32

    def fresh(self, base: str) -> str:
        self._counter += 1
        return f"{base}#{self._counter}"

    # ----- reading values -----

    const = staticmethod(const_array)  # the op table's reader: one definition of "constant" for every stage

    def slot(self, value: ir.Value) -> Slot:
        if value.name not in self.slots and self.on_missing is not None:
            self.on_missing(value)
        if value.name not in self.slots:
            raise ExportError(f"value '{value.name}' is used before it is computed; the kernel order is invalid")
        return self.slots[value.name]

    def param(self, name: str) -> QuantParam:
        assert self.params is not None
        if name not in self.params:
            raise ExportError(
                f"no int8 quantisation parameters for value '{name}'; calibrate the model (activations=) "
                "so that every activation has a range"
            )
        return self.params[name]

    def quant(self, name: str) -> tuple[np.ndarray, np.ndarray, int] | None:
        if not self.int8:
            return None
        p = self.param(name)
        return np.array([p.scale]), np.array([p.zero_point]), 0

    def input(self, value: ir.Value, perm: Sequence[int] | None = None) -> int:
        """Tensor index of ``value`` laid out as ``perm`` (default: the layout it is stored in)."""
        slot = self.slot(value)
        perm = tuple(perm) if perm is not None else slot.perm
        if slot.feature_order is not None and not layout.is_identity(slot.feature_order):
            raise ExportError(
                f"value '{value.name}' is a flattened NHWC tensor in TFLite feature order; only Gemm/MatMul "
                "can read it (this is an exporter bug if you see it)"
            )
        if perm == slot.perm:
            return slot.index
        key = (slot.index, perm)
        if key not in self._layouts:
            tfl_perm = layout.transpose_between(slot.perm, perm)
            shape = layout.permute_shape(value.shape, perm)
            out = self.temp(value.name, shape, self.tensor_param(slot.index))
            self.op_transpose(slot.index, out, tfl_perm)
            self._layouts[key] = out
        return self._layouts[key]

    # ----- creating tensors -----

    def output(
        self, value: ir.Value, perm: Sequence[int] | None = None, feature_order: np.ndarray | None = None
    ) -> int:
        """Create the activation tensor of ``value`` (shape permuted by ``perm``, default by its rank)."""
        perm = tuple(perm) if perm is not None else layout.default_perm(len(value.shape))
        shape = layout.permute_shape(value.shape, perm)
        index = self.fm.tensor(value.name, shape, self.dtype, quant=self.quant(value.name))
        self.slots[value.name] = Slot(index, perm, feature_order)
        self.first_index.setdefault(value.name, index)
        return index

    def alias(self, value: ir.Value, slot: Slot) -> None:
        """``value`` is the same data as an existing tensor (a layout-only Transpose, an Identity)."""
        self.slots[value.name] = slot
        self.first_index.setdefault(value.name, slot.index)

    def temp(self, base: str, shape: Sequence[int], param: QuantParam | None) -> int:
        """An intermediate activation tensor no ONNX value names (``param`` ignored in float mode)."""
        quant = None
        if self.int8 and param is not None:
            quant = (np.array([param.scale]), np.array([param.zero_point]), 0)
        return self.fm.tensor(self.fresh(base), shape, self.dtype, quant=quant)

    def named(self, name: str, shape: Sequence[int], param: QuantParam | None, perm: tuple[int, ...]) -> int:
        """A tensor the kernel view names but no ONNX value does (``<kernel>/pad``, ``<output>/part<i>``)."""
        index = self.temp(name, shape, param)
        self.fm.tensors[index].name = name
        self.slots[name] = Slot(index, perm)
        self.first_index.setdefault(name, index)
        return index

    def int32(self, base: str, values: Sequence[int] | np.ndarray) -> int:
        array = np.asarray(values, dtype=np.int32)
        return self.fm.tensor(self.fresh(base), array.shape, np.int32, data=array)

    def float_const(self, base: str, array: np.ndarray, param: QuantParam | None = None) -> int:
        """A constant activation-like operand (ADD/MUL/CONCAT input): float32, or int8 per-tensor."""
        array = np.asarray(array, dtype=np.float32)
        if not self.int8:
            return self.fm.tensor(self.fresh(base), array.shape, np.float32, data=array)
        if param is None:
            param = param_from_range(float(array.min(initial=0.0)), float(array.max(initial=0.0)))
        quant = (np.array([param.scale]), np.array([param.zero_point]), 0)
        return self.fm.tensor(self.fresh(base), array.shape, np.int8, data=quantize(array, param), quant=quant)

    def tensor_param(self, index: int) -> QuantParam | None:
        q = self.fm.tensors[index].quantization
        if q is None or q.scale is None:
            return None
        return QuantParam(float(q.scale[0]), int(q.zeroPoint[0]))

    def requantized(self, index: int, param: QuantParam, base: str) -> int:
        """``index`` itself when it already has ``param``, else a QUANTIZE (int8 -> int8) copy that has it."""
        have = self.tensor_param(index)
        # Compare as stored: the flatbuffer holds float32 scales.
        if not self.int8 or (have.zero_point == param.zero_point and np.float32(have.scale) == np.float32(param.scale)):
            return index
        shape = [int(d) for d in self.fm.tensors[index].shape]
        out = self.temp(base + "/requant", shape, param)
        self.fm.op("QUANTIZE", [index], [out])
        return out

    # ----- common ops -----

    def op_transpose(self, src: int, dst: int, perm: Sequence[int]) -> None:
        self.fm.op("TRANSPOSE", [src, self.int32("perm", perm)], [dst], schema.TransposeOptionsT())

    def op_reshape(self, src: int, dst: int) -> None:
        shape = [int(d) for d in self.fm.tensors[dst].shape]
        options = schema.ReshapeOptionsT()
        options.newShape = shape
        self.fm.op("RESHAPE", [src, self.int32("shape", shape)], [dst], options)

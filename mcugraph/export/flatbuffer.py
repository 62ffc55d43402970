"""A TFLite flatbuffer under construction: buffers, tensors, operator codes and operators of one subgraph.

Thin on purpose: it knows the schema (dtypes, option classes, the empty buffer 0), not ONNX or layouts; the lowering
(``mcugraph.export.lower``) decides what to add.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mcugraph.tflite.schema import schema

TENSOR_TYPES = {
    np.dtype(np.float32): schema.TensorType.FLOAT32,
    np.dtype(np.int8): schema.TensorType.INT8,
    np.dtype(np.int32): schema.TensorType.INT32,
    np.dtype(np.int64): schema.TensorType.INT64,
    np.dtype(np.uint8): schema.TensorType.UINT8,
}

ACTIVATIONS = {
    "NONE": schema.ActivationFunctionType.NONE,
    "RELU": schema.ActivationFunctionType.RELU,
    "RELU6": schema.ActivationFunctionType.RELU6,
    "RELU_N1_TO_1": schema.ActivationFunctionType.RELU_N1_TO_1,
}


class _AlignedBufferT(schema.BufferT):
    """A buffer whose data starts on a 16-byte boundary, as the TFLite converter writes them: TFLM reads weights in
    place from flash, and Cortex-M cores fault on or slow down for misaligned int32 and SIMD loads."""

    def Pack(self, builder):  # noqa: N802 - the flatbuffers object API's name
        raw = np.asarray(self.data, dtype=np.uint8).tobytes()
        builder.StartVector(1, len(raw), 16)
        builder.head -= len(raw)
        builder.Bytes[builder.head : builder.head + len(raw)] = raw
        data = builder.EndVector()
        schema.BufferStart(builder)
        schema.BufferAddData(builder, data)
        return schema.BufferEnd(builder)


class FlatModel:
    """One-subgraph TFLite model being assembled; :meth:`finish` returns the ``ModelT`` (schema version 3)."""

    def __init__(self) -> None:
        self.buffers: list[schema.BufferT] = [schema.BufferT()]  # buffer 0: "no data", as the converter writes
        self._buffer_of: dict[bytes, int] = {}  # constant bytes -> buffer index (read-only, so sharing is safe)
        self.tensors: list[schema.TensorT] = []
        self.operators: list[schema.OperatorT] = []
        self.opcodes: dict[str, int] = {}
        self.opcode_list: list[schema.OperatorCodeT] = []

    def tensor(
        self,
        name: str,
        shape: Sequence[int],
        dtype: np.dtype | type,
        data: np.ndarray | None = None,
        quant: tuple[np.ndarray, np.ndarray, int] | None = None,
    ) -> int:
        """Add a tensor (a constant when ``data`` is given); ``quant`` is (scales, zero points, quantized axis)."""
        t = schema.TensorT()
        t.name = name
        t.shape = np.asarray(list(shape), dtype=np.int32)
        t.type = TENSOR_TYPES[np.dtype(dtype)]
        if data is not None:
            array = np.ascontiguousarray(np.asarray(data, dtype=dtype).reshape(tuple(shape)))
            raw = array.tobytes()
            if raw not in self._buffer_of:  # equal constants share one buffer (an unrolled RNN's R, every step)
                buf = _AlignedBufferT()
                buf.data = np.frombuffer(raw, dtype=np.uint8)
                self.buffers.append(buf)
                self._buffer_of[raw] = len(self.buffers) - 1
            t.buffer = self._buffer_of[raw]
        if quant is not None:
            scales, zero_points, axis = quant
            q = schema.QuantizationParametersT()
            q.scale = np.asarray(scales, dtype=np.float32).ravel()
            q.zeroPoint = np.asarray(zero_points, dtype=np.int64).ravel()
            q.quantizedDimension = int(axis)
            t.quantization = q
        self.tensors.append(t)
        return len(self.tensors) - 1

    def op(self, builtin: str, inputs: Sequence[int], outputs: Sequence[int], options: object = None) -> None:
        """Add an operator; ``options`` is a ``schema.*OptionsT`` (its union type is taken from the class name)."""
        if builtin not in self.opcodes:
            code = getattr(schema.BuiltinOperator, builtin)
            opcode = schema.OperatorCodeT()
            opcode.builtinCode = code
            opcode.deprecatedBuiltinCode = min(code, 127)  # codes >= 127 live only in builtinCode
            opcode.version = 1
            self.opcodes[builtin] = len(self.opcode_list)
            self.opcode_list.append(opcode)
        o = schema.OperatorT()
        o.opcodeIndex = self.opcodes[builtin]
        o.inputs = np.asarray(list(inputs), dtype=np.int32)
        o.outputs = np.asarray(list(outputs), dtype=np.int32)
        if options is not None:
            o.builtinOptionsType = getattr(schema.BuiltinOptions, type(options).__name__[:-1])
            o.builtinOptions = options
        self.operators.append(o)

    def finish(self, inputs: Sequence[int], outputs: Sequence[int]) -> schema.ModelT:
        """The model object (pack it with ``mcugraph.tflite.schema.pack``)."""
        sub = schema.SubGraphT()
        sub.tensors = self.tensors
        sub.operators = self.operators
        sub.inputs = np.asarray(list(inputs), dtype=np.int32)
        sub.outputs = np.asarray(list(outputs), dtype=np.int32)
        sub.name = "main"
        model = schema.ModelT()
        model.version = 3
        model.description = "mcugraph"
        model.operatorCodes = self.opcode_list
        model.subgraphs = [sub]
        model.buffers = self.buffers
        return model

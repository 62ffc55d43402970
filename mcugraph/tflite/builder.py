"""Build small .tflite files by hand with the schema object API: for tests and proofs, not for export.

>>> b = TinyTflite()
>>> x = b.tensor("x", (1, 8), np.float32)
>>> y = b.tensor("y", (1, 8), np.float32)
>>> b.op("ADD", [x, x], [y])
>>> data = b.build(inputs=[x], outputs=[y])

Only the options of the few ops tests need are filled in (ADD, MUL, SUB, FULLY_CONNECTED, RESHAPE); any other
builtin gets none, which TFLM reads as its defaults.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mcugraph.tflite import schema as tfl

s = tfl.schema

_TYPES = {
    np.dtype(np.float32): s.TensorType.FLOAT32,
    np.dtype(np.int8): s.TensorType.INT8,
    np.dtype(np.uint8): s.TensorType.UINT8,
    np.dtype(np.int16): s.TensorType.INT16,
    np.dtype(np.int32): s.TensorType.INT32,
    np.dtype(np.int64): s.TensorType.INT64,
}


def _options(builtin: str):
    """(options type, options object) TFLM expects for ``builtin``, or (0, None)."""
    table = {
        "ADD": (s.BuiltinOptions.AddOptions, s.AddOptionsT),
        "MUL": (s.BuiltinOptions.MulOptions, s.MulOptionsT),
        "SUB": (s.BuiltinOptions.SubOptions, s.SubOptionsT),
        "FULLY_CONNECTED": (s.BuiltinOptions.FullyConnectedOptions, s.FullyConnectedOptionsT),
        "RESHAPE": (s.BuiltinOptions.ReshapeOptions, s.ReshapeOptionsT),
    }
    kind, cls = table.get(builtin, (0, None))
    return kind, (cls() if cls else None)


class TinyTflite:
    """A single-subgraph model under construction; :meth:`build` returns the packed bytes."""

    def __init__(self) -> None:
        self.model = s.ModelT()
        self.model.version = 3
        self.model.description = "mcugraph hand-built test model"
        self.model.buffers = [s.BufferT()]  # buffer 0: the schema's empty sentinel
        self.model.operatorCodes = []
        self.subgraph = s.SubGraphT()
        self.subgraph.tensors = []
        self.subgraph.operators = []
        self.model.subgraphs = [self.subgraph]

    def tensor(
        self,
        name: str,
        shape: Sequence[int],
        dtype=np.float32,
        data: np.ndarray | None = None,
        scale: float | None = None,
        zero_point: int = 0,
    ) -> int:
        """Add a tensor (a constant when ``data`` is given; quantized when ``scale`` is); returns its index."""
        t = s.TensorT()
        t.name = name
        t.shape = list(shape)
        t.type = _TYPES[np.dtype(dtype)]
        t.buffer = 0
        if data is not None:
            buffer = s.BufferT()
            buffer.data = np.frombuffer(np.ascontiguousarray(data, dtype=dtype).tobytes(), dtype=np.uint8).copy()
            self.model.buffers.append(buffer)
            t.buffer = len(self.model.buffers) - 1
        if scale is not None:
            q = s.QuantizationParametersT()
            q.scale = [float(scale)]
            q.zeroPoint = [int(zero_point)]
            t.quantization = q
        self.subgraph.tensors.append(t)
        return len(self.subgraph.tensors) - 1

    def op(self, builtin: str, inputs: Sequence[int], outputs: Sequence[int]) -> int:
        """Append an operator running ``builtin`` (e.g. ``"ADD"``); returns its index."""
        code = getattr(s.BuiltinOperator, builtin)
        codes = self.model.operatorCodes
        index = next((i for i, c in enumerate(codes) if tfl.opcode_builtin(c) == code), None)
        if index is None:
            c = s.OperatorCodeT()
            c.builtinCode = code
            c.deprecatedBuiltinCode = min(code, 127)  # older readers look only here; 127 = "see builtinCode"
            c.version = 1
            codes.append(c)
            index = len(codes) - 1
        op = s.OperatorT()
        op.opcodeIndex = index
        op.inputs = list(inputs)
        op.outputs = list(outputs)
        op.builtinOptionsType, op.builtinOptions = _options(builtin)
        self.subgraph.operators.append(op)
        return len(self.subgraph.operators) - 1

    def build(self, inputs: Sequence[int], outputs: Sequence[int]) -> bytes:
        self.subgraph.inputs = list(inputs)
        self.subgraph.outputs = list(outputs)
        return tfl.pack(self.model)


def peak_at_add(shape: tuple[int, ...] = (1, 16, 16, 4)) -> bytes:
    """float32 ``x -> a = x*3; c = x + a; o = c*0.5``: x, a and c are all live while the ADD runs.

    The smallest model whose peak sits at an elementwise ADD — the case in-place reuse is for (``c`` may take
    ``a``'s bytes). Used by the in-place and scheduling tests and the docs.
    """
    b = TinyTflite()
    x = b.tensor("x", shape)
    three = b.tensor("three", (1,), data=np.array([3.0], np.float32))
    half = b.tensor("half", (1,), data=np.array([0.5], np.float32))
    a, c, o = (b.tensor(n, shape) for n in "aco")
    b.op("MUL", [x, three], [a])
    b.op("ADD", [x, a], [c])
    b.op("MUL", [c, half], [o])
    return b.build([x], [o])

"""Structural checks of a parsed .tflite, run before anything reads it (:func:`mcugraph.memory.tflite_graph.read_model`).

The Python flatbuffers package has no verifier, and TFLite Micro trusts every index in the file: an operator
input pointing past the tensor list, an opcode index past the opcode table or a buffer shorter than its tensor
is read as-is (a crash in TFLM, an ``IndexError`` deep inside mcugraph, or a silently wrong analysis). So every
index and size is walked here, once: the schema version, opcode indices and builtin codes, operator and
subgraph input/output indices, tensor buffer indices, dtypes, shapes and constant data sizes, quantisation
vector lengths and values, metadata and signature indices. Reading the flatbuffer itself (``schema.read``) is pure Python and
bounded by the file size, so it fails with an exception rather than a crash; :func:`check_model` then finds
everything the reader accepted but the file cannot mean. Each problem raises one
:class:`~mcugraph.errors.InvalidModelError` naming the subgraph/operator/tensor and the bad value.
"""

from __future__ import annotations

import math

import numpy as np

from mcugraph.errors import InvalidModelError
from mcugraph.tflite import schema as tfl

SCHEMA_VERSION = 3  # TFLM refuses any other version ("Model provided is schema version ...")
MAX_RANK = 8  # TFLite kernels handle at most 6 dimensions; more is a corrupt shape vector
MAX_TENSOR_BYTES = 2**31 - 1  # arena offsets (and TFLM's offline plan) are int32

# Bytes per element, by schema.TensorType value. Sub-byte and opaque types (INT4, STRING, RESOURCE, ...) have no
# fixed per-element size in the arena, so a model using them for an activation is refused by the memory model.
ITEMSIZE = {
    tfl.schema.TensorType.FLOAT32: 4,
    tfl.schema.TensorType.FLOAT16: 2,
    tfl.schema.TensorType.BFLOAT16: 2,
    tfl.schema.TensorType.FLOAT64: 8,
    tfl.schema.TensorType.INT8: 1,
    tfl.schema.TensorType.UINT8: 1,
    tfl.schema.TensorType.BOOL: 1,
    tfl.schema.TensorType.INT16: 2,
    tfl.schema.TensorType.UINT16: 2,
    tfl.schema.TensorType.INT32: 4,
    tfl.schema.TensorType.UINT32: 4,
    tfl.schema.TensorType.INT64: 8,
    tfl.schema.TensorType.UINT64: 8,
    tfl.schema.TensorType.COMPLEX64: 8,
    tfl.schema.TensorType.COMPLEX128: 16,
}
_TENSOR_TYPES = {v for k, v in vars(tfl.schema.TensorType).items() if not k.startswith("_")}
_BUILTINS = {v for k, v in vars(tfl.schema.BuiltinOperator).items() if not k.startswith("_")}


def check_model(model: tfl.schema.ModelT, source: str = "model") -> None:
    """Raise :class:`InvalidModelError` unless every index and size in ``model`` is in range and consistent."""

    def bad(where: str, what: str) -> InvalidModelError:
        return InvalidModelError(f"{source} is a TFLite flatbuffer with a corrupt {where}: {what}; re-export it")

    if model.version != SCHEMA_VERSION:
        raise bad("header", f"schema version {model.version}, TFLite Micro reads only version {SCHEMA_VERSION}")
    buffers = model.buffers or []
    codes = model.operatorCodes or []
    for i, code in enumerate(codes):
        builtin = tfl.opcode_builtin(code)
        if builtin not in _BUILTINS:
            raise bad(f"operator code {i}", f"builtin code {builtin} does not exist")
    if not model.subgraphs:
        raise bad("header", "the model has no subgraph")
    for s, subgraph in enumerate(model.subgraphs):
        _check_subgraph(subgraph, f"subgraph {s}", len(codes), buffers, bad)
    for i, entry in enumerate(model.metadata or []):
        if not 0 <= entry.buffer < len(buffers):
            raise bad(f"metadata {i}", f"buffer index {entry.buffer} is outside 0..{len(buffers) - 1}")
    for i, signature in enumerate(model.signatureDefs or []):
        if not 0 <= signature.subgraphIndex < len(model.subgraphs):
            raise bad(f"signature {i}", f"subgraph index {signature.subgraphIndex} does not exist")
        count = len(model.subgraphs[signature.subgraphIndex].tensors or [])
        for io in [*(signature.inputs or []), *(signature.outputs or [])]:
            if not 0 <= io.tensorIndex < count:
                raise bad(f"signature {i}", f"tensor index {io.tensorIndex} is outside 0..{count - 1}")


def _check_subgraph(subgraph, where: str, code_count: int, buffers, bad) -> None:
    tensors = subgraph.tensors or []
    for t, tensor in enumerate(tensors):
        _check_tensor(tensor, f"{where} tensor {t}", buffers, bad)
    last = len(tensors) - 1
    for kind, indices in (("input", subgraph.inputs), ("output", subgraph.outputs)):
        for index in indices if indices is not None else ():
            if not 0 <= index <= last:
                raise bad(where, f"graph {kind} index {index} is outside 0..{last}")
    for o, op in enumerate(subgraph.operators or []):
        if not 0 <= op.opcodeIndex < code_count:
            raise bad(f"{where} operator {o}", f"opcode index {op.opcodeIndex} is outside 0..{code_count - 1}")
        for kind, indices in (("input", op.inputs), ("output", op.outputs), ("intermediate", op.intermediates)):
            for index in indices if indices is not None else ():
                # -1 is an omitted optional input (a conv without bias); outputs are never optional.
                lowest = -1 if kind == "input" else 0
                if not lowest <= index <= last:
                    raise bad(f"{where} operator {o}", f"{kind} tensor index {index} is outside {lowest}..{last}")


def _check_tensor(tensor, where: str, buffers, bad) -> None:
    if tensor.type not in _TENSOR_TYPES:
        raise bad(where, f"tensor type {tensor.type} does not exist")
    if not 0 <= tensor.buffer < len(buffers):
        raise bad(where, f"buffer index {tensor.buffer} is outside 0..{len(buffers) - 1}")
    shape = [int(d) for d in (tensor.shape if tensor.shape is not None else ())]
    if len(shape) > MAX_RANK:
        raise bad(where, f"shape has {len(shape)} dimensions (at most {MAX_RANK})")
    if any(d < 0 for d in shape):
        return  # dynamic: the memory model names it (tflite_graph), the byte checks below cannot apply
    itemsize = ITEMSIZE.get(tensor.type)
    count = math.prod(shape)
    if itemsize is not None and count * itemsize > MAX_TENSOR_BYTES:
        raise bad(where, f"shape {tuple(shape)} needs {count * itemsize:,} bytes (more than 2 GiB)")
    data = buffers[tensor.buffer].data
    if itemsize is not None and data is not None and len(data) and tensor.sparsity is None:
        if len(data) != count * itemsize:
            raise bad(where, f"constant data holds {len(data)} bytes but shape {tuple(shape)} needs {count * itemsize}")
    _check_quantization(tensor.quantization, tensor.type, shape, where, bad)


# Zero points the TFLite quantisation spec allows per dtype (int16 activations and int32 biases are symmetric).
_ZERO_POINTS = {
    tfl.schema.TensorType.INT8: (-128, 127),
    tfl.schema.TensorType.UINT8: (0, 255),
    tfl.schema.TensorType.INT16: (0, 0),
    tfl.schema.TensorType.INT32: (0, 0),
    tfl.schema.TensorType.INT64: (0, 0),
}


def _check_quantization(q, dtype: int, shape: list[int], where: str, bad) -> None:
    if q is None or q.scale is None or len(q.scale) == 0:
        return
    scales = len(q.scale)
    if q.zeroPoint is not None and len(q.zeroPoint) not in (0, scales):
        raise bad(where, f"{scales} quantisation scale(s) but {len(q.zeroPoint)} zero point(s)")
    scale = np.asarray(q.scale, dtype=np.float64)
    if not (np.isfinite(scale).all() and (scale > 0).all()):
        raise bad(where, f"quantisation scale {scale[~(np.isfinite(scale) & (scale > 0))][0]} is not a positive number")
    # Per-channel (per-axis) quantisation is symmetric in the TFLite spec: every zero point is 0.
    low, high = (0, 0) if scales > 1 else _ZERO_POINTS.get(dtype, (-(2**63), 2**63 - 1))
    zero_points = np.asarray(q.zeroPoint if q.zeroPoint is not None else [], dtype=np.int64)
    if zero_points.size and not ((zero_points >= low) & (zero_points <= high)).all():
        wrong = int(zero_points[(zero_points < low) | (zero_points > high)][0])
        raise bad(where, f"zero point {wrong} is outside {low}..{high} for its dtype")
    if scales > 1:
        axis = q.quantizedDimension
        if not 0 <= axis < len(shape) or shape[axis] != scales:
            raise bad(where, f"{scales} per-channel scales on axis {axis} of shape {tuple(shape)}")

"""Read a .tflite file as a :class:`~mcugraph.kernel_graph.KernelGraph`: the memory model of what TFLM will run.

Kernel ``i`` is the subgraph's operator ``i``, named ``"<i>:<BUILTIN>"`` (``"3:ADD"``) so the name also says where
it sits in the file. Tensors keep their TFLite name when it is unique and non-empty, else they are named
``"t<index>:<name>"``; :func:`tensor_names` gives that mapping by tensor index, so a plan computed on the graph can
be written back into the file. A tensor whose buffer carries data is a constant (flash, 0 bytes of SRAM).

TFLM plans variable tensors and several subgraphs differently (persistent buffers, per-subgraph scopes); rather
than model that wrongly, both are refused with :class:`~mcugraph.errors.InvalidModelError`.
"""

from __future__ import annotations

import math

from mcugraph.errors import InvalidModelError, ModelLoadError
from mcugraph.kernel_graph import Kernel, KernelGraph, TensorInfo
from mcugraph.memory.scratch import scratch_bytes
from mcugraph.tflite import schema as tfl
from mcugraph.tflite.checks import ITEMSIZE, check_model

_ITEMSIZE = ITEMSIZE  # bytes per element, by schema.TensorType value (one table, in mcugraph.tflite.checks)


def read_model(data: bytes, source: str = "model") -> tfl.schema.ModelT:
    """Parse ``data`` as a TFLite flatbuffer and check its structure (:func:`~mcugraph.tflite.checks.check_model`),
    or raise :class:`ModelLoadError`/:class:`InvalidModelError` naming ``source``."""
    if not tfl.is_tflite(data):
        raise ModelLoadError(f"{source}: not a TFLite flatbuffer (no 'TFL3' identifier); pass a .tflite file")
    try:
        model = tfl.read(data)
    except Exception as e:  # noqa: BLE001 - a truncated flatbuffer fails anywhere inside the generated reader
        reason = " ".join(str(e).split())[:120] or type(e).__name__
        raise ModelLoadError(f"{source}: the TFLite flatbuffer is truncated or corrupt ({reason}); re-export it") from e
    check_model(model, source)  # every index and size, before anything here or in TFLM trusts them
    return model


def _subgraph(model: tfl.schema.ModelT, source: str) -> tfl.schema.SubGraphT:
    count = len(model.subgraphs or [])
    if count != 1:
        raise InvalidModelError(
            f"{source} is a TFLite flatbuffer with {count} subgraphs; only single-subgraph models (no IF/WHILE/"
            "CALL_ONCE) can be planned"
        )
    return model.subgraphs[0]


def _is_constant(model: tfl.schema.ModelT, tensor: tfl.schema.TensorT) -> bool:
    buffer = model.buffers[tensor.buffer] if model.buffers and tensor.buffer < len(model.buffers) else None
    if buffer is None:
        return False
    # Files over 2 GB keep data outside the flatbuffer (offset/size) instead of inline.
    return (buffer.data is not None and len(buffer.data) > 0) or int(buffer.size or 0) > 0


def tensor_names(model: tfl.schema.ModelT) -> list[str]:
    """The KernelGraph name of every tensor of subgraph 0, by tensor index (unique, stable)."""
    tensors = model.subgraphs[0].tensors or []
    raw = [(t.name or b"").decode(errors="replace") if isinstance(t.name, bytes) else (t.name or "") for t in tensors]
    seen: dict[str, int] = {}
    for name in raw:
        seen[name] = seen.get(name, 0) + 1
    return [name if name and seen[name] == 1 else f"t{i}:{name}" for i, name in enumerate(raw)]


def kernel_names(model: tfl.schema.ModelT) -> list[str]:
    """``"<index>:<BUILTIN>"`` for every operator of subgraph 0, in stored order."""
    codes = model.operatorCodes or []
    return [
        f"{i}:{tfl.builtin_name(tfl.opcode_builtin(codes[op.opcodeIndex]))}"
        for i, op in enumerate(model.subgraphs[0].operators or [])
    ]


def kernel_graph_from_model(model: tfl.schema.ModelT, source: str = "model") -> KernelGraph:
    """The :class:`KernelGraph` of an already parsed model (see :func:`kernel_graph_from_tflite`)."""
    subgraph = _subgraph(model, source)
    names = tensor_names(model)
    tensors: dict[str, TensorInfo] = {}
    for i, t in enumerate(subgraph.tensors or []):
        if t.isVariable:
            raise InvalidModelError(
                f"{source}: tensor {i} ({names[i]}) is a variable tensor (stateful op); TFLM keeps it outside the "
                "planned arena, so mcugraph cannot plan this model"
            )
        constant = _is_constant(model, t)
        if t.type not in _ITEMSIZE and not constant:
            type_name = next((k for k, v in vars(tfl.schema.TensorType).items() if v == t.type), str(t.type))
            raise InvalidModelError(
                f"{source}: tensor {i} ({names[i]}) has type {type_name}, which has no byte size per element; "
                "only numeric activations can be planned"
            )
        shape = tuple(int(d) for d in (t.shape if t.shape is not None else ()))
        if any(d < 0 for d in shape):
            raise InvalidModelError(f"{source}: tensor {i} ({names[i]}) has a dynamic shape {shape}; fix the shape")
        tensors[names[i]] = TensorInfo(names[i], shape, _ITEMSIZE.get(t.type, 1), constant)

    kernels = []
    for name, op in zip(kernel_names(model), subgraph.operators or [], strict=True):
        # An omitted optional input (a conv without bias) is index -1.
        inputs = tuple(names[j] for j in (op.inputs if op.inputs is not None else ()) if j >= 0)
        outputs = tuple(names[j] for j in (op.outputs if op.outputs is not None else ()) if j >= 0)
        builtin = name.split(":", 1)[1]
        kernels.append(Kernel(name, builtin, inputs, outputs, (name,), _scratch(builtin, op, subgraph, tensors, names)))
    return KernelGraph(
        tensors=tensors,
        kernels=tuple(kernels),
        inputs=tuple(names[j] for j in (subgraph.inputs if subgraph.inputs is not None else ())),
        outputs=tuple(names[j] for j in (subgraph.outputs if subgraph.outputs is not None else ())),
        storage_shapes=True,
    )


_INTEGER = (tfl.schema.TensorType.INT8, tfl.schema.TensorType.UINT8, tfl.schema.TensorType.INT16)


def _scratch(builtin: str, op, subgraph, tensors: dict[str, TensorInfo], names: list[str]) -> tuple[int, ...]:
    """The scratch buffers TFLM's kernel for ``op`` requests (:func:`mcugraph.memory.scratch.scratch_bytes`)."""
    inputs = list(op.inputs if op.inputs is not None else ())
    outputs = list(op.outputs if op.outputs is not None else ())
    data = 2 if builtin == "TRANSPOSE_CONV" else 0  # TRANSPOSE_CONV: (output shape, filter, input, bias)
    if len(inputs) <= data or inputs[data] < 0 or not outputs or outputs[0] < 0:
        return ()
    axis_count = 0
    if builtin in ("MEAN", "REDUCE_MAX") and len(inputs) > 1 and inputs[1] >= 0:
        axis_count = math.prod(tensors[names[inputs[1]]].shape)
    return scratch_bytes(
        builtin, tensors[names[inputs[data]]], tensors[names[outputs[0]]], axis_count,
        integer=subgraph.tensors[inputs[data]].type in _INTEGER,
    )


def kernel_graph_from_tflite(data: bytes, source: str = "model") -> KernelGraph:
    """The kernels and tensors of the .tflite ``data`` as TFLM will run them (one subgraph, no variables)."""
    return kernel_graph_from_model(read_model(data, source), source)

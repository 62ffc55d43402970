"""TFLM's offline arena plan: the ``OfflineMemoryAllocation`` metadata, and reordering a subgraph's operators.

TFLM (``micro_allocation_info.cc``, ``GetOfflinePlannedOffsets``) looks for a model metadata entry named exactly
``OfflineMemoryAllocation``; its buffer holds little-endian int32 words ``[version=1, subgraphs, N, offset_0 ..
offset_{N-1}]`` where N is the number of tensors of *all* subgraphs together and offset ``-1`` means "plan this
tensor online". TFLM checks only N; it then places every offline tensor at its byte offset from the start of the
arena without any overlap check, and fits the online ones (scratch buffers included) around them with its greedy
planner. So a wrong plan silently corrupts activations: :func:`mcugraph.tflite.schedule.schedule_tflite` verifies
every plan it writes by running the model in TFLM.

Functions here edit a ``schema.ModelT`` in place (the object API is a mutable tree); pack it with
:func:`mcugraph.tflite.schema.pack`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mcugraph.errors import InvalidModelError
from mcugraph.tflite import schema as tfl

METADATA_NAME = "OfflineMemoryAllocation"
VERSION = 1
ONLINE = -1  # offset meaning "TFLM plans this tensor itself"
INT32_MAX = 2**31 - 1  # the plan's words are int32


def _name(metadata: tfl.schema.MetadataT) -> str:
    name = metadata.name or b""
    return name.decode(errors="replace") if isinstance(name, bytes) else name


def _plan_entries(model: tfl.schema.ModelT) -> list[tfl.schema.MetadataT]:
    return [m for m in (model.metadata or []) if _name(m) == METADATA_NAME]


def _tensor_count(model: tfl.schema.ModelT) -> int:
    return sum(len(sg.tensors or []) for sg in model.subgraphs or [])


def _words(model: tfl.schema.ModelT, entry: tfl.schema.MetadataT) -> np.ndarray:
    buffers = model.buffers or []
    if not 0 <= entry.buffer < len(buffers) or buffers[entry.buffer].data is None:
        raise InvalidModelError(
            f"metadata '{METADATA_NAME}' points to buffer {entry.buffer}, which has no data; remove the entry"
        )
    raw = np.asarray(buffers[entry.buffer].data, dtype=np.uint8).tobytes()
    if len(raw) % 4 or len(raw) < 12:
        raise InvalidModelError(
            f"metadata '{METADATA_NAME}' holds {len(raw)} bytes, not [version, subgraphs, N, offsets...] int32 "
            "words; remove the entry"
        )
    return np.frombuffer(raw, dtype="<i4")


def read_offline_plan(model: tfl.schema.ModelT) -> tuple[int, ...] | None:
    """The per-tensor offsets (bytes, ``-1`` = online) of the model's offline plan, or None when it has none.

    Raises :class:`InvalidModelError` for a plan TFLM would reject or that mcugraph cannot interpret (several
    entries, an unknown version, a tensor count that does not match).
    """
    entries = _plan_entries(model)
    if not entries:
        return None
    if len(entries) > 1:
        raise InvalidModelError(f"the model has {len(entries)} '{METADATA_NAME}' metadata entries; keep only one")
    words = _words(model, entries[0])
    version, subgraphs, count = (int(w) for w in words[:3])
    if version != VERSION:
        raise InvalidModelError(
            f"'{METADATA_NAME}' has version {version}; only version {VERSION} is understood, remove the entry"
        )
    if subgraphs != len(model.subgraphs or []) or count != _tensor_count(model) or len(words) != 3 + count:
        raise InvalidModelError(
            f"'{METADATA_NAME}' describes {subgraphs} subgraph(s) and {count} tensors ({len(words) - 3} offsets) "
            f"but the model has {len(model.subgraphs or [])} subgraph(s) and {_tensor_count(model)} tensors; "
            "the plan belongs to another model, remove it"
        )
    return tuple(int(w) for w in words[3:])


def _buffer_is_shared(model: tfl.schema.ModelT, index: int, entry: tfl.schema.MetadataT) -> bool:
    users = [m for m in model.metadata or [] if m is not entry and m.buffer == index]
    users += [t for sg in model.subgraphs or [] for t in sg.tensors or [] if t.buffer == index]
    return bool(users) or index == 0  # buffer 0 is the schema's shared "no data" sentinel


def write_offline_plan(model: tfl.schema.ModelT, offsets: Sequence[int]) -> None:
    """Store ``offsets`` (bytes from the arena start per tensor, ``-1`` = online) as the model's offline plan.

    Replaces an existing plan (after checking it is one mcugraph understands); refuses offsets for constants,
    negative offsets other than ``-1`` and a length that is not the model's tensor count.
    """
    if len(model.subgraphs or []) != 1:
        raise InvalidModelError(
            f"an offline plan can only be written for a single-subgraph model; this one has "
            f"{len(model.subgraphs or [])}"
        )
    tensors = model.subgraphs[0].tensors or []
    if len(offsets) != len(tensors):
        raise ValueError(f"{len(offsets)} offsets for {len(tensors)} tensors")
    for i, (offset, tensor) in enumerate(zip(offsets, tensors, strict=True)):
        if offset > INT32_MAX:
            raise InvalidModelError(
                f"tensor {i}: arena offset {offset:,} does not fit TFLM's int32 plan; the arena is over 2 GiB, "
                "which no microcontroller has"
            )
        if offset < ONLINE:
            raise ValueError(f"tensor {i}: offset {offset} is negative (use -1 for online planning)")
        buffers = model.buffers or []
        data = buffers[tensor.buffer].data if tensor.buffer < len(buffers) else None
        if offset != ONLINE and data is not None and len(data):
            raise ValueError(f"tensor {i} is a constant (its data lives in flash); its offset must be -1")

    words = np.array([VERSION, 1, len(offsets), *offsets], dtype="<i4")
    data = np.frombuffer(words.tobytes(), dtype=np.uint8).copy()
    entries = _plan_entries(model)
    if entries:
        read_offline_plan(model)  # refuses a foreign or malformed plan instead of silently overwriting it
        entry = entries[0]
        if not _buffer_is_shared(model, entry.buffer, entry):
            model.buffers[entry.buffer].data = data
            return
    else:
        entry = tfl.schema.MetadataT()
        entry.name = METADATA_NAME
        model.metadata = [*(model.metadata or []), entry]
    buffer = tfl.schema.BufferT()
    buffer.data = data
    model.buffers = [*(model.buffers or []), buffer]
    entry.buffer = len(model.buffers) - 1


def remove_offline_plan(model: tfl.schema.ModelT) -> bool:
    """Drop the offline plan entry (its buffer is left empty, indices stay valid); True when there was one."""
    entries = _plan_entries(model)
    for entry in entries:
        if not _buffer_is_shared(model, entry.buffer, entry):
            model.buffers[entry.buffer].data = None
    model.metadata = [m for m in model.metadata or [] if _name(m) != METADATA_NAME] or None
    return bool(entries)


def reorder_operators(model: tfl.schema.ModelT, order: Sequence[int]) -> None:
    """Run subgraph 0's operators in ``order`` (a permutation of operator indices), checking data dependencies.

    Raises ``ValueError`` when ``order`` is not a permutation or runs an operator before one that produces its
    input: TFLM would read an unwritten tensor.
    """
    operators = model.subgraphs[0].operators or []
    if sorted(order) != list(range(len(operators))):
        raise ValueError(f"order must be a permutation of 0..{len(operators) - 1}, got {list(order)}")
    producer = {t: i for i, op in enumerate(operators) for t in (op.outputs if op.outputs is not None else ())}
    done: set[int] = set()
    for i in order:
        op = operators[i]
        for t in op.inputs if op.inputs is not None else ():
            if t in producer and producer[t] not in done:
                raise ValueError(f"operator {i} reads tensor {t} before operator {producer[t]} writes it")
        done.add(i)
    model.subgraphs[0].operators = [operators[i] for i in order]

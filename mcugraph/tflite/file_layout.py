"""The byte layout of a packed .tflite as a function of the lengths of chosen vectors: exact file size per width.

A flatbuffer is written back to front; every write is preceded by an alignment step (``Builder.Prep(size,
additional)``) that pads so that ``size`` is aligned after ``additional`` more bytes. :func:`pack_traced` packs a
``ModelT`` with a builder that records those steps, marking the vectors whose lengths may change (a layer's weight
buffer, its per-channel scale and zero-point arrays). :meth:`FileLayout.size` replays the steps with other lengths
for those vectors and returns the file size in bytes, padding included, byte for byte — as long as everything else
in the file stays the same (same tensors, operators, shapes' ranks, names).

Why a replay is exact: the marked vectors hold 4-, 8- or 16-byte elements or are 16-byte aligned, so each ends on a
4-byte boundary whatever its length; an alignment of at most 4 bytes therefore pads the same in the replay as when
recorded (and the tables' layouts and the shared vtables, which depend only on those, are the same). Only 8- and
16-byte alignments are recomputed. Cost: linear in the number of 8/16-byte alignments (a few per tensor).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Mapping

import flatbuffers
import numpy as np

from mcugraph.tflite.schema import FILE_IDENTIFIER

_FIXED = 0  # ("fixed", bytes): a run of writes and alignments of at most 4 bytes, the same at any length
_ALIGN = 1  # (_ALIGN, size, additional, written): an 8/16-byte alignment, then `written` bytes
_VECTOR = 2  # (_VECTOR, key, size, recorded length, written): an alignment before a marked vector's data


@dataclasses.dataclass(frozen=True)
class FileLayout:
    """Replayable layout of one packed file; ``lengths`` are the marked vectors' payload bytes as recorded."""

    events: tuple[tuple, ...]
    lengths: dict[Hashable, int]

    def size(self, lengths: Mapping[Hashable, int] | None = None) -> int:
        """File bytes when the marked vectors hold ``lengths`` bytes (missing keys: as recorded)."""
        lengths = {**self.lengths, **(lengths or {})}
        offset = 0
        for event in self.events:
            kind = event[0]
            if kind == _FIXED:
                offset += event[1]
            elif kind == _ALIGN:
                _, size, additional, written = event
                offset += _pad(offset, size, additional) + written
            else:
                _, key, size, recorded, written = event
                n = int(lengths[key])
                offset += _pad(offset, size, n) + written + (n - recorded if written else 0)
        return offset


def _pad(offset: int, size: int, additional: int) -> int:
    return (-(offset + additional)) & (size - 1)


class _TracingBuilder(flatbuffers.Builder):
    """A Builder that records every alignment step; vectors whose numpy array (by identity) is in ``marked`` are
    recorded as :data:`_VECTOR` events under their key."""

    def __init__(self, marked: Mapping[int, Hashable], shared: frozenset[int] = frozenset()):
        super().__init__(1024)
        self.marked = dict(marked)
        self.shared = shared  # ids of arrays several tables point to: written once, the same offset reused
        self._written: dict[int, int] = {}
        self.steps: list[list] = []  # [offset before, size, additional, pad, key or None]
        self.lengths: dict[Hashable, int] = {}
        self._key: Hashable | None = None
        self._vector_preps = 0  # alignment steps left that belong to the marked vector (StartVector makes two)

    def Prep(self, size, additionalBytes):  # noqa: N802, N803 - the flatbuffers Builder's names
        before = self.Offset()
        super().Prep(size, additionalBytes)
        key = self._key if self._vector_preps > 0 else None
        self._vector_preps -= 1
        self.steps.append([before, size, additionalBytes, self.Offset() - before, key])

    def CreateNumpyVector(self, x):  # noqa: N802 - the flatbuffers Builder's name
        if id(x) in self._written:
            return self._written[id(x)]
        key = self.marked.get(id(x))
        if key is None:
            offset = super().CreateNumpyVector(x)
        else:
            offset = self.marked_vector(key, lambda: super(_TracingBuilder, self).CreateNumpyVector(x), x.nbytes)
        if id(x) in self.shared:
            self._written[id(x)] = offset
        return offset

    def marked_vector(self, key: Hashable, write, nbytes: int):
        """Run ``write``, whose first vector (``nbytes`` payload bytes) is recorded under ``key``; what it writes
        after that vector (a Buffer table) is fixed."""
        self._key, self._vector_preps = key, 2
        try:
            result = write()
        finally:
            self._key, self._vector_preps = None, 0
        self.lengths[key] = nbytes
        return result

    def layout(self) -> FileLayout:
        events: list[tuple] = []
        fixed = 0
        ends = [s[0] for s in self.steps[1:]] + [self.Offset()]
        for (before, size, additional, pad, key), end in zip(self.steps, ends, strict=True):
            written = end - before - pad
            if key is not None:
                if fixed:
                    events.append((_FIXED, fixed))
                fixed = 0
                events.append((_VECTOR, key, size, self.lengths.get(key, additional), written))
            elif size > 4:
                if fixed:
                    events.append((_FIXED, fixed))
                fixed = 0
                events.append((_ALIGN, size, additional, written))
            else:
                fixed += pad + written
        if fixed:
            events.append((_FIXED, fixed))
        return FileLayout(tuple(events), dict(self.lengths))


def pack_traced(model, marked: Mapping[int, Hashable] | None = None, buffers: Mapping[int, Hashable] | None = None,
                shared: frozenset[int] = frozenset()) -> tuple[bytes, FileLayout]:
    """``(file bytes, layout)`` of ``model`` (a ``schema.ModelT``) packed with the TFLite file identifier.

    ``marked``: ``id(numpy array) -> key`` for quantisation arrays (or any numpy vector) whose length may change;
    ``buffers``: buffer index -> key for buffers whose data may change length; ``shared``: ids of numpy arrays that
    several tables hold (one vector in the file, pointed to by each). Checks that the replay at the recorded
    lengths is the packed size (a mismatch is a bug here, raised as AssertionError).
    """
    builder = _TracingBuilder(marked or {}, shared)
    originals = model.buffers
    if buffers:
        model.buffers = [_MarkedBuffer(b, buffers[i]) if i in buffers else b for i, b in enumerate(originals or [])]
    try:
        builder.Finish(model.Pack(builder), file_identifier=FILE_IDENTIFIER)
    finally:
        model.buffers = originals
    data = bytes(builder.Output())
    layout = builder.layout()
    if layout.size() != len(data):
        raise AssertionError(f"file layout replays to {layout.size()} B but the packed file is {len(data)} B")
    return data, layout


class _MarkedBuffer:
    """Packs ``buffer`` (a ``BufferT``) with its data vector recorded under ``key``."""

    def __init__(self, buffer, key: Hashable):
        self.buffer, self.key = buffer, key

    def Pack(self, builder):  # noqa: N802 - the flatbuffers object API's name
        data = self.buffer.data
        if data is None or not len(data):
            return self.buffer.Pack(builder)
        nbytes = np.asarray(data).nbytes
        return builder.marked_vector(self.key, lambda: self.buffer.Pack(builder), nbytes)


__all__ = ["FileLayout", "pack_traced"]

"""Rewrite a .tflite model so that a stage runs band by band, in stock TFLM operators, bit-exact.

For each row band ``[r0, r1)`` of the stage output ``T`` (:mod:`mcugraph.patch.stage`), the rows every stage
tensor must hold are found backwards from ``T`` (the receptive field: :meth:`Window.reads`, clipped to the image),
then the tile is emitted forwards, operator by operator:

- an input holding more rows than the operator reads (the image ``X``; a residual branch) is cut by a
  ``STRIDED_SLICE``;
- a convolution gets an explicit ``PAD`` (the zero point: TFLM's default pad value) for its width padding and, only
  at the image border, its height padding, and then runs with VALID padding;
- an original ``PAD`` pads the tile only where the band meets the border (and disappears where it pads nothing);
- every other operator is copied with its inputs replaced.

The tiles' outputs are joined by a ``CONCATENATION`` along H into ``T`` itself, so the rest of the model is
untouched. Every tile tensor copies the type, scale and zero point of the tensor it is a part of, and each output
element is computed from the same input values by the same kernel, so the patched model is bit-exact with the
input model (``tests/test_patch_rewrite.py`` runs both in TFLM). Weights are shared by all tiles (no extra flash
beyond the few index constants). The offline arena plan of the input, if any, is dropped: tensor indices change.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence

import numpy as np

from mcugraph.errors import InvalidModelError
from mcugraph.patch.geometry import CONVOLUTIONS, SpatialOp, ints, shape
from mcugraph.patch.stage import Stage, check_bands
from mcugraph.tflite import schema as tfl
from mcugraph.tflite.offline_plan import METADATA_NAME

s = tfl.schema
TILE_OPS = ("STRIDED_SLICE", "PAD", "CONCATENATION")  # the operators the rewrite adds


@dataclasses.dataclass(frozen=True)
class Tile:
    rows: tuple[int, int]  # band of the stage output
    input_rows: tuple[int, int]  # rows of the stage input (the image X, or the start S) it reads
    operators: tuple[int, ...]  # indices of its operators in the patched model


class _Writer:
    """Appends tensors, constants and operators to a shallow copy of a model (original objects are not mutated)."""

    def __init__(self, model: s.ModelT):
        self.model = copy.copy(model)
        sg = copy.copy(model.subgraphs[0])
        sg.tensors = list(sg.tensors)
        sg.operators = []
        self.model.subgraphs = [sg]
        self.model.buffers = list(model.buffers)
        self.model.operatorCodes = list(model.operatorCodes)
        self.model.metadata = [m for m in model.metadata or [] if _name(m) != METADATA_NAME] or None
        self.sg = sg
        self._constants: dict[bytes, int] = {}

    def like(self, original: int, rows: int, width: int | None = None, channels: int | None = None,
             suffix: str = "") -> int:
        """A new activation with ``original``'s dtype and quantisation and ``rows`` rows (and width, channels)."""
        src = self.sg.tensors[original]
        t = s.TensorT()
        n, _, w, c = shape(self.model, original)
        t.shape = [n, rows, w if width is None else width, c if channels is None else channels]
        t.type = src.type
        t.buffer = 0
        t.quantization = copy.deepcopy(src.quantization)
        t.name = f"{_text(src.name)}{suffix}"
        self.sg.tensors.append(t)
        return len(self.sg.tensors) - 1

    def constant(self, values: np.ndarray, name: str) -> int:
        data = np.ascontiguousarray(values, dtype=np.int32)
        key = data.tobytes() + bytes(str(data.shape), "ascii")
        if key in self._constants:
            return self._constants[key]
        buffer = s.BufferT()
        buffer.data = np.frombuffer(data.tobytes(), dtype=np.uint8).copy()
        self.model.buffers.append(buffer)
        t = s.TensorT()
        t.shape, t.type, t.buffer, t.name = list(data.shape), s.TensorType.INT32, len(self.model.buffers) - 1, name
        self.sg.tensors.append(t)
        self._constants[key] = len(self.sg.tensors) - 1
        return self._constants[key]

    def opcode(self, builtin: str, version: int) -> int:
        code = getattr(s.BuiltinOperator, builtin)
        for i, c in enumerate(self.model.operatorCodes):
            if tfl.opcode_builtin(c) == code:
                return i
        c = s.OperatorCodeT()
        c.builtinCode, c.deprecatedBuiltinCode, c.version = code, min(code, 127), version
        self.model.operatorCodes.append(c)
        return len(self.model.operatorCodes) - 1

    def op(self, builtin: str, inputs: Sequence[int], output: int, options_type: int, options) -> int:
        op = s.OperatorT()
        op.opcodeIndex = self.opcode(builtin, 2)
        op.inputs, op.outputs = list(inputs), [output]
        op.builtinOptionsType, op.builtinOptions = options_type, options
        return self.append(op)

    def append(self, op: s.OperatorT) -> int:
        self.sg.operators.append(op)
        return len(self.sg.operators) - 1

    def slice_rows(self, src: int, have: tuple[int, int], want: tuple[int, int], suffix: str) -> int:
        """Rows ``want`` of ``src`` (which holds rows ``have`` of its tensor) as a new tensor."""
        n, _, w, c = shape(self.model, src)
        out = self.like(src, want[1] - want[0], suffix=suffix)
        begin = self.constant(np.array([0, want[0] - have[0], 0, 0]), "patch/begin")
        end = self.constant(np.array([n, want[1] - have[0], w, c]), "patch/end")
        strides = self.constant(np.ones(4), "patch/strides")
        self.op("STRIDED_SLICE", [src, begin, end, strides], out, s.BuiltinOptions.StridedSliceOptions,
                s.StridedSliceOptionsT())
        return out

    def pad(self, src: int, top: int, bottom: int, left: int, right: int, suffix: str) -> int:
        _, h, w, _ = shape(self.model, src)
        out = self.like(src, h + top + bottom, width=w + left + right, suffix=suffix)
        paddings = self.constant(np.array([[0, 0], [top, bottom], [left, right], [0, 0]]), "patch/paddings")
        self.op("PAD", [src, paddings], out, s.BuiltinOptions.PadOptions, s.PadOptionsT())
        return out


def _text(name) -> str:
    return name.decode(errors="replace") if isinstance(name, bytes) else (name or "")


def _name(metadata) -> str:
    return _text(metadata.name)


def _needed_rows(model: s.ModelT, stage: Stage, band: tuple[int, int]) -> dict[int, tuple[int, int]]:
    """Rows of every stage tensor that band ``band`` of the output needs (hull over its readers)."""
    need = {stage.output: band}
    for op in reversed(stage.ops):
        lo, hi = op.rows.reads(*need[op.output])
        for t in op.data_inputs:
            height = shape(model, t)[1]
            lo_c, hi_c = max(lo, 0), min(hi, height)
            if lo_c >= hi_c:
                # Only a PAD's border rows lie wholly outside its input; TFLM has no empty tensors to pad.
                raise InvalidModelError(
                    f"row band {list(band)} of tensor {stage.output} reads no row of tensor {t} (operator "
                    f"{op.index}, {op.builtin} pads them all); use wider bands"
                )
            old = need.get(t)
            need[t] = (lo_c, hi_c) if old is None else (min(old[0], lo_c), max(old[1], hi_c))
    return need


def _emit(w: _Writer, op: SpatialOp, original: s.OperatorT, rows: tuple[int, int],
          tiles: dict[int, tuple[int, tuple[int, int]]], tag: str) -> None:
    """Emit ``op`` for output rows ``rows``; ``tiles`` maps stage tensors to (tile tensor, rows it holds)."""
    lo, hi = op.rows.reads(*rows)
    inputs = ints(original.inputs)
    sources = []
    for t in op.data_inputs:
        src, have = tiles[t]
        height = shape(w.model, t)[1]
        want = (max(lo, 0), min(hi, height))
        if have != want:
            src = w.slice_rows(src, have, want, f"/{tag}/slice")
        sources.append(src)
        inputs = [src if i == t else i for i in inputs]
    height = shape(w.model, op.data_inputs[0])[1]
    top, bottom = max(0, -lo), max(0, hi - height)
    left, right = op.cols.pad_before, op.cols.pad_after
    if op.builtin in ("PAD", "PADV2"):
        if top or bottom or left or right:
            tiles[op.output] = (w.pad(sources[0], top, bottom, left, right, f"/{tag}"), rows)
        else:
            tiles[op.output] = (sources[0], rows)  # this band of the PAD copies rows unchanged: skip it
        return
    new = copy.copy(original)
    new.builtinOptions = copy.copy(original.builtinOptions)
    if op.builtin in CONVOLUTIONS:
        if top or bottom or left or right:
            padded = w.pad(sources[0], top, bottom, left, right, f"/{tag}/pad")
            inputs = [padded if i == sources[0] else i for i in inputs]
        new.builtinOptions.padding = s.Padding.VALID
    out = w.like(op.output, rows[1] - rows[0], suffix=f"/{tag}")
    new.inputs, new.outputs = inputs, [out]
    w.append(new)
    tiles[op.output] = (out, rows)


def patch_model(model: s.ModelT, stage: Stage, bands: Sequence[tuple[int, int]]) -> tuple[s.ModelT, tuple[Tile, ...]]:
    """A new model running ``stage`` once per row band of its output (``bands``: consecutive ``(r0, r1)``).

    The input ``model`` is not modified (the result shares its unchanged objects: pack it before editing either).
    """
    return patch_stages(model, [(stage, bands)])


def patch_stages(model: s.ModelT, stages: Sequence[tuple[Stage, Sequence[tuple[int, int]]]]) -> tuple[
        s.ModelT, tuple[Tile, ...]]:
    """A new model running each ``(stage, bands)`` band by band; the stages follow each other in stored order
    (each later one starts at or after the cut of the one before, as :func:`candidate_stages` with ``start`` finds
    them). The last stage is rewritten first: a rewrite keeps every operator before its stage where it was and
    appends tensors without renumbering, so the earlier stages' indices stay valid; unused tensors go at the end.
    """
    tiles: tuple[Tile, ...] = ()
    firsts = [sum(len(bands) for _, bands in stages[:i]) for i in range(len(stages))]  # tiles numbered in order
    for (stage, bands), first_tile in reversed(list(zip(stages, firsts, strict=True))):
        before = len(model.subgraphs[0].operators)
        model, mine = _patch_one(model, stage, bands, first_tile)
        shift = len(model.subgraphs[0].operators) - before  # later stages' tiles moved by what this one added
        tiles = mine + tuple(dataclasses.replace(t, operators=tuple(i + shift for i in t.operators)) for t in tiles)
    _drop_unused_tensors(model.subgraphs[0])
    return model, tiles


def _patch_one(model: s.ModelT, stage: Stage, bands: Sequence[tuple[int, int]], first_tile: int = 0) -> tuple[
        s.ModelT, tuple[Tile, ...]]:
    check_bands(model, stage, bands)
    w = _Writer(model)
    originals = model.subgraphs[0].operators
    height = shape(model, stage.input)[1]
    parts, tiles_info = [], []
    first_stage = min(stage.indices)
    for op in originals[:first_stage]:  # what runs before the stage (a stage may start after the input)
        w.append(op)
    for k, band in enumerate(bands):
        first = len(w.sg.operators)
        need = _needed_rows(model, stage, band)
        tiles = {stage.input: (stage.input, (0, height))}
        for op in stage.ops:
            _emit(w, op, originals[op.index], need[op.output], tiles, f"tile{first_tile + k}")
        parts.append(tiles[stage.output][0])
        tiles_info.append(Tile(tuple(band), need[stage.input], tuple(range(first, len(w.sg.operators)))))
    options = s.ConcatenationOptionsT()
    options.axis = 1
    w.op("CONCATENATION", parts, stage.output, s.BuiltinOptions.ConcatenationOptions, options)
    for i, op in enumerate(originals):
        if i not in stage.indices and i >= first_stage:
            w.append(op)
    return w.model, tuple(tiles_info)


def _drop_unused_tensors(sg: s.SubGraphT) -> None:
    """Remove tensors no operator reads or writes (the stage's whole-image intermediates) and renumber the rest.

    TFLM plans every non-constant tensor, even one no operator touches (all of them at once, before the first
    operator), so leaving the stage's old intermediates in the file would keep their bytes in the arena.
    """
    used = set(ints(sg.inputs)) | set(ints(sg.outputs))
    for op in sg.operators:
        used |= {t for t in ints(op.inputs) + ints(op.outputs) if t >= 0}
    keep = [i for i in range(len(sg.tensors)) if i in used]
    index = {old: new for new, old in enumerate(keep)}
    sg.tensors = [sg.tensors[i] for i in keep]
    sg.inputs = [index[t] for t in ints(sg.inputs)]
    sg.outputs = [index[t] for t in ints(sg.outputs)]
    for i, op in enumerate(sg.operators):
        new = copy.copy(op)
        new.inputs = [index[t] if t >= 0 else t for t in ints(op.inputs)]
        new.outputs = [index[t] for t in ints(op.outputs)]
        sg.operators[i] = new

"""The leading stage of a .tflite model that can run on row tiles, and the ways to cut its output into bands.

A stage is named by its output tensor ``T`` (the cut): it is every operator ``T`` depends on, back to the model's
image input ``X``. It can be tiled when all of them are spatial (:func:`mcugraph.patch.geometry.spatial_op`), they
read nothing but ``X``, constants and each other, and nothing outside the stage reads what they compute except
``T``. Then the stage can run band by band: ``X`` stays whole, each band of ``T`` is computed from the rows of ``X``
it needs, and the rest of the model sees ``T`` as before.

A stage may also start at an inner tensor ``S`` (``start``): then it is every operator between ``S`` and ``T``,
``S`` plays the part of ``X``, and what computes ``S`` runs before the tiles as before. That is how a second stage
follows a first one (:func:`mcugraph.patch.search.search`): the first stage's cut is the second one's start, so a
resident tensor smaller than the image, and a shorter receptive field (less halo to recompute), bound each.
"""

from __future__ import annotations

import dataclasses
import math

from mcugraph.errors import InvalidModelError, UnsupportedOpError
from mcugraph.memory.inplace import ARENA_ALIGNMENT
from mcugraph.patch.geometry import SpatialOp, ints, shape, spatial_op
from mcugraph.tflite import schema as tfl


@dataclasses.dataclass(frozen=True)
class Stage:
    input: int  # tensor index of X, the model's input image, or of the inner tensor S the stage starts at
    output: int  # tensor index of T, the cut
    ops: tuple[SpatialOp, ...]  # the stage's operators, in stored order

    @property
    def indices(self) -> frozenset[int]:
        return frozenset(op.index for op in self.ops)


def _image_input(model: tfl.schema.ModelT) -> int:
    inputs = ints(model.subgraphs[0].inputs)
    if len(inputs) != 1:
        raise InvalidModelError(f"the model has {len(inputs)} inputs; patching needs exactly one input image")
    if len(shape(model, inputs[0])) != 4 or shape(model, inputs[0])[0] != 1:
        raise InvalidModelError(
            f"the model input {list(shape(model, inputs[0]))} is not a batch-1 NHWC image; patching tiles images"
        )
    return inputs[0]


def stage_for(model: tfl.schema.ModelT, output: int, start: int | None = None) -> Stage:
    """The stage ending at tensor ``output`` (starting at the image, or at tensor ``start``); raises
    UnsupportedOpError/InvalidModelError with the reason it cannot."""
    subgraph = model.subgraphs[0]
    x = _image_input(model) if start is None else start
    if start is not None and (len(shape(model, x)) != 4 or shape(model, x)[0] != 1 or x == output):
        raise InvalidModelError(f"tensor {x} is not a batch-1 NHWC tensor before tensor {output}; start a stage there")
    producer = {t: i for i, op in enumerate(subgraph.operators) for t in ints(op.outputs)}
    if output not in producer:
        raise InvalidModelError(f"tensor {output} is not computed by an operator; cut after an operator")
    members: set[int] = set()
    todo = [producer[output]]
    while todo:
        i = todo.pop()
        if i in members:
            continue
        members.add(i)
        for t in ints(subgraph.operators[i].inputs):
            if t >= 0 and t != x and t in producer:
                todo.append(producer[t])
    ops = tuple(spatial_op(model, i) for i in sorted(members))  # raises for a non-spatial operator
    inside = {op.output for op in ops}
    for op in ops:
        for t in op.data_inputs:
            if t != x and t not in inside:
                raise InvalidModelError(f"operator {op.index} ({op.builtin}) reads tensor {t} from outside the stage")
    graph_outputs = set(ints(subgraph.outputs))
    for i, op in enumerate(subgraph.operators):
        if i in members:
            continue
        leaked = [t for t in ints(op.inputs) if t in inside and t != output]
        if leaked:
            raise InvalidModelError(
                f"operator {i} outside the stage reads tensor {leaked[0]} from inside it; cut at a single tensor"
            )
    if any(t in graph_outputs for t in inside - {output}):
        raise InvalidModelError("a model output is computed inside the stage; cut after it")
    if shape(model, output)[1] < 2:
        raise InvalidModelError(f"tensor {output} has {shape(model, output)[1]} row(s): nothing to tile")
    return Stage(x, output, ops)


def candidate_stages(model: tfl.schema.ModelT, start: int | None = None) -> list[Stage]:
    """Every tileable stage (from the image, or from tensor ``start``), in stored order of its cut (each operator
    output that closes a stage)."""
    result = []
    for op in model.subgraphs[0].operators:
        for t in ints(op.outputs):
            if t == start:
                continue
            try:
                result.append(stage_for(model, t, start))
            except (UnsupportedOpError, InvalidModelError):
                continue
    return result


def row_bytes(model: tfl.schema.ModelT, tensor: int) -> int:
    """Bytes of one row (W x C elements) of an NHWC tensor."""
    from mcugraph.memory.tflite_graph import _ITEMSIZE

    dims = shape(model, tensor)
    return dims[2] * dims[3] * _ITEMSIZE[model.subgraphs[0].tensors[tensor].type]


def even_bands(model: tfl.schema.ModelT, stage: Stage, count: int) -> tuple[tuple[int, int], ...] | None:
    """``count`` row bands of the stage output as even as possible, each starting at a 16-byte aligned offset
    (so the bands can be written in place into it); None when the rows cannot be cut that way."""
    if count > 10:
        return None  # TFLM's CONCATENATION joins at most 10 inputs (kMaxInputNum in concatenation.cc)
    rows = shape(model, stage.output)[1]
    grain = ARENA_ALIGNMENT // math.gcd(row_bytes(model, stage.output), ARENA_ALIGNMENT)  # rows per aligned step
    cuts = sorted({min(rows, round(k * rows / count / grain) * grain) for k in range(count)} | {rows})
    bands = tuple((a, b) for a, b in zip(cuts, cuts[1:], strict=False) if b > a)
    return bands if len(bands) == count and bands[0][0] == 0 else None


def check_bands(model: tfl.schema.ModelT, stage: Stage, bands) -> None:
    """Raise InvalidModelError unless ``bands`` are consecutive row ranges covering the stage output."""
    rows = shape(model, stage.output)[1]
    edges = [b for band in bands for b in band]
    if not bands or edges[0] != 0 or edges[-1] != rows or any(a >= b for a, b in bands) or any(
        bands[i][1] != bands[i + 1][0] for i in range(len(bands) - 1)
    ):
        raise InvalidModelError(f"row bands {list(bands)} do not cover rows 0..{rows} of tensor {stage.output} in order")

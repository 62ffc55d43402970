"""Run a pipeline of passes with the debugging aids of a compiler driver.

``run_pipeline(model, "fold-bn,fold-constants")`` runs each pass in turn; ``check=True`` verifies the IR after
every pass (ONNX checker plus mcugraph's own invariant: every value has a static shape and dtype);
``print_between`` and ``time_passes`` write to ``stream`` (stderr by default).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from typing import TextIO

import onnx
import onnx_ir as ir

from mcugraph.errors import InvalidModelError, MCUGraphError
from mcugraph.registry import create_pass, parse_pipeline

CANONICALIZE = (
    "fold-dequantize-weights,remove-identity,fuse-hard-swish,decompose-hard-sigmoid,fold-constants,decompose-clip,"
    "binary-min-max,fold-bn,conv1d-to-2d,decompose-gelu,decompose-layer-norm,decompose-pow,reciprocal-sqrt,"
    "unroll-recurrent,gather-to-slice,broadcast-ranks,normalize-gemm,normalize-reshape,cancel-transposes,"
    "remove-unused"
)


@dataclasses.dataclass(frozen=True)
class PassTiming:
    name: str
    seconds: float
    modified: bool


@dataclasses.dataclass(frozen=True)
class PipelineResult:
    model: ir.Model
    modified: bool
    timings: tuple[PassTiming, ...]


def run_pipeline(
    model: ir.Model,
    spec: str | list[ir.passes.PassBase],
    *,
    check: bool = False,
    print_between: bool = False,
    time_passes: bool = False,
    stream: TextIO | None = None,
) -> PipelineResult:
    """Run the passes of ``spec`` on ``model`` (in place where the passes are) and return the result."""
    stream = stream or sys.stderr
    passes = spec if isinstance(spec, list) else [create_pass(n, o) for n, o in parse_pipeline(spec)]
    if check:  # a model that breaks the invariants already is the caller's to fix, not the first pass's fault
        check_model(model)
    timings = []
    modified = False
    for pass_ in passes:
        name = getattr(pass_, "name", type(pass_).__name__)
        start = time.perf_counter()
        try:
            result = pass_(model)
        except (ir.passes.PassError, ir.passes.PreconditionError, ir.passes.PostconditionError) as e:
            user_error = _user_error_in(e)
            if user_error is None:
                raise
            raise user_error from e
        seconds = time.perf_counter() - start
        model = result.model
        modified |= result.modified
        timings.append(PassTiming(name, seconds, result.modified))
        if check:
            check_model(model, after=name)
        if print_between:
            stream.write(f"// ----- after {name} (modified={result.modified}) -----\n{model}\n")
    if time_passes:
        total = sum(t.seconds for t in timings)
        stream.write("pass                          seconds  modified\n")
        for t in timings:
            stream.write(f"{t.name:<28} {t.seconds:9.4f}  {t.modified}\n")
        stream.write(f"{'total':<28} {total:9.4f}\n")
    return PipelineResult(model, modified, tuple(timings))


def _user_error_in(error: BaseException) -> MCUGraphError | None:
    """onnx-ir wraps exceptions raised inside a pass; surface ours so the CLI prints one clear line."""
    seen = error
    while seen is not None:
        if isinstance(seen, MCUGraphError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def check_model(model: ir.Model, after: str = "") -> None:
    """Raise :class:`InvalidModelError` if the IR is not valid ONNX or a value lost its static shape/dtype.

    ``after`` names the pass that just ran; without it the model is the one given to the pipeline, and the message
    says how to fix its shapes (``mcugraph.load``)."""
    where = f" after pass '{after}'" if after else " given to the pipeline"
    fix = "" if after else "; fix the shapes with mcugraph.load(model) first (a symbolic batch becomes 1)"
    try:
        onnx.checker.check_model(ir.serde.serialize_model(model), full_check=False)
    except onnx.checker.ValidationError as e:
        raise InvalidModelError(f"invalid IR{where}: {str(e).splitlines()[0]}") from e
    for node in model.graph:
        for value in node.outputs:
            if value.dtype is None or value.shape is None or not all(isinstance(d, int) for d in value.shape):
                raise InvalidModelError(
                    f"invalid IR{where}: value '{value.name}' of node '{node.name}' ({node.op_type}) "
                    f"has no static shape/dtype (shape={value.shape}, dtype={value.dtype}){fix}"
                )

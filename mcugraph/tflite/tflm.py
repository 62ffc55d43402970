"""Run .tflite models in TFLite Micro (the ground truth) and LiteRT, and read TFLM's own arena figures.

TFLM prints its allocations to C stderr (file descriptor 2), not Python's ``sys.stderr``; :func:`arena_head`
captures that descriptor. "head" is the part of the arena that holds planned activations: the number that must
match our predicted arena byte for byte.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
from collections.abc import Sequence

import numpy as np

from mcugraph.errors import ExportError

DEFAULT_ARENA_BYTES = 16 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Allocations:
    head_bytes: int
    tail_bytes: int
    total_bytes: int
    report: str


def _interpreter(data: bytes, arena_bytes: int = DEFAULT_ARENA_BYTES):
    from tflite_micro import runtime

    try:
        return runtime.Interpreter.from_bytes(bytes(data), arena_size=arena_bytes)
    except Exception as e:
        raise ExportError(f"TFLite Micro cannot load the model: {str(e).splitlines()[0] if str(e) else e!r}") from e


def _capture_fd2(fn) -> str:
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            fn()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        return tmp.read().decode(errors="replace")


def allocations(data: bytes) -> Allocations:
    """TFLM's arena use for ``data``, as ``print_allocations()`` reports it."""
    interp = _interpreter(data)
    report = _capture_fd2(interp.print_allocations)

    def field(name: str) -> int:
        match = re.search(rf"Arena allocation {name} (\d+) bytes", report)
        if not match:
            raise ExportError(f"TFLite Micro printed no arena '{name}' figure; its report was: {report[:200]!r}")
        return int(match.group(1))

    return Allocations(field("head"), field("tail"), field("total"), report)


def arena_head(data: bytes) -> int:
    """Bytes of TFLM's planned activation arena ("Arena allocation head") for the model ``data``."""
    return allocations(data).head_bytes


def _output_count(data: bytes) -> int:
    from mcugraph.tflite.schema import schema

    return schema.Model.GetRootAs(data, 0).Subgraphs(0).OutputsLength()


def run_tflm(data: bytes, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Invoke the model once in TFLM on ``inputs`` (already in the model's input dtypes) and return outputs."""
    return run_tflm_batch(data, [inputs])[0]


def run_tflm_batch(data: bytes, batch: Sequence[Sequence[np.ndarray]]) -> list[list[np.ndarray]]:
    """Run many samples through one interpreter (``reset()`` between them): far faster than reloading."""
    interp = _interpreter(data)
    count = _output_count(data)
    results = []
    for inputs in batch:
        for i, x in enumerate(inputs):
            interp.set_input(np.ascontiguousarray(x), i)
        try:
            interp.invoke()
        except Exception as e:
            raise ExportError(f"TFLite Micro failed to run the model: {e}") from e
        results.append([np.array(interp.get_output(i)) for i in range(count)])
        interp.reset()
    return results


def run_litert(data: bytes, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Invoke the model once in LiteRT (``ai-edge-litert``), the second interpreter."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=bytes(data), num_threads=1)
    interp.allocate_tensors()
    for detail, x in zip(interp.get_input_details(), inputs, strict=False):
        interp.set_tensor(detail["index"], np.ascontiguousarray(x))
    interp.invoke()
    return [np.array(interp.get_tensor(d["index"])) for d in interp.get_output_details()]

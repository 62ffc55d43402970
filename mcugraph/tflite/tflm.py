"""Run .tflite models in TFLite Micro (the ground truth) and LiteRT, and read TFLM's own arena figures.

Both runtimes run in one child process (:mod:`mcugraph.tflite.tflm_worker`), started on first use and reused:
TFLM does not verify the flatbuffers it runs, and on a corrupt file it segfaults, aborts or loops forever inside
``from_bytes``/``invoke``. In the child that becomes :class:`~mcugraph.errors.RuntimeFailure` ("TFLite Micro
crashed (SIGSEGV) ..." / "... timed out after 120 s ..."), the child is restarted for the next call, and the
mcugraph process lives on. Every model goes there, the ones mcugraph wrote itself included: the one-time start
(~0.4 s) and the per-call pickling are small next to a verified export, and a writer bug that makes TFLM crash
is then an error line too instead of a dead process (docs/reliability.md has the measured cost).

TFLM prints its allocations to C stderr; the child captures that descriptor. "head" is the part of the arena that
holds planned activations: the number that must match our predicted arena byte for byte.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mcugraph.errors import ExportError, RuntimeFailure
from mcugraph.runtime_guard import reason
from mcugraph.tflite import tflm_worker

TIMEOUT_ENV = "MCUGRAPH_TFLM_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 120.0  # per request; a verified export of an MLPerf Tiny model needs a few seconds


@dataclasses.dataclass(frozen=True)
class Allocations:
    head_bytes: int
    tail_bytes: int
    total_bytes: int
    report: str


def allocations(data: bytes, source: str = "model") -> Allocations:
    """TFLM's arena use for ``data``, as ``print_allocations()`` reports it."""
    report = _call("allocations", (bytes(data),), "TFLite Micro", "loading the model", source)

    def field(name: str) -> int:
        match = re.search(rf"Arena allocation {name} (\d+) bytes", report)
        if not match:
            raise ExportError(f"TFLite Micro printed no arena '{name}' figure; its report was: {report[:200]!r}")
        return int(match.group(1))

    return Allocations(field("head"), field("tail"), field("total"), report)


def arena_head(data: bytes, source: str = "model") -> int:
    """Bytes of TFLM's planned activation arena ("Arena allocation head") for the model ``data``."""
    return allocations(data, source).head_bytes


def _output_count(data: bytes, source: str) -> int:
    from mcugraph.tflite.schema import schema

    try:
        return schema.Model.GetRootAs(data, 0).Subgraphs(0).OutputsLength()
    except Exception as e:  # noqa: BLE001 - a corrupt flatbuffer fails anywhere in the generated reader
        raise RuntimeFailure(f"{source}: the .tflite has no readable subgraph 0 ({reason(e)}); re-export it") from e


def run_tflm(data: bytes, inputs: Sequence[np.ndarray], source: str = "model") -> list[np.ndarray]:
    """Invoke the model once in TFLM on ``inputs`` (already in the model's input dtypes) and return outputs."""
    return run_tflm_batch(data, [inputs], source)[0]


def run_tflm_batch(
    data: bytes, batch: Sequence[Sequence[np.ndarray]], source: str = "model"
) -> list[list[np.ndarray]]:
    """Run many samples through one interpreter (``reset()`` between them): far faster than reloading."""
    batch = [[np.asarray(x, order="C") for x in inputs] for inputs in batch]
    args = (bytes(data), batch, _output_count(data, source))
    return _call("tflm", args, "TFLite Micro", "running the model", source)


def run_litert(data: bytes, inputs: Sequence[np.ndarray], source: str = "model") -> list[np.ndarray]:
    """Invoke the model once in LiteRT (``ai-edge-litert``), the second interpreter."""
    args = (bytes(data), [np.asarray(x, order="C") for x in inputs])
    return _call("litert", args, "LiteRT", "running the model", source)


def litert_refusal(data: bytes, source: str = "model") -> str | None:
    """LiteRT's reason for refusing to load, allocate or invoke ``data`` (zeros in), or None when it runs it."""
    return _call("litert_refusal", (bytes(data),), "LiteRT", "checking the model", source)


def prestart() -> None:
    """Start the runtime child now (if it is not running) without waiting for it: its ~0.4 s of imports then
    overlap with the caller's own work (canonicalisation, calibration) instead of delaying the first TFLM call."""
    _Worker.get()


def timeout_s() -> float:
    """Seconds one request may take: ``$MCUGRAPH_TFLM_TIMEOUT_S`` or 120."""
    try:
        value = float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_S))
    except ValueError:
        value = DEFAULT_TIMEOUT_S
    return value if value > 0 else DEFAULT_TIMEOUT_S


def _call(op: str, args: tuple, runtime: str, action: str, source: str):
    worker = _Worker.get()
    status, result = worker.request(op, args, runtime, action, source)
    if status != "ok":
        raise RuntimeFailure(f"{source}: {runtime} failed {action}: {result[:300]}; the model is invalid for it")
    return result


class _Worker:
    """The child process running :mod:`mcugraph.tflite.tflm_worker`, one per mcugraph process."""

    _current: _Worker | None = None

    @classmethod
    def get(cls) -> _Worker:
        worker = cls._current
        if worker is None or worker.owner != os.getpid() or worker.proc.poll() is not None:
            cls._current = worker = cls()  # first use, after a fork, or after a crash/timeout
        return worker

    def __init__(self) -> None:
        self.owner = os.getpid()
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-P", str(Path(tflm_worker.__file__))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, bufsize=0,
        )
        atexit.register(self.close)

    def request(self, op: str, args: tuple, runtime: str, action: str, source: str) -> tuple[str, object]:
        limit = timeout_s()
        try:
            self.proc.stdin.write(tflm_worker.frame((op, args)))
            reply = self._read_frame(limit)
        except BrokenPipeError:
            reply = None
        if reply is TimeoutError:
            self.close()
            raise RuntimeFailure(
                f"{source}: {runtime} timed out on this model after {limit:g} s {action}; the file is corrupt or "
                f"far too large (raise ${TIMEOUT_ENV} for a huge model)"
            )
        if reply is None:
            raise RuntimeFailure(
                f"{source}: {runtime} crashed on this model ({self._death()}) {action}; the file is corrupt or "
                "not a model TFLite can run, re-export it"
            )
        return reply

    def _read_frame(self, limit: float):
        header = self._read_exact(8, limit)
        if header is None or header is TimeoutError:
            return header
        body = self._read_exact(int.from_bytes(header, "little"), limit)
        if body is None or body is TimeoutError:
            return body
        return tflm_worker.pickle.loads(body)

    def _read_exact(self, count: int, limit: float):
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + limit
        chunks, got = [], 0
        while got < count:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                return TimeoutError
            chunk = os.read(fd, min(count - got, 1 << 20))
            if not chunk:
                return None  # the child died
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def _death(self) -> str:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.close()
            return "no reply"
        self.stderr.seek(0)
        lines = self.stderr.read().decode(errors="replace").strip().splitlines()
        last = f", last words: {lines[-1][:120]!r}" if lines else ""
        if code < 0:
            try:
                return f"{signal.Signals(-code).name}{last}"
            except ValueError:
                return f"signal {-code}{last}"
        return f"exit code {code}{last}"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None and not stream.closed:
                stream.close()

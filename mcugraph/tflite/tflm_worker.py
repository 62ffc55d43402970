"""The child side of :mod:`mcugraph.tflite.tflm`: runs TFLite Micro and LiteRT on request, nothing else.

TFLite Micro trusts the flatbuffer it is given: on a corrupt .tflite it can segfault, divide by zero, abort or
loop inside ``Interpreter.from_bytes`` or ``invoke``, which would kill (or hang) the Python process calling it.
So mcugraph runs it here, in a child process started as ``python -P tflm_worker.py``; the parent turns a dead or
silent child into one error line. This file imports only numpy, tflite_micro and ai_edge_litert (not mcugraph,
which would cost a second of imports per start) so that it starts in ~0.4 s.

Protocol: frames of ``<Q length><pickle>`` on the child's stdin and on a duplicate of its stdout (fd 1 itself is
redirected to stderr, so that a runtime printing on stdout cannot corrupt a reply). A request is ``(op, args)``
with ``op`` one of :data:`OPS`; a reply is ``("ok", result)`` or ``("error", message)``.
"""

from __future__ import annotations

import os
import pickle
import struct
import sys
import tempfile

import numpy as np

DEFAULT_ARENA_BYTES = 16 * 1024 * 1024
_HEADER = struct.Struct("<Q")


def capture_fd2(fn) -> str:
    """Run ``fn()`` with C file descriptor 2 redirected; return what was written there (TFLM prints on it)."""
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


def _interpreter(data: bytes, arena_bytes: int = DEFAULT_ARENA_BYTES):
    from tflite_micro import runtime

    return runtime.Interpreter.from_bytes(bytes(data), arena_size=arena_bytes)


def allocations_report(data: bytes) -> str:
    """What TFLM's ``print_allocations()`` prints for the model ``data``."""
    return capture_fd2(_interpreter(data).print_allocations)


def run_tflm_batch(data: bytes, batch, output_count: int) -> list[list[np.ndarray]]:
    """Outputs of every sample of ``batch`` through one TFLM interpreter (``reset()`` between samples)."""
    interp = _interpreter(data)
    results = []
    for inputs in batch:
        for i, x in enumerate(inputs):
            interp.set_input(np.asarray(x, order="C"), i)
        interp.invoke()
        results.append([np.array(interp.get_output(i)) for i in range(output_count)])
        interp.reset()
    return results


def _litert(data: bytes):
    """LiteRT's builtin kernels without its default XNNPACK delegate: the target is TFLM, whose kernels are the
    reference ones; XNNPACK refuses some valid int8 models (an unrolled GRU) that the builtins run."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    return Interpreter(model_content=bytes(data), num_threads=1,
                       experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)


def run_litert(data: bytes, inputs) -> list[np.ndarray]:
    """Outputs of one LiteRT invocation (builtin kernels, no default delegate); its C stderr is swallowed."""
    outputs: list[np.ndarray] = []

    def run() -> None:
        interp = _litert(data)
        interp.allocate_tensors()
        for detail, x in zip(interp.get_input_details(), inputs, strict=False):
            interp.set_tensor(detail["index"], np.asarray(x, order="C"))
        interp.invoke()
        outputs.extend(np.array(interp.get_tensor(d["index"])) for d in interp.get_output_details())

    capture_fd2(run)
    return outputs


def litert_refusal(data: bytes) -> str | None:
    """Why LiteRT refuses to load, allocate or invoke (on zeros) the model ``data``; None when it runs it."""
    refusal: list[str] = []

    def run() -> None:
        try:
            interp = _litert(data)
            interp.allocate_tensors()
            for detail in interp.get_input_details():
                interp.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
            interp.invoke()
        except Exception as e:  # noqa: BLE001 - the refusal is the answer
            refusal.append(" ".join(str(e).split()) or type(e).__name__)

    capture_fd2(run)
    return refusal[0] if refusal else None


OPS = {"allocations": allocations_report, "tflm": run_tflm_batch, "litert": run_litert, "litert_refusal": litert_refusal}


def read_frame(stream) -> object | None:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (length,) = _HEADER.unpack(header)
    return pickle.loads(stream.read(length))


def frame(message: object) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(body)) + body


def serve() -> None:
    """Answer requests until stdin closes."""
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed on stdout by a runtime goes to stderr, never into a reply
    requests = sys.stdin.buffer
    while (request := read_frame(requests)) is not None:
        op, args = request
        try:
            reply = ("ok", OPS[op](*args))
        except Exception as e:  # noqa: BLE001 - reported to the parent, which raises RuntimeFailure
            text = " ".join(str(e).split()) or type(e).__name__
            reply = ("error", f"{type(e).__name__}: {text}")
        replies.write(frame(reply))
        replies.flush()


if __name__ == "__main__":
    serve()

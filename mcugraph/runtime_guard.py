"""One guard around the third-party runtimes mcugraph calls: onnxruntime, LiteRT and TFLite Micro.

Their failures arrive as whatever each one throws (``onnxruntime.capi...Fail``/``InvalidGraph``/
``InvalidArgument``, LiteRT's ``RuntimeError``/``ValueError``, TFLM's ``RuntimeError``) with C++ source locations
and multi-line dumps inside. :func:`guarded` turns every one of them into a one-line
:class:`~mcugraph.errors.RuntimeFailure` that says which runtime, doing what, on which model. A native crash or an
endless loop cannot be caught in-process at all: TFLite Micro therefore runs in a child process
(:mod:`mcugraph.tflite.tflm_child`), which reports those as ``RuntimeFailure`` through the same wording.
"""

from __future__ import annotations

import contextlib
import re

from mcugraph.errors import MCUGraphError, RuntimeFailure

_SOURCE_LOCATION = re.compile(r"(/\S+\.(cc|cpp|h|py):\d+\S*\s*(\S+\(.*?\)\s*)?)")
MAX_REASON_CHARS = 300


def reason(error: BaseException) -> str:
    """``error``'s message as one short line: no C++ source paths, no newlines, at most 300 characters."""
    text = " ".join(str(error).split())
    text = _SOURCE_LOCATION.sub("", text).strip(" :")
    text = re.sub(r"^\[ONNXRuntimeError\] : \d+ : ", "", text)
    if not text:
        text = type(error).__name__
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 3] + "..."


@contextlib.contextmanager
def guarded(runtime: str, action: str, where: str = "model", hint: str = "the model is invalid for it; re-export it"):
    """Run the body; any exception it raises (other than an mcugraph error) becomes a :class:`RuntimeFailure`.

    ``runtime`` is "onnxruntime", "LiteRT" or "TFLite Micro"; ``action`` a gerund phrase ("loading the model").
    """
    try:
        yield
    except MCUGraphError:
        raise
    except MemoryError as e:
        raise RuntimeFailure(f"{where}: {runtime} ran out of memory {action}; the model is too large to run here") from e
    except Exception as e:  # noqa: BLE001 - the point of this guard: any third-party failure, one line
        raise RuntimeFailure(f"{where}: {runtime} failed {action}: {reason(e)}; {hint}") from e

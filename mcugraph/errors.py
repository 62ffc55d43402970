"""The few exception types mcugraph raises.

Every message says what is wrong, where (file, node, op) and what to do, in one line. The CLI prints
``error: <message>`` on stderr and exits with code 2 for any :class:`MCUGraphError`; anything else is a bug.
Chain the cause with ``raise ... from e`` so a Python user still sees it.
"""

from __future__ import annotations


class MCUGraphError(Exception):
    """Base class: a problem with the user's input or request, not a bug in mcugraph."""


class ModelLoadError(MCUGraphError):
    """The model file or object cannot be read (missing, not ONNX, truncated)."""


class UnsupportedOpError(MCUGraphError):
    """One or more nodes use ops mcugraph cannot handle. ``nodes`` lists every one of them, ``reasons`` (when
    given) says why for each, in the same order."""

    def __init__(self, message: str, nodes: list[tuple[str, str]] | None = None, reasons: list[str] | None = None):
        super().__init__(message)
        self.nodes = list(nodes or [])  # (node name, op type)
        self.reasons = list(reasons or [""] * len(self.nodes))

    @property
    def offenders(self) -> list[tuple[str, str, str]]:
        """(node name, op type, reason) per node."""
        return [(name, op, why) for (name, op), why in zip(self.nodes, self.reasons, strict=True)]


class ShapeError(MCUGraphError):
    """A shape is dynamic and cannot be fixed, or data does not match the model's input shape."""


class InvalidModelError(MCUGraphError):
    """The model is readable but wrong: NaN/Inf weights, dangling values, several subgraphs, ..."""


class PipelineError(MCUGraphError):
    """A pipeline string names an unknown pass or gives it a bad option."""


class DataError(MCUGraphError):
    """Calibration or training data is missing, empty, or of the wrong shape/dtype/range."""


class BudgetError(MCUGraphError):
    """A resource budget (SRAM, flash, MACs) cannot be met."""


class ExportError(MCUGraphError):
    """The model cannot be written as a correct TFLite file, or verification failed."""


class RuntimeFailure(MCUGraphError):
    """onnxruntime, LiteRT or TFLite Micro refused the model, failed on it, crashed or timed out
    (:mod:`mcugraph.runtime_guard`)."""


class OutputPathError(MCUGraphError):
    """An output path cannot be written: read-only, a folder, under a file, missing folder, or the input itself."""


def unsupported_ops_error(nodes: list[tuple[str, str]], what: str, hint: str) -> UnsupportedOpError:
    """One error naming *all* offending nodes at once: ``nodes`` is a list of (node name, op type)."""
    listed = ", ".join(f"{name} ({op})" for name, op in nodes)
    return UnsupportedOpError(f"{len(nodes)} node(s) {what}: {listed}; {hint}", nodes)


class TargetError(MCUGraphError):
    """The firmware for a target cannot be built or run: no toolchain, no TFLM tree, an unknown target, a build
    error, an emulator run that faults or hangs (:mod:`mcugraph.target`)."""

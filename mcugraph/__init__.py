"""mcugraph: fit neural networks on microcontrollers.

Lift any ONNX model into an onnx-ir IR (:func:`load`), run passes on it (:func:`run_pipeline`), analyse SRAM,
flash and MACs, prune it, schedule it for minimal peak SRAM and export int8 TFLite for TFLite Micro.
"""

from mcugraph.analysis import analyze
from mcugraph.errors import MCUGraphError
from mcugraph.load import load, save
from mcugraph.optimize import OptimizeResult, optimize
from mcugraph.pipeline import CANONICALIZE, run_pipeline
from mcugraph.registry import build_pipeline, known_passes, register

__all__ = [
    "CANONICALIZE",
    "MCUGraphError",
    "OptimizeResult",
    "analyze",
    "build_pipeline",
    "known_passes",
    "load",
    "optimize",
    "register",
    "run_pipeline",
    "save",
]

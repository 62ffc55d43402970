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


def __getattr__(name: str):
    # Lazy: ``mcugraph.prune(...)`` imports torch only when pruning is used.
    if name in ("prune", "PruneResult"):
        import mcugraph.prune as package
        from mcugraph.prune.api import PruneResult

        return package if name == "prune" else PruneResult
    raise AttributeError(f"module 'mcugraph' has no attribute {name!r}")


__all__ = [
    "CANONICALIZE",
    "MCUGraphError",
    "OptimizeResult",
    "PruneResult",
    "analyze",
    "build_pipeline",
    "known_passes",
    "load",
    "optimize",
    "prune",
    "register",
    "run_pipeline",
    "save",
]

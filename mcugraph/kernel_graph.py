"""The graph as it will run on the microcontroller: kernels (one TFLM operator each) over tensors.

This is the seam between the IR and everything that reasons about SRAM. ``mcugraph.memory.kernel_view`` builds a
:class:`KernelGraph` from an onnx-ir model (activations fused into the kernel before them, layout transposes the
exporter removes left out, ops named as the TFLite builtin they lower to); ``mcugraph.memory.tflite_graph`` builds
one from a .tflite file. Liveness, peak memory, scheduling and arena planning only ever see a ``KernelGraph``, so
the ONNX and .tflite paths share one memory model, and the exporter writes kernels in the order the scheduler chose.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    itemsize: int  # bytes per element at the deployment dtype (int8: 1, float32: 4, int32 bias: 4)
    constant: bool = False  # weights and biases live in flash: 0 bytes of SRAM

    @property
    def nbytes(self) -> int:
        """Raw size in bytes, before TFLM's 16-byte rounding."""
        return math.prod(self.shape) * self.itemsize


@dataclasses.dataclass(frozen=True)
class Kernel:
    name: str
    op: str  # TFLite builtin name it runs as: "CONV_2D", "ADD", "RESHAPE", ...
    inputs: tuple[str, ...]  # tensor names, constants included, in operator input order
    outputs: tuple[str, ...]
    nodes: tuple[str, ...] = ()  # names of the IR nodes this kernel executes (main node first, then fused ones)
    # Raw bytes of each scratch buffer TFLM's kernel requests in the arena (mcugraph.memory.scratch), in request
    # order; each lives only while this kernel runs.
    scratch_bytes: tuple[int, ...] = ()
    # The fused_activation_function TFLM applies ("NONE", "RELU", "RELU6", "RELU_N1_TO_1"): decided once by the
    # kernel view, written as is by the exporter.
    activation: str = "NONE"


@dataclasses.dataclass(frozen=True)
class KernelGraph:
    tensors: dict[str, TensorInfo]
    kernels: tuple[Kernel, ...]  # in the given (stored) execution order
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    # True when shapes are the arena layout TFLM stores (a graph read from a .tflite); False for the kernel view of
    # an ONNX model, whose 4-D shapes are NCHW while TFLM stores NHWC: byte ranges cannot be read off its shapes.
    storage_shapes: bool = False

    def kernel(self, name: str) -> Kernel:
        for k in self.kernels:
            if k.name == name:
                return k
        raise KeyError(name)

    def producers(self) -> dict[str, Kernel]:
        """Tensor name -> the kernel that writes it."""
        return {t: k for k in self.kernels for t in k.outputs}

    def consumers(self) -> dict[str, list[Kernel]]:
        """Tensor name -> kernels that read it (in stored order)."""
        result: dict[str, list[Kernel]] = {}
        for k in self.kernels:
            for t in dict.fromkeys(k.inputs):
                result.setdefault(t, []).append(k)
        return result

    def reordered(self, order: Iterable[str]) -> KernelGraph:
        """The same graph with kernels in ``order`` (kernel names; must be a permutation)."""
        by_name = {k.name: k for k in self.kernels}
        kernels = tuple(by_name[n] for n in order)
        if len(kernels) != len(self.kernels) or len(set(order := [k.name for k in kernels])) != len(order):
            raise ValueError("order must name every kernel exactly once")
        return dataclasses.replace(self, kernels=kernels)

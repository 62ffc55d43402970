"""The distillation teacher with augmentation: the frozen unpruned module, run on every training batch's view.

With ``augment=`` every batch is a new view, so the teacher's logits cannot be computed once (``api.py`` does that
without augmentation): it runs a forward per batch, a large share of a pruning run's time on CPU. On CPU a
TorchScript trace of the teacher, frozen and optimised for inference, is faster on some networks and slower on
others (docs/results/2026-12-02-docstring-measurements.md). So it is measured, not assumed: for each input shape
(the last batch of an epoch is smaller) the first call traces the teacher, checks the traced logits equal the eager
ones, times both and keeps the faster; a trace that fails or differs keeps the eager module. Off CPU the eager
module is used.
"""

from __future__ import annotations

import time
import warnings

import torch
from torch import nn

TIMING_CALLS = 3  # forwards timed per candidate on the first batch of a shape


class Teacher:
    """Callable like ``module``: ``teacher(*inputs)`` returns the module's outputs, under ``torch.no_grad``."""

    def __init__(self, module: nn.Module):
        self.module = module.eval().requires_grad_(False)
        self.chosen: dict[tuple, object] = {}  # input shapes -> the callable kept for them

    def __call__(self, *inputs: torch.Tensor):
        with torch.no_grad():
            key = tuple(tuple(x.shape) for x in inputs)
            run = self.chosen.get(key)
            if run is None:
                run = self.chosen[key] = self._choose(inputs)
            return run(*inputs)

    def _choose(self, inputs: tuple[torch.Tensor, ...]):
        if any(x.device.type != "cpu" for x in inputs):
            return self.module
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracer warnings about Python-side shape checks
                traced = torch.jit.trace(self.module, inputs, check_trace=False)
                fast = torch.jit.optimize_for_inference(torch.jit.freeze(traced.eval()))
                if not _same(fast(*inputs), self.module(*inputs)):
                    return self.module
        except Exception:  # noqa: BLE001 - any failure to trace means: run the module as it is
            return self.module
        return fast if _seconds(fast, inputs) < _seconds(self.module, inputs) else self.module


def _same(a, b) -> bool:
    a, b = (a if isinstance(a, tuple) else (a,)), (b if isinstance(b, tuple) else (b,))
    return len(a) == len(b) and all(x.shape == y.shape and torch.allclose(x, y, rtol=1e-4, atol=1e-4)
                                    for x, y in zip(a, b, strict=True))


def _seconds(run, inputs) -> float:
    run(*inputs)  # warm-up: the first call of a frozen module compiles
    start = time.perf_counter()
    for _ in range(TIMING_CALLS):
        run(*inputs)
    return time.perf_counter() - start

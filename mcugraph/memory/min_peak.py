"""The chain every exporter-side consumer runs on a model: kernel view, min-peak schedule, arena plan of that order.

``mcugraph opt`` writes this order and plan, pruning's exact resources price the model by it, and the TFLM probe
exports with it, so all three go through :func:`plan_min_peak` and a caller that needs two of them plans once.
"""

from __future__ import annotations

import dataclasses

import onnx_ir as ir

from mcugraph.kernel_graph import KernelGraph
from mcugraph.memory.kernel_view import kernel_view
from mcugraph.memory.planner import ArenaPlan, plan_arena
from mcugraph.memory.schedule import Schedule, schedule_min_peak


@dataclasses.dataclass(frozen=True)
class MinPeakPlan:
    """The kernels of a model, their min-peak ``schedule`` and the arena ``plan`` of ``schedule.order``."""

    graph: KernelGraph
    schedule: Schedule
    plan: ArenaPlan


def plan_min_peak(model: ir.Model, dtype: str = "int8", io_dtype: str = "int8", inplace: bool = True) -> MinPeakPlan:
    """``kernel_view(model, dtype, io_dtype)``, then ``schedule_min_peak`` and ``plan_arena`` of its order, both with
    their default time limits and ``inplace``. Raises what ``kernel_view`` raises (``UnsupportedOpError`` for an op
    TFLM does not run)."""
    graph = kernel_view(model, dtype, io_dtype=io_dtype)
    schedule = schedule_min_peak(graph, inplace=inplace)
    return MinPeakPlan(graph, schedule, plan_arena(graph, schedule.order, inplace=inplace))

"""Reschedule a .tflite file for the smallest TFLM arena, write the plan into it, and prove it in TFLM.

:func:`schedule_tflite` reads the model as a :class:`~mcugraph.kernel_graph.KernelGraph`, finds the kernel order
with the smallest peak (``schedule_min_peak``), places every activation (``plan_arena``, in-place reuse where
:mod:`mcugraph.memory.inplace` allows it), then writes the operators in that order and the offsets as TFLM's
``OfflineMemoryAllocation`` metadata. It refuses to return a model unless TFLM, running it, (a) reports an arena
head equal to the predicted arena byte for byte and (b) gives outputs bit-exact with the input model on random
inputs. Anything else raises :class:`~mcugraph.errors.ExportError`.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from mcugraph.errors import ExportError
from mcugraph.kernel_graph import Kernel, KernelGraph
from mcugraph.memory.liveness import in_arena
from mcugraph.memory.planner import ArenaPlan, check_plan, plan_arena
from mcugraph.memory.schedule import schedule_min_peak
from mcugraph.memory.tflite_graph import kernel_graph_from_model, read_model, tensor_names
from mcugraph.tflite import schema as tfl
from mcugraph.tflite.offline_plan import ONLINE, read_offline_plan, reorder_operators, write_offline_plan
from mcugraph.tflite.tflm import arena_head, prestart, run_tflm_batch

VERIFY_SAMPLES = 3
START_KERNEL = "<graph inputs>"  # stands for TFLM's allocation scope 0 (see _with_start_kernel)


@dataclasses.dataclass(frozen=True)
class ScheduleReport:
    head_before_bytes: int  # TFLM's arena head for the input model (its own order and greedy plan)
    head_after_bytes: int  # TFLM's arena head for the written model: equals predicted_bytes (verified)
    predicted_bytes: int  # arena of our plan
    lower_bound_bytes: int  # peak live bytes of the chosen order: no plan of that order is smaller
    given_peak_bytes: int  # peak live bytes of the stored order (same in-place setting)
    optimal: bool  # the scheduler proved its order's peak minimal
    inplace: bool
    order: tuple[str, ...]  # kernel names ("<stored index>:<BUILTIN>") in the written order
    # plan and graph may carry one more kernel, START_KERNEL, first: TFLM's scope 0 when a graph input is unread
    seconds: float  # scheduling + planning (verification in TFLM not included)
    verify_seconds: float
    plan: ArenaPlan
    graph: KernelGraph


def random_inputs(model: tfl.schema.ModelT, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    subgraph = model.subgraphs[0]
    result = []
    for index in subgraph.inputs:
        t = subgraph.tensors[index]
        shape = tuple(int(d) for d in t.shape) if t.shape is not None else ()
        if t.type == tfl.schema.TensorType.INT8:
            result.append(rng.integers(-128, 128, shape, dtype=np.int8))
        elif t.type == tfl.schema.TensorType.UINT8:
            result.append(rng.integers(0, 256, shape, dtype=np.uint8))
        elif t.type == tfl.schema.TensorType.INT16:
            result.append(rng.integers(-32768, 32768, shape, dtype=np.int16))
        elif t.type == tfl.schema.TensorType.FLOAT32:
            result.append(rng.standard_normal(shape).astype(np.float32))
        else:  # indices, flags: small values every op accepts
            dtype = {tfl.schema.TensorType.INT32: np.int32, tfl.schema.TensorType.INT64: np.int64}.get(t.type, np.bool_)
            result.append(rng.integers(0, 2, shape).astype(dtype))
    return result


def _with_start_kernel(graph: KernelGraph) -> KernelGraph:
    """``graph`` with a first kernel that reads every graph input, when some graph input is read by no kernel.

    TFLM creates all graph inputs at allocation scope 0, before the first operator (whose outputs start at scope
    1). mcugraph.memory's steps are kernels, so an input nobody reads would share step 0 with the first kernel's
    outputs; this kernel gives scope 0 a step of its own, and TFLM's lifetimes are then reproduced exactly.
    """
    read = {t for k in graph.kernels for t in k.inputs}
    if all(t in read or t in graph.outputs or not in_arena(graph, t) for t in graph.inputs):
        return graph
    start = Kernel(START_KERNEL, "GRAPH_INPUTS", tuple(dict.fromkeys(graph.inputs)), ())
    return dataclasses.replace(graph, kernels=(start, *graph.kernels))


def _best_plan(graph: KernelGraph, inplace: bool, time_limit_s: float):
    schedule = schedule_min_peak(graph, inplace=inplace, time_limit_s=time_limit_s)
    # The start kernel (if any) goes first: later, it would only keep the graph inputs alive longer.
    order = [name for name in schedule.order if name != START_KERNEL]
    order = [START_KERNEL, *order] if len(order) < len(schedule.order) else order
    scheduled = plan_arena(graph, order, inplace=inplace)
    # The scheduler minimises peak live bytes, not the placed arena; the stored order can still place better.
    stored = plan_arena(graph, [k.name for k in graph.kernels], inplace=inplace)
    plan = scheduled if scheduled.arena_bytes <= stored.arena_bytes else stored
    return schedule, plan


def schedule_tflite(
    data: bytes, inplace: bool = True, time_limit_s: float = 10.0, source: str = "model"
) -> tuple[bytes, ScheduleReport]:
    """The model ``data`` with operators reordered and an offline arena plan, verified in TFLM; and a report.

    Raises ``ModelLoadError`` (not TFLite), ``InvalidModelError`` (several subgraphs, variable tensors, a foreign
    offline plan) or ``ExportError`` (TFLM cannot run it, or the written model fails verification).
    """
    model = read_model(data, source)
    prestart()  # the child imports TFLM while the model is scheduled (only after the file passed the checks)
    graph = _with_start_kernel(kernel_graph_from_model(model, source))
    read_offline_plan(model)  # a plan mcugraph does not understand is reported before it is replaced
    head_before = arena_head(data, source)

    start = time.perf_counter()
    schedule, plan = _best_plan(graph, inplace, time_limit_s)
    check_plan(plan, graph)
    order = tuple(name for name in plan.order if name != START_KERNEL)
    seconds = time.perf_counter() - start

    # Kernel "<i>:<OP>" is stored operator i: the order maps straight back to operator indices.
    reorder_operators(model, [int(name.split(":", 1)[0]) for name in order])
    write_offline_plan(model, [plan.offsets.get(name, ONLINE) for name in tensor_names(model)])
    scheduled = tfl.pack(model)

    start = time.perf_counter()
    head_after = arena_head(scheduled, source)
    if head_after != plan.arena_bytes:
        raise ExportError(
            f"{source}: TFLM plans {head_after} B of arena for the scheduled model but mcugraph predicted "
            f"{plan.arena_bytes} B: this is a bug in mcugraph's memory model (mcugraph.memory); nothing written, "
            "report this model (retrying with --no-inplace may avoid it)"
        )
    samples = [random_inputs(model, seed) for seed in range(VERIFY_SAMPLES)]
    verified = zip(run_tflm_batch(data, samples, source), run_tflm_batch(scheduled, samples, source), strict=True)
    for i, (want, got) in enumerate(verified):
        for j, (a, b) in enumerate(zip(want, got, strict=True)):
            # Bytes, not values: bit-exact, and a NaN the model computes on random inputs still compares equal.
            if a.shape != b.shape or a.dtype != b.dtype or a.tobytes() != b.tobytes():
                raise ExportError(
                    f"{source}: output {j} of the scheduled model differs from the input model on random sample "
                    f"{i}; nothing written, retry with --no-inplace and report this model"
                )
    verify_seconds = time.perf_counter() - start

    report = ScheduleReport(
        head_before_bytes=head_before,
        head_after_bytes=head_after,
        predicted_bytes=plan.arena_bytes,
        lower_bound_bytes=plan.lower_bound_bytes,
        given_peak_bytes=schedule.given_peak_bytes,
        optimal=schedule.optimal,
        inplace=inplace,
        order=order,
        seconds=seconds,
        verify_seconds=verify_seconds,
        plan=plan,
        graph=graph,
    )
    return scheduled, report

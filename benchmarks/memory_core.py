"""The SRAM core on its own: min-peak scheduling and arena planning, without writing or running any .tflite.

Run: ``python benchmarks/memory_core.py [--time-limit S] [--no-synthetic]``. One row per graph:

- ``given``: peak live bytes of the stored order (TFLM rules, 16-byte rounding, in-place ADD/SUB/MUL/RESHAPE);
- ``sched``: the same for ``schedule_min_peak``'s order, ``opt`` whether it is proven minimal, and its seconds;
- ``tflm``: what TFLM's own greedy planner needs for the stored order without in-place (its "arena head");
- ``plan``: ``plan_arena`` of the scheduled order, ``lb`` its lower bound (= sched), ``p-opt`` proven, seconds.

Graphs: the zoo models and the MLPerf Tiny ONNX models (``kernel_view`` after ``CANONICALIZE``), the MLPerf int8
.tflite references (``tflite_graph``), and synthetic wide graphs (k parallel chains) that stress the exact search.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "models" / "mlperf-tiny"
MLPERF = ("kws_dscnn", "vww_mobilenetv1", "ic_resnet8", "ad_autoencoder")


def _graphs(synthetic: bool):
    import mcugraph
    from mcugraph import zoo
    from mcugraph.memory.kernel_view import kernel_view

    for name in zoo.MODELS:
        model = mcugraph.run_pipeline(mcugraph.load(zoo.onnx_model(name)), mcugraph.CANONICALIZE).model
        yield f"zoo/{name}", kernel_view(model)
    if SHARED.is_dir():
        from mcugraph.memory.tflite_graph import kernel_graph_from_tflite

        for name in MLPERF:
            model = mcugraph.run_pipeline(mcugraph.load(SHARED / f"{name}.onnx"), mcugraph.CANONICALIZE).model
            yield f"onnx/{name}", kernel_view(model)
            yield f"tflite/{name}", kernel_graph_from_tflite((SHARED / f"{name}.int8.tflite").read_bytes())
    if synthetic:
        for count, length in ((6, 3), (8, 3), (10, 2), (12, 2), (16, 1)):
            yield f"chains/{count}x{length}", _parallel_chains(count, length)


def _parallel_chains(count: int, length: int):
    from mcugraph.kernel_graph import Kernel, KernelGraph, TensorInfo

    tensors = {"x": TensorInfo("x", (16,), 1), "y": TensorInfo("y", (16,), 1)}
    kernels, ends = [], []
    for c in range(count):
        previous = "x"
        for i in range(length):
            name = f"c{c}_{i}"
            tensors[name] = TensorInfo(name, (16 * (1 + (c * 7 + i * 3) % 5),), 1)
            kernels.append(Kernel(name, "CONV_2D", (previous,), (name,)))
            previous = name
        ends.append(previous)
    kernels.append(Kernel("cat", "CONCATENATION", tuple(ends), ("y",)))
    return KernelGraph(tensors, tuple(kernels), ("x",), ("y",))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds for the schedule search per graph")
    parser.add_argument("--no-synthetic", action="store_true", help="skip the synthetic wide graphs")
    args = parser.parse_args()

    from mcugraph.memory.planner import check_plan, plan_arena, tflm_greedy_plan
    from mcugraph.memory.schedule import schedule_min_peak

    header = (f"{'graph':<24} {'kernels':>7} {'given':>8} {'sched':>8} {'opt':>5} {'sched s':>8} "
              f"{'tflm':>8} {'plan':>8} {'lb':>8} {'p-opt':>5} {'plan s':>7}")
    print(header)
    print("-" * len(header))
    for name, graph in _graphs(not args.no_synthetic):
        schedule = schedule_min_peak(graph, time_limit_s=args.time_limit)
        start = time.perf_counter()
        plan = plan_arena(graph, schedule.order)
        plan_seconds = time.perf_counter() - start
        check_plan(plan, graph)
        print(f"{name:<24} {len(graph.kernels):>7} {schedule.given_peak_bytes:>8} {schedule.peak_bytes:>8} "
              f"{schedule.optimal!s:>5} {schedule.seconds:>8.3f} {tflm_greedy_plan(graph).arena_bytes:>8} "
              f"{plan.arena_bytes:>8} {plan.lower_bound_bytes:>8} {plan.optimal!s:>5} {plan_seconds:>7.3f}")


if __name__ == "__main__":
    main()

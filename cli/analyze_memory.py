"""The SRAM part of ``mcugraph analyze``: its options, .tflite input, and filling the report's memory fields.

Kept out of ``cli/analyze.py`` so that command stays a straight line: ``add_memory_arguments`` adds ``--order``,
``--dtype``, ``--no-inplace``, ``--time-limit``, ``--plan-json`` and ``--plan-header``; ``tflite_report`` reads a
.tflite model; ``with_memory_from_args`` fills live bytes per node, peak, arena and lower bound and returns the
memory timeline panel for ``--plot``; ``memory_figures`` does the same and returns the profile and plan behind them
(the HTML report draws the arena from them).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from mcugraph.cli.schedule import positive_seconds
from mcugraph.errors import MCUGraphError, ModelLoadError, UnsupportedOpError
from mcugraph.kernel_graph import KernelGraph
from mcugraph.memory.peak import MemoryProfile
from mcugraph.memory.planner import ArenaPlan


def add_memory_arguments(parser: argparse.ArgumentParser, order_help: str | None = None) -> None:
    parser.add_argument(
        "--order", choices=("given", "optimal"), default=None,
        help=order_help or "kernel order the memory figures are for: the model's own, or the min-peak schedule "
        "(default: given; memory is then skipped with a warning if the model has ops TFLM cannot run)",
    )
    parser.add_argument("--dtype", choices=("int8", "float32"), default="int8",
                        help="deployment dtype of activations and weights (default: int8)")
    parser.add_argument("--no-inplace", dest="inplace", action="store_false",
                        help="never let an ADD/SUB/MUL/RESHAPE output reuse its input's bytes")
    parser.add_argument("--time-limit", type=positive_seconds, default=10.0, metavar="S",
                        help="seconds the --order optimal search may take (default: 10)")
    parser.add_argument("--plan-json", metavar="F.json", help="write the arena plan as JSON")
    parser.add_argument("--plan-header", metavar="F.h", help="write the arena plan as a C header")


def is_tflite_file(path: str) -> bool:
    from mcugraph.tflite.schema import is_tflite

    try:
        with open(path, "rb") as f:
            return is_tflite(f.read(8))
    except OSError:
        return False  # the ONNX loader reports the missing file in its own words


def tflite_report(args: argparse.Namespace):
    """(Report, KernelGraph) of the .tflite ``args.model``: one row per operator. Shapes and passes are fixed in a
    .tflite file, so ``--input-shape`` and ``--pipeline`` do not apply to it."""
    from mcugraph.memory.report import report_from_kernel_graph
    from mcugraph.memory.tflite_graph import kernel_graph_from_tflite

    if getattr(args, "groups", False):
        raise MCUGraphError(f"{args.model}: --groups needs the ONNX model; channel groups are not read from .tflite")
    try:
        data = Path(args.model).read_bytes()
    except OSError as e:
        raise ModelLoadError(f"{args.model}: cannot read the model ({e.strerror}); check the path") from e
    graph = kernel_graph_from_tflite(data, Path(args.model).name)
    return report_from_kernel_graph(graph, Path(args.model).stem, flash_bytes=len(data)), graph


@dataclasses.dataclass(frozen=True)
class MemoryFigures:
    """What the memory figures were computed from: the profile and arena plan of ``graph`` in the chosen order;
    ``steps[i]`` is the kernel step of report row ``i`` (None: a row in no kernel)."""

    profile: MemoryProfile
    plan: ArenaPlan
    graph: KernelGraph
    steps: tuple[int | None, ...]

    def timeline_panel(self):
        from mcugraph.memory.report import timeline_panel

        return timeline_panel(self.profile, self.graph, self.steps, self.plan.aliases, self.plan.shared)


def with_memory_from_args(args: argparse.Namespace, report, model=None, graph=None):
    """(report with memory fields, extra --plot panels); writes --plan-json/--plan-header."""
    report, figures = memory_figures(args, report, model, graph)
    return report, [figures.timeline_panel()] if figures is not None else []


def memory_figures(args: argparse.Namespace, report, model=None, graph=None) -> tuple[object, MemoryFigures | None]:
    """(report with memory fields, the figures behind them, or None when the model has no kernel view);
    writes --plan-json/--plan-header."""
    from mcugraph.atomic import atomic_write_text
    from mcugraph.memory.peak import peak_memory
    from mcugraph.memory.planner import check_plan, plan_arena
    from mcugraph.memory.report import plan_header, plan_json, with_memory
    from mcugraph.memory.schedule import schedule_min_peak

    if graph is None:
        from mcugraph.memory.kernel_view import kernel_view

        try:
            graph = kernel_view(model, args.dtype)
        except UnsupportedOpError as e:
            if args.order is not None or args.plan_json or args.plan_header:
                raise
            print(f"mcugraph {getattr(args, 'command', 'analyze')}: warning: no memory figures: {e}", file=sys.stderr)
            return report, None
    if args.order == "optimal":
        order = schedule_min_peak(graph, inplace=args.inplace, time_limit_s=args.time_limit).order
    else:
        order = tuple(k.name for k in graph.kernels)
    profile = peak_memory(graph, order, inplace=args.inplace)
    plan = plan_arena(graph, order, inplace=args.inplace)
    check_plan(plan, graph)
    report, steps = with_memory(report, profile, graph, plan)
    if args.plan_json:
        atomic_write_text(args.plan_json, json.dumps(plan_json(plan, graph), indent=2) + "\n")
    if args.plan_header:
        atomic_write_text(args.plan_header, plan_header(plan, graph, Path(args.model).stem))
    return report, MemoryFigures(profile, plan, graph, tuple(steps))

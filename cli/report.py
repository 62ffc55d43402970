"""``mcugraph report MODEL -o report.html``: one self-contained HTML page to look at instead of a table to read.

The page (:mod:`mcugraph.analysis.html`) shows the memory timeline, the arena layout, the flash bill, the channel
widths before/after pruning (``--prune-report``) and the per-operator table, from the same figures ``mcugraph
analyze`` prints. A .tflite is shown as it runs: its stored operator order and mcugraph's plan of it (the plan
``mcugraph schedule``/``opt`` embed; the page says whether the file holds it). An ONNX model is shown in the order
``mcugraph opt`` would export: the min-peak schedule. ``analyze --html`` and ``opt --html`` write the same page
(``opt``: of the .tflite it wrote).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mcugraph.cli.analyze_memory import add_memory_arguments, is_tflite_file, memory_figures, tflite_report
from mcugraph.cli.common import (
    add_model_arguments,
    add_pipeline_arguments,
    load_model,
    run_pipeline_from_args,
)
from mcugraph.errors import DataError, UnsupportedOpError
from mcugraph.pipeline import CANONICALIZE


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "report", help="write one self-contained HTML page: arena layout, memory timeline, flash, per-op table",
    )
    parser.add_argument("model", help="the model: an .onnx or .tflite file")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.html", help="where to write the page")
    parser.add_argument("--bench", metavar="BENCH.json",
                        help="a chip's measurements (mcugraph bench --json of this .tflite): instructions per "
                             "operator in the table, the firmware's runtime in the flash bill")
    parser.add_argument("--prune-report", metavar="PRUNE.json",
                        help="a pruning report (mcugraph prune --json FILE) whose channel widths the page shows")
    add_model_arguments(parser)
    add_pipeline_arguments(parser, CANONICALIZE)
    # --order, --dtype, --no-inplace, --time-limit, --plan-json, --plan-header. The default order is what will run.
    add_memory_arguments(parser, order_help=(
        "kernel order the page is for (default: given for a .tflite, what runs; optimal for an ONNX model, the "
        "min-peak order mcugraph opt exports; memory is skipped with a warning if the model has ops TFLM cannot run)"))
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mcugraph.analysis.report import analyze

    prune = read_prune_report(args.prune_report) if args.prune_report else None
    tflite, model, graph = None, None, None
    if is_tflite_file(args.model):
        tflite = Path(args.model).read_bytes()
        report, graph = tflite_report(args)
    else:
        model = run_pipeline_from_args(load_model(args), args)
        report = analyze(model, name=Path(args.model).stem, dtype=args.dtype)
    if args.bench:
        from mcugraph.cli.analyze import joined_bench

        report = joined_bench(args, report, model)
    write_page(args, args.output, report, model, graph, tflite=tflite, prune=prune)
    print(f"wrote {args.output}")
    return 0


def tflite_page(args: argparse.Namespace, path: str, tflite: bytes, source: str, prune: dict | None = None) -> None:
    """Write the page of the .tflite bytes ``tflite`` (``opt --html``: the file it wrote) to ``path``."""
    from mcugraph.memory.report import report_from_kernel_graph
    from mcugraph.memory.tflite_graph import kernel_graph_from_tflite

    graph = kernel_graph_from_tflite(tflite, source)
    report = report_from_kernel_graph(graph, Path(source).stem)
    write_page(args, path, report, graph=graph, tflite=tflite, prune=prune, source=source)


def write_page(args: argparse.Namespace, path: str, report, model=None, graph=None, tflite: bytes | None = None,
               prune: dict | None = None, figures=None, source: str | None = None) -> None:
    """Compute the memory figures (unless given) and write the page for ``report`` to ``path`` atomically;
    ``source``: the file named on the page (default: ``args.model``)."""
    from mcugraph.analysis.html import render
    from mcugraph.analysis.html_data import report_data
    from mcugraph.atomic import atomic_write_text

    if figures is None and (model is not None or graph is not None):
        order = getattr(args, "order", None)
        # opt has no --order/--dtype/--plan-json: its .tflite is drawn as stored, with its own in-place setting.
        memory_args = argparse.Namespace(
            model=args.model, command=getattr(args, "command", "report"),
            order=order or ("given" if tflite is not None else "optimal"), dtype=getattr(args, "dtype", "int8"),
            inplace=getattr(args, "inplace", not getattr(args, "no_inplace", False)),
            time_limit=getattr(args, "time_limit", 10.0), plan_json=getattr(args, "plan_json", None),
            plan_header=getattr(args, "plan_header", None),
        )
        try:
            report, figures = memory_figures(memory_args, report, model, graph)
        except UnsupportedOpError as e:
            if order is not None:
                raise
            print(f"mcugraph {memory_args.command}: warning: no memory figures: {e}", file=sys.stderr)
    note, unplanned = embedded_plan_note(tflite, figures) if tflite is not None and figures is not None else ("", None)
    extra, runtime = (), None
    if report.measured:  # mcugraph bench's figures (--bench): a column per operator, the runtime's flash
        m = report.measured
        extra = [({"key": "instructions", "title": f"instructions ({m['target']}, {m['kernels']}, QEMU)",
                   "numeric": True}, {row.name: row.instructions for row in report.ops})]
        runtime = sum(v for k, v in m["flash"].items() if k != "model")
    data = report_data(report, figures, source=source or Path(args.model).name, tflite=tflite, prune=prune,
                       plan_note=note, tflm_own_plan_bytes=unplanned, extra_columns=extra, runtime_bytes=runtime)
    atomic_write_text(path, render(data))


def embedded_plan_note(tflite: bytes, figures) -> tuple[str, int | None]:
    """(whether the .tflite carries the plan the page draws, the arena TFLM plans itself when the file has no plan:
    TFLM uses an embedded plan; without one it plans the arena greedily)."""
    from mcugraph.memory.planner import tflm_greedy_plan
    from mcugraph.memory.tflite_graph import read_model, tensor_names
    from mcugraph.tflite.offline_plan import ONLINE, read_offline_plan

    model = read_model(tflite)
    embedded = read_offline_plan(model)
    if embedded is None:
        greedy = tflm_greedy_plan(figures.graph, figures.plan.order).arena_bytes
        return (f"This file holds no offline plan: TFLM plans it itself ({greedy:,} B with its greedy planner); "
                "mcugraph schedule writes the plan drawn here into it.", greedy)
    offsets = figures.plan.offsets
    moved = [n for n, o in zip(tensor_names(model), embedded, strict=True) if o != ONLINE and offsets.get(n) != o]
    if moved:
        return (f"The plan embedded in the file differs from this one ({len(moved)} tensors elsewhere): TFLM runs the "
                "embedded one; re-run mcugraph schedule to embed this plan.", None)
    return "This is the plan embedded in the file (OfflineMemoryAllocation): TFLM places the tensors exactly here.", None


def read_prune_report(path: str) -> dict:
    """The pruning report at ``path`` (``mcugraph prune --json FILE``), or :class:`DataError` saying what is wrong."""
    from mcugraph.arguments import read_json_report

    report = read_json_report(path, "--prune-report", "mcugraph prune --json")
    groups = report.get("groups") if isinstance(report, dict) else None
    if not isinstance(groups, list) or not all(isinstance(g, dict) and "before" in g and "after" in g for g in groups):
        raise DataError(f"--prune-report {path}: no 'groups' list with 'before'/'after' widths; pass the file "
                        "mcugraph prune --json wrote")
    return report

"""``mcugraph analyze MODEL``: load, canonicalise, then print per-node MACs and weight bytes with the totals.

``--json`` alone prints only the JSON report on stdout (for pipes); ``--json FILE`` writes it and still prints the
table. ``run`` is a straight line of steps — load, passes, report, output — so a new option is one more step.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mcugraph.cli.analyze_memory import (
    add_memory_arguments,
    is_tflite_file,
    memory_figures,
    tflite_report,
)
from mcugraph.cli.common import (
    add_model_arguments,
    add_pipeline_arguments,
    load_model,
    run_pipeline_from_args,
)
from mcugraph.errors import PipelineError
from mcugraph.pipeline import CANONICALIZE


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("analyze", help="MACs, flash bytes and parameters per node of a model")
    parser.add_argument("model", nargs="+", metavar="MODEL",
                        help="the model: an .onnx or .tflite file; several files or a folder (its .onnx and .tflite "
                             "files) give one comparison table, one row per model")
    add_model_arguments(parser)
    add_pipeline_arguments(parser, CANONICALIZE)
    parser.add_argument(
        "--json", nargs="?", const="-", default=None, metavar="FILE",
        help="write the report as JSON to FILE (stdout, without the table, when FILE is omitted)",
    )
    parser.add_argument("--plot", metavar="OUT.png", help="draw per-node MACs, weight bytes and the SRAM timeline to an image")
    parser.add_argument("--html", metavar="OUT.html",
                        help="also write the HTML report (mcugraph report) of these figures: arena layout, timeline, flash")
    parser.add_argument("--groups", action="store_true",
                        help="also print the channel groups (what remove-channels / prune may remove together)")
    parser.add_argument("--bench", metavar="BENCH.json",
                        help="join a chip's measurements (mcugraph bench --json of this .tflite): an instructions "
                             "column and the chip's totals")
    add_memory_arguments(parser)  # --order, --dtype, --no-inplace, --plan-json, --plan-header (SRAM)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mcugraph.analysis.report import format_table
    from mcugraph.cli.analyze_many import is_many, run_many

    if is_many(args.model):
        return run_many(args, lambda one: report_for(one)[0])
    args.model = args.model[0]
    report, model, figures = report_for(args)
    if args.bench:
        report = joined_bench(args, report, model)

    if args.plot:
        from mcugraph.analysis.plot import plot_report

        plot_report(report, args.plot, extra_panels=[figures.timeline_panel()] if figures else [])
    if args.html:
        from mcugraph.cli.report import write_page

        tflite = Path(args.model).read_bytes() if model is None else None
        write_page(args, args.html, report, tflite=tflite, figures=figures)
    if args.json == "-":
        print(json.dumps(report.to_json(), indent=2))
        return 0
    print(format_table(report))
    if args.groups:
        from mcugraph.prune.channel_groups import channel_groups, format_groups

        print(format_groups(channel_groups(model)))
    if args.json:
        from mcugraph.atomic import atomic_write_text

        atomic_write_text(args.json, json.dumps(report.to_json(), indent=2) + "\n")
    return 0


def joined_bench(args: argparse.Namespace, report, model):
    """``report`` with the measurements of ``--bench`` joined on (a .tflite only: rows are its operators)."""
    from mcugraph.analysis.measured import read_bench, with_measurements

    if model is not None:
        raise PipelineError(f"{args.model}: --bench joins measurements onto a .tflite's operators; analyze the "
                            "file mcugraph bench ran (the .tflite), not the ONNX model")
    return with_measurements(report, read_bench(args.bench), Path(args.model).read_bytes(), args.model)


def report_for(args: argparse.Namespace):
    """(Report with memory fields, the canonicalised IR or None for a .tflite, the memory figures behind them or None
    without a kernel view) of the one model ``args.model``."""
    from mcugraph.analysis.report import analyze

    if is_tflite_file(args.model):
        if args.groups:
            raise PipelineError(f"{args.model}: --groups needs an ONNX model (channel groups are found on the IR)")
        model, (report, graph) = None, tflite_report(args)
    else:
        model = load_model(args)
        model = run_pipeline_from_args(model, args)
        report, graph = analyze(model, name=Path(args.model).stem, dtype=args.dtype), None
    report, figures = memory_figures(args, report, model, graph)
    return report, model, figures

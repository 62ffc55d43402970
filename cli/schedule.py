"""``mcugraph schedule IN.tflite -o OUT.tflite``: reorder operators and write an offline arena plan, verified in TFLM.

Nothing is written unless TFLM, running the new model, reports exactly the predicted arena and gives outputs
bit-exact with the input model (see :func:`mcugraph.tflite.schedule.schedule_tflite`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mcugraph.errors import ModelLoadError


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "schedule",
        help="reorder a .tflite model's operators and plan its TFLM arena for the smallest SRAM (verified in TFLM)",
    )
    parser.add_argument("model", metavar="IN.tflite", help="the model to schedule (one subgraph)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.tflite", help="where to write the result")
    parser.add_argument(
        "--no-inplace", dest="inplace", action="store_false",
        help="never let an output reuse its input's bytes (ADD/SUB/MUL/RESHAPE in-place is on by default)",
    )
    parser.add_argument(
        "--time-limit", type=positive_seconds, default=10.0, metavar="S",
        help="seconds the scheduler may search for the minimal-peak order (default: 10)",
    )
    from mcugraph.cli.opt import add_patch_arguments

    add_patch_arguments(parser)
    parser.add_argument("--plan-json", metavar="F.json", help="also write the arena plan as JSON (tiles listed)")
    parser.add_argument("--plan-header", metavar="F.h", help="also write the arena plan as a C header")
    parser.add_argument(
        "--json", nargs="?", const="-", default=None, metavar="FILE",
        help="write the result summary as JSON to FILE (stdout, without the table, when FILE is omitted)",
    )
    parser.set_defaults(func=run)


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def _summary(report, source: str) -> dict:
    return {
        "model": source,
        "head_before_bytes": report.head_before_bytes,
        "head_after_bytes": report.head_after_bytes,
        "predicted_bytes": report.predicted_bytes,
        "lower_bound_bytes": report.lower_bound_bytes,
        "given_peak_bytes": report.given_peak_bytes,
        "optimal": report.optimal,
        "inplace": report.inplace,
        "seconds": round(report.seconds, 3),
        "verify_seconds": round(report.verify_seconds, 3),
        "order": list(report.order),
    }


def run(args: argparse.Namespace) -> int:
    from mcugraph.atomic import atomic_write_bytes, atomic_write_text
    from mcugraph.memory.report import format_schedule_table, plan_header, plan_json
    from mcugraph.tflite.schedule import schedule_tflite

    try:
        data = Path(args.model).read_bytes()
    except OSError as e:
        raise ModelLoadError(f"{args.model}: cannot read the model ({e.strerror}); check the path") from e
    source = Path(args.model).name
    scheduled, report = schedule_tflite(data, inplace=args.inplace, time_limit_s=args.time_limit, source=source)
    plan, graph, patch = report.plan, report.graph, None
    if args.patch is not None:
        from mcugraph.patch.apply import parse_tiling, patch_tflite, report_dict, tiles_json

        patched, patch_report = patch_tflite(
            scheduled, parse_tiling(args.patch), args.patch_max_mac_overhead, source=source,
        )
        patch = report_dict(patch_report)
        if patch_report.applied:
            scheduled, plan, graph = patched, patch_report.plan, patch_report.graph

    atomic_write_bytes(args.output, scheduled)
    if args.plan_json:
        planned = plan_json(plan, graph)
        if patch is not None and patch["applied"]:
            planned["tiles"] = tiles_json(patch_report)
        atomic_write_text(args.plan_json, json.dumps(planned, indent=2) + "\n")
    if args.plan_header:
        atomic_write_text(args.plan_header, plan_header(plan, graph, Path(args.model).stem))
    summary = _summary(report, source)
    if patch is not None:
        summary["patch"] = patch
        summary["head_after_bytes"], summary["predicted_bytes"] = patch["head_after_bytes"], patch["predicted_bytes"]
        summary["lower_bound_bytes"] = patch["lower_bound_bytes"]
    if args.json == "-":
        print(json.dumps(summary, indent=2))
        return 0
    print(format_schedule_table([summary]))
    if patch is not None:
        from mcugraph.cli.opt import patch_summary

        print(f"patch: {patch_summary(patch)}")
    print(
        f"{args.output}: {len(plan.order)} kernels, "
        f"{'in-place on' if report.inplace else 'in-place off'}, order {'proved optimal' if report.optimal else 'best found'}; "
        "TFLM head equals the prediction and outputs are bit-exact"
    )
    if args.json:
        atomic_write_text(args.json, json.dumps(summary, indent=2) + "\n")
    return 0

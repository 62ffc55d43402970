"""``mcugraph opt IN.onnx -o OUT.tflite``: canonicalise, schedule, plan, calibrate, export int8 TFLite, verify.

The .tflite is written (atomically) only after it ran in TFLite Micro and LiteRT on held-out samples and matched
onnxruntime above ``--verify-min-sqnr``. ``--json`` alone prints the report as JSON on stdout instead of the table;
``--json FILE`` writes it and still prints the table. ``run`` is a straight line: options -> optimise -> write ->
print, so a new step (pruning) is one more option and one more entry in ``Options.transforms``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mcugraph.cli.common import add_model_arguments, add_pipeline_arguments, parse_input_shape
from mcugraph.export.calibrate import METHODS
from mcugraph.pipeline import CANONICALIZE


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("opt", help="export a verified int8 (or float32) .tflite for TFLite Micro")
    parser.add_argument("model", help="the model: an .onnx file (float, or QDQ with its own scales)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.tflite", help="where to write the .tflite")
    parser.add_argument(
        "--calib", metavar="DATA",
        help="calibration samples: FILE.npz (key x or input names), FILE.npy, digits, random:LO,HI[,N]",
    )
    parser.add_argument("--calib-method", choices=METHODS, default="minmax", help="onnxruntime calibrator")
    parser.add_argument("--io", choices=("int8", "float32"), default="int8", help="dtype of model inputs/outputs")
    parser.add_argument("--float32", action="store_true", help="no quantisation: a float32 .tflite")
    parser.add_argument(
        "--input-layout", choices=("nhwc", "nchw"), default="nhwc",
        help="layout of 4-D .tflite inputs (nhwc: what TFLM users feed; nchw: keep the ONNX layout)",
    )
    parser.add_argument(
        "--keep-names", action="store_true",
        help="write tensor names, the subgraph name and a description into the .tflite (default: left out; TFLM and "
             "LiteRT read none of them, so the file is smaller; mcugraph's tools name a nameless tensor by its index)",
    )
    parser.add_argument(
        "--verify-min-sqnr", type=float, default=None, metavar="DB",
        help="fail below this SQNR vs onnxruntime (default 10 dB int8, 40 dB float32)",
    )
    parser.add_argument("--no-verify", action="store_true", help="skip running the result in TFLM/LiteRT")
    parser.add_argument("--no-inplace", action="store_true", help="plan the arena without in-place reuse")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar while calibrating")
    parser.add_argument(
        "--json", nargs="?", const="-", default=None, metavar="FILE",
        help="write the report as JSON to FILE (stdout, without the table, when FILE is omitted)",
    )
    parser.add_argument("--html", metavar="OUT.html",
                        help="also write the HTML report (mcugraph report) of the written .tflite: arena layout, "
                             "timeline, flash bill, and with --prune the channel widths before/after")
    parser.add_argument("--emit-c", metavar="DIR",
                        help="also write the deployment bundle of the .tflite (mcugraph firmware): C array, arena "
                             "size measured on --target, op resolver, main.cc")
    from mcugraph.cli.bench import add_target_arguments

    add_target_arguments(parser, what="(with --emit-c)")
    add_model_arguments(parser)
    add_pipeline_arguments(parser, CANONICALIZE)
    add_patch_arguments(parser, ram_note=True)
    parser.add_argument("--prune", action="store_true", help="prune to --ram/--flash/--macs (training on --data); with --ram, only what order, plan and "
        "patching cannot fit")
    from mcugraph.cli.prune import add_training_arguments

    add_training_arguments(parser)
    parser.set_defaults(func=run)


def add_patch_arguments(parser: argparse.ArgumentParser, ram_note: bool = False) -> None:
    """``--patch`` and ``--patch-max-mac-overhead`` (shared by ``opt`` and ``schedule``)."""
    parser.add_argument(
        "--patch", metavar="auto|N|OP:N", default=None,
        help="run the first stage in row tiles (patch-based, bit-exact in TFLM): auto (search; kept layer by "
        "layer when it does not pay), N bands at the best cut, or cut after operator OP in N bands"
        + ("; --ram without --prune also tiles, to fit the budget" if ram_note else ""),
    )
    parser.add_argument(
        "--patch-max-mac-overhead", type=_fraction, default=0.3, metavar="F",
        help="most extra MACs tiling may add by recomputing halos, as a fraction (default 0.3 = 30%%)",
    )


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a non-negative fraction (0.3 = 30 %)")
    return value


def _ram_bytes(args: argparse.Namespace) -> int | None:
    """``--ram``: the arena to fit, by order + plan + patching first (with ``--prune``, pruning removes the rest)."""
    if not getattr(args, "ram", None):
        return None
    from mcugraph.prune.budgets import parse_bytes

    return parse_bytes(args.ram, "--ram")


def options_from_args(args: argparse.Namespace):
    from mcugraph.optimize import Options

    return Options(
        calib=args.calib,
        calib_method=args.calib_method,
        quantize=not args.float32,
        io_dtype=args.io,
        input_layout=args.input_layout,
        keep_names=args.keep_names,
        verify=not args.no_verify,
        min_sqnr_db=args.verify_min_sqnr,
        inplace=not args.no_inplace,
        pipeline=args.pipeline,
        input_shapes=dict(parse_input_shape(s) for s in args.input_shape),
        print_between_passes=args.print_between_passes,
        time_passes=args.time_passes,
        progress=False if args.no_progress or args.quiet else None,
        # --prune with --ram: optimize prunes to a budget of its own (what patching cannot save); else a transform.
        transforms=(_pruning(args),) if getattr(args, "prune", False) and not getattr(args, "ram", None) else (),
        prune_to_ram=_pruning(args) if getattr(args, "prune", False) and getattr(args, "ram", None) else None,
        patch=args.patch,
        patch_max_mac_overhead=args.patch_max_mac_overhead,
        ram_bytes=_ram_bytes(args),
    )


def _pruning(args: argparse.Namespace):
    """The ``--prune`` step: :func:`mcugraph.cli.prune.prune_from_args` on the canonicalised model; ``ram``
    (bytes) replaces ``--ram`` (``opt --prune --ram`` relaxes it by what patching saves)."""
    from mcugraph.cli.prune import prune_from_args

    def prune(model, ram: int | None = None):
        from mcugraph.prune.distributed import is_main, teardown

        given = args if ram is None else argparse.Namespace(**{**vars(args), "ram": ram})
        result = prune_from_args(given, model)
        args.pruning_report = result.report  # the last pruning's widths, for --html
        pruned = result.model
        teardown()
        if not is_main():
            raise SystemExit(0)  # under torchrun: the ranks agree on the model; rank 0 alone exports and writes
        return pruned

    return prune


def run(args: argparse.Namespace) -> int:
    from mcugraph.atomic import atomic_write_bytes, atomic_write_text
    from mcugraph.optimize import run as optimize

    options = options_from_args(args)
    if args.emit_c:  # a missing tree or toolchain is refused before the export's work
        from mcugraph.target import targets, tflm_tree

        tflm_tree.find_tree(args.tflm_root)
        tflm_tree.toolchain_dir(targets.target(args.target))
    result = optimize(args.model, options)  # raises before anything is written if verification fails
    result.report["model"] = Path(args.model).stem
    if args.emit_c:  # before the .tflite: a bundle that fails to build leaves neither behind
        from mcugraph.cli.firmware import write_firmware

        print(write_firmware(result.tflite, Path(args.emit_c), args.target, args.kernels, args.tflm_root,
                             args.output), file=sys.stderr if args.json == "-" else sys.stdout)
    atomic_write_bytes(args.output, result.tflite)
    if args.html:
        from mcugraph.cli.report import tflite_page

        tflite_page(args, args.html, result.tflite, Path(args.output).name, prune=getattr(args, "pruning_report", None))
    if args.json == "-":
        print(json.dumps(result.report, indent=2))
        return 0
    print(format_summary(result.report, args.output))
    if args.json:
        atomic_write_text(args.json, json.dumps(result.report, indent=2) + "\n")
    return 0


def format_summary(report: dict, output: str) -> str:
    """The table ``mcugraph opt`` prints: sizes, arena, compute, accuracy against onnxruntime, time."""
    verification = report.get("verification") or {}
    predicted = report.get("predicted_arena_bytes")
    top1 = verification.get("top1_agreement")
    rows = [
        ("output", f"{output} ({report['dtype']}, io {report['io_dtype']}, {report['input_layout']})"),
        ("flash bytes (.tflite)", f"{report['flash_bytes']:,}" + (
            f" ({report['weight_bytes']:,} weights + biases)" if "weight_bytes" in report else "")),
        ("TFLM arena head bytes", f"{report['arena_head_bytes']:,}"),
        ("predicted arena bytes", f"{predicted:,}" if predicted is not None else "n/a"),
        ("MACs", f"{report['macs']:,}"),
        ("calibration", _calibration(report["calibration"])),
    ]
    if verification:
        rows += [
            ("SQNR TFLM / LiteRT", f"{verification['sqnr_db']:.1f} / {verification['litert_sqnr_db']:.1f} dB "
                                   f"(min {verification['min_sqnr_db']:g}, {verification['samples']} held-out)"),
            ("max abs error", f"{verification['max_abs_error']:.4g}"),
            ("top-1 agreement", f"{100 * top1:.1f} %" if top1 is not None else "n/a"),
        ]
    else:
        rows.append(("verification", "skipped (--no-verify)"))
    if report.get("patch"):
        rows.append(("patch", patch_summary(report["patch"])))
    if report.get("fit"):
        rows.append(("--ram with --prune", report["fit"]["reason"]))
    rows.append(("time", f"{sum(report['seconds'].values()):.2f} s (" + ", ".join(
        f"{k} {v:.2f}" for k, v in report["seconds"].items()) + ")"))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def _calibration(calib: dict) -> str:
    if calib["source"] is None:
        return "none (float32)"
    if calib["method"] is None:
        return str(calib["source"])
    note = "" if calib["representative"] else ", NOT representative"
    return f"{calib['method']} on {calib['samples']} sample(s) of {calib['source']}{note}"


def patch_summary(patch: dict) -> str:
    """One line: what tiling did to the arena and the MACs, or why the model stayed layer by layer."""
    if not patch["applied"]:
        return patch["reason"]
    count = patch.get("stages", 1)
    stages = (f"a {patch['stage_operators']}-operator stage" if count == 1
              else f"{count} consecutive stages ({patch['stage_operators']} operators)")
    return (f"{len(patch['tiles'])} row tiles of {stages}: TFLM head "
            f"{patch['head_before_bytes']:,} -> {patch['head_after_bytes']:,} B, MACs +{100 * patch['mac_overhead']:.1f} %, "
            "bit-exact")

"""``mcugraph demo``: the main job on the embedded default, end to end, in about a minute.

Trains the ~55k-parameter digits CNN on scikit-learn's bundled digits, exports it to ONNX, analyses it, exports a
verified int8 .tflite, then prunes it to an SRAM and flash budget and exports that too — printing TFLite Micro's
own accuracy and arena figures for both.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("demo", help="train, analyse, optimise and prune the default digits CNN (no download)")
    parser.add_argument("-o", "--out", default="out", help="folder for the .onnx and .tflite files (default: out)")
    parser.add_argument("--epochs", type=int, default=15, help="float training epochs (default: 15)")
    parser.add_argument("--prune-epochs", type=int, default=None,
                        help="prune-while-training epochs, retraining included (default: derived by mcugraph prune "
                             "from the data size and the budgets)")
    parser.add_argument("--no-prune", action="store_true", help="stop after the unpruned int8 export")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bars on stderr (default, on a terminal: calibration, and pruning's loss, "
                             "accuracy and resources)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    import mcugraph
    from mcugraph import demo, zoo
    from mcugraph.analysis.report import analyze, format_table
    from mcugraph.cli.prune import format_schedule
    from mcugraph.datasets import digits

    out = Path(args.out)
    data = digits()
    module, example = zoo.build("digits_cnn")
    torch.manual_seed(0)
    module = demo.train_classifier(module, data.train, epochs=args.epochs)
    float_acc = demo.accuracy(module, data.test)
    onnx_path = out / "digits_cnn.onnx"
    mcugraph.save(mcugraph.load(module, example_inputs=example), onnx_path)
    print(f"== trained DigitsCNN: {sum(p.numel() for p in module.parameters()):,} parameters, "
          f"float test accuracy {100 * float_acc:.1f} % -> {onnx_path}")

    canonical = mcugraph.run_pipeline(mcugraph.load(onnx_path), mcugraph.CANONICALIZE).model
    print("\n== mcugraph analyze (canonicalised)\n" + format_table(analyze(canonical, name=str(onnx_path))))

    base = _export(onnx_path, out / "digits_cnn.int8.tflite", data, args.quiet)
    if args.no_prune:
        return 0

    # 1/8 of TFLM's arena and 1/8 of the .tflite file. (Until flash meant the file, the demo's budget was 1/16 of
    # the weight + bias bytes; the file of the model it pruned to then is ~1/9.5 of this one: 1/8 is not tighter.)
    ram, flash = base["arena"] // 8, base["flash"] // 8
    print(f"\n== mcugraph prune --ram {ram} --flash {flash} (1/8 of the SRAM, 1/8 of the .tflite file)")
    pruned = mcugraph.prune(onnx_path, data="digits", ram=ram, flash=flash, epochs=args.prune_epochs,
                            progress=sys.stderr.isatty() and not args.quiet)
    print(f"pruned in {pruned.report['seconds']:.0f} s: {format_schedule(pruned.report['schedule'])}; channels "
          + ", ".join(f"{r['before']}->{r['after']}" for r in pruned.report["groups"] if r["prunable"]))
    pruned_path = out / "digits_cnn.pruned.onnx"
    mcugraph.save(pruned.model, pruned_path)
    small = _export(pruned_path, out / "digits_cnn.pruned.int8.tflite", data, args.quiet)

    print("\n== summary (TFLite Micro, int8, held-out test split)")
    print(format_summary(base, small, float_acc))
    return 0


def format_summary(base: dict, small: dict, float_acc: float) -> str:
    """The demo's closing table (``.ci/newcomer`` reads it): accuracy, arena, weight and file bytes per model."""
    lines = [f"{'':<18}{'accuracy':>10}{'arena B':>10}{'weights B':>11}{'file B':>10}"]
    for name, r in (("unpruned", base), ("pruned", small)):
        lines.append(f"{name:<18}{100 * r['accuracy']:>9.1f}%{r['arena']:>10,}{r['weights']:>11,}{r['flash']:>10,}")
    lines.append(f"{'float (torch)':<18}{100 * float_acc:>9.1f}%")
    return "\n".join(lines)


def _export(onnx_path: Path, tflite_path: Path, data, quiet: bool) -> dict:
    import mcugraph
    from mcugraph.atomic import atomic_write_bytes
    from mcugraph.cli.opt import format_summary
    from mcugraph.demo import tflite_accuracy

    result = mcugraph.optimize(onnx_path, calib="digits", progress=False if quiet else None)
    atomic_write_bytes(tflite_path, result.tflite)
    accuracy = tflite_accuracy(result.tflite, data.test)
    print(f"\n== mcugraph opt {onnx_path} -o {tflite_path}\n" + format_summary(result.report, str(tflite_path)))
    print(f"TFLM int8 test accuracy: {100 * accuracy:.1f} %")
    return {"accuracy": accuracy, "arena": result.report["arena_head_bytes"], "flash": result.report["flash_bytes"],
            "weights": result.report["weight_bytes"]}

"""``mcugraph prune``: prune channels while training until the model fits SRAM / flash / MACs budgets."""

from __future__ import annotations

import argparse
import json

from mcugraph.cli.common import add_model_arguments
from mcugraph.prune import recipe
from mcugraph.prune.augment import DEFAULT as AUGMENT_DEFAULT
from mcugraph.prune.config import TrainConfig


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "prune", help="prune channels while training until SRAM/flash/MACs budgets are met",
        description="Differentiable resource-aware pruning (Liberis & Lane): learnable channel gates, a "
                    "differentiable SRAM/flash/MACs model, channels cut from the live model during training.",
    )
    parser.add_argument("model", help="input .onnx model")
    parser.add_argument("-o", "--output", required=True, help="pruned .onnx model to write")
    add_training_arguments(parser)
    parser.add_argument("--json", nargs="?", const="-", metavar="FILE", help="write the report as JSON (stdout: -)")
    add_model_arguments(parser)
    parser.set_defaults(func=run)


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags ``mcugraph prune`` shares with ``mcugraph opt --prune``."""
    group = parser.add_argument_group("pruning")
    group.add_argument("--data", help="training data: an .npz with arrays x and y (several model inputs: x0, x1, ... "
                       "in graph-input order), or 'digits'")
    group.add_argument("--val", help="validation .npz (accuracy before/after is reported)")
    group.add_argument("--data-scale", metavar="S",
                       help="integer inputs (uint8 images) become x*S + OFFSET; e.g. 1/255 (required for integer x)")
    group.add_argument("--data-offset", type=float, default=0.0, metavar="OFFSET",
                       help="added after --data-scale (default 0)")
    group.add_argument("--ram", help="peak SRAM budget, e.g. 48KiB (TFLM arena bytes)")
    group.add_argument("--flash", help="flash budget, e.g. 128KiB: the bytes of the int8 .tflite `mcugraph opt` writes "
                                       "for the pruned model (weights, biases, quantisation parameters, tables, plan)")
    group.add_argument("--macs", help="compute budget in multiply-accumulates, e.g. 2M")
    group.add_argument("--epochs", type=int, default=None,
                       help="epochs of prune-while-training, retraining included (default: derived from the data "
                            f"size and the budgets: {recipe.BASE_EPOCHS} (1 + log10 rho) / 2 passes, rho = model / budget)")
    group.add_argument("--finetune-epochs", type=int, default=0, help="epochs after the cut (default 0)")
    group.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    group.add_argument("--loss", choices=("ce", "mse"), default="ce", help="ce: classifier; mse: autoencoder")
    group.add_argument("--lr", type=float, default=TrainConfig.lr,
                       help=f"Adam learning rate while pruning (default {TrainConfig.lr:g})")
    group.add_argument("--retrain-lr", type=float, default=TrainConfig.retrain_lr,
                       help=f"learning rate once the budgets are met, cosine-decayed to 0 (default "
                            f"{TrainConfig.retrain_lr:g})")
    group.add_argument("--no-restart", dest="restart", action="store_false",
                       help="once the budgets are met, retrain the channels the gates kept as they are, instead of "
                            "restarting the network at the gates' widths (the default; docs/pruning.md)")
    group.add_argument("--restart-weights", choices=("fresh", "trained"), default=TrainConfig.restart_weights,
                       help="the restarted network's weights: a fresh draw, or the trained weights of the "
                            f"largest-magnitude channels (default {TrainConfig.restart_weights})")
    group.add_argument("--restart-ramp", type=float, default=TrainConfig.restart_ramp, metavar="SHARE",
                       help="restart at full width from the trained weights and narrow to the widths over this "
                            "share of the epochs, channels of smallest live L1 norm first (0 = cut at once; "
                            f"default {TrainConfig.restart_ramp:g})")
    group.add_argument("--from-scratch", action="store_true",
                       help="discard the model's weights and prune during its main training run from a fresh "
                            "initialisation (no distillation; the derived schedule has twice the steps)")
    group.add_argument("--batch-size", type=int, default=None,
                       help=f"default: samples/{recipe.BATCHES_PER_EPOCH} rounded down to a power of two, within "
                            f"{recipe.MIN_BATCH}..{recipe.MAX_BATCH}")
    group.add_argument("--seed", type=int, default=0)
    group.add_argument("--augment", nargs="?", const=AUGMENT_DEFAULT, default=None, metavar="LIST",
                       help="a new random view of every training batch (images: NCHW input): comma-separated "
                            "flip (left-right, p 1/2), crop=P (pad P pixels, crop back at a random shift; P 4), "
                            f"noise=S (Gaussian, std S in model-input units; S 0.05); bare --augment: "
                            f"{AUGMENT_DEFAULT} (default: none)")
    group.add_argument("-q", "--quiet", action="store_true",
                       help="no progress on stderr (default: a bar with loss, accuracy and resources on a "
                            "terminal, else one line per epoch)")
    group.add_argument("--distill", type=float, default=TrainConfig.distill, metavar="ALPHA",
                       help="weight of distillation from the unpruned model's logits (classifiers; 0 = off; "
                            f"default: derived, {recipe.DISTILL_ALPHA:g} when the model classifies >= "
                            f"{100 * recipe.STRONG_TEACHER:g}%% of the training data, else 0)")
    group.add_argument("--prune-share", type=float, default=TrainConfig.prune_share,
                       help=f"pace: widths could shrink 10x within this share of the epochs (default "
                            f"{TrainConfig.prune_share:g})")
    group.add_argument("--floor", type=float, default=TrainConfig.floor, metavar="SHARE",
                       help="the gates narrow no channel group below this share of its width in the balanced "
                            "allocation (uniform width, then each group grown until a budget binds it); at 1 the "
                            "network restarts at once and narrows to those widths (--restart-ramp) (0 = "
                            "unconstrained gates; default "
                            f"{TrainConfig.floor:g})")


def prune_from_args(args: argparse.Namespace, model):
    """Run :func:`mcugraph.prune.api.prune` with the flags of :func:`add_training_arguments`."""
    from mcugraph.errors import DataError
    from mcugraph.prune.api import prune
    from mcugraph.prune.distributed import is_main

    if not args.data:
        raise DataError("pruning trains the model: give --data TRAIN.npz (arrays x, y) or --data digits")
    augment = None
    if args.augment is not None:
        from mcugraph.prune.augment import build_augment

        first = model.graph.inputs[0]
        augment = build_augment(args.augment, tuple(first.shape or ()), first.name)
    return prune(
        model, data=args.data, val=args.val, ram=args.ram, flash=args.flash, macs=args.macs,
        epochs=args.epochs, finetune_epochs=args.finetune_epochs, device=args.device, loss=args.loss,
        lr=args.lr, batch_size=args.batch_size, seed=args.seed, augment=augment,
        progress=is_main() and not args.quiet,
        distill=args.distill, prune_share=args.prune_share, retrain_lr=args.retrain_lr, restart=args.restart,
        restart_weights=args.restart_weights, restart_ramp=args.restart_ramp,
        from_scratch=args.from_scratch, floor=args.floor,
        data_scale=args.data_scale, data_offset=args.data_offset,
    )


def run(args: argparse.Namespace) -> int:
    from mcugraph.atomic import atomic_write_text
    from mcugraph.cli.common import load_model
    from mcugraph.load import save
    from mcugraph.prune.distributed import is_main, teardown

    result = prune_from_args(args, load_model(args))
    teardown()
    if not is_main():
        return 0  # under torchrun every rank ends with the same model; rank 0 alone writes and prints
    save(result.model, args.output)
    report = result.report
    if args.json == "-":
        print(json.dumps(report, indent=2))
        return 0
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
    print(format_report(report))
    print(f"wrote {args.output}")
    return 0


def format_schedule(schedule: dict) -> str:
    """What the run trained with, and which of it was derived (``recipe.py``) rather than given, on one line."""

    def how(key: str) -> str:
        return "derived" if schedule[f"{key}_derived"] else "given"

    accuracy = schedule.get("teacher_train_accuracy")
    seen = "" if accuracy is None else f": the unpruned model is right on {100 * accuracy:.1f} % of the training data"
    return (f"{schedule['epochs']} epochs ({how('epochs')}; budgets {schedule['pressure']:g}x below the model), "
            f"batch {schedule['batch_size']} ({how('batch_size')}; {schedule['samples']} samples), "
            f"distillation α {schedule['distill']:g} ({how('distill')}{seen})")


def format_report(report: dict) -> str:
    """The schedule, channels per group and resources before/after, as plain text."""
    from mcugraph.prune.budgets import format_amount

    lines = [f"schedule: {format_schedule(report['schedule'])}", ""]
    lines.append(f"{'group':>5} {'channels':>9} {'after':>6}  producers")
    for row in report["groups"]:
        if row["prunable"]:
            lines.append(f"{row['id']:>5} {row['before']:>9} {row['after']:>6}  {', '.join(row['producers'])}")
    lines.append("")
    lines.append(f"{'resource':<9} {'before':>12} {'after':>12} {'budget':>12} {'ratio':>7}")
    for r in ("ram", "flash", "macs"):
        before, after = report["before"][r], report["after"][r]
        budget = report["budgets"].get(r)
        shown = format_amount(r, budget) if budget is not None else "-"
        lines.append(f"{r:<9} {format_amount(r, before):>12} {format_amount(r, after):>12} {shown:>12} "
                     f"{before / max(after, 1):>6.1f}x")
    if "val_accuracy" in report:
        acc = report["val_accuracy"]
        lines.append(f"validation accuracy {acc['before']:.4f} -> {acc['after']:.4f}")
    return "\n".join(lines)

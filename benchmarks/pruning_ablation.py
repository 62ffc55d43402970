"""Ablation: where pruned accuracy on CIFAR-10 comes from — which widths, which channels, which retraining.

One run = one method, one seed, on a trained ResNet-8 or MobileNetV2 (``pruning_cifar.py``'s data, split,
augmentation and scoring: int8 in TFLite Micro on the 560 held-out images). What docs/pruning.md quotes about the
restart and the retraining rate was measured with it:

    python benchmarks/pruning_ablation.py --save base.onnx                      # train the baseline once (seed 0)
    python benchmarks/pruning_ablation.py --save b9.onnx --baseline-seed 9    # pruning_cifar.py's seed-9 baseline

Until 2026-12-02 ``--save`` seeded only the batch order, not the initialisation (torch's initial seed differs per
process), so the seed-0 baselines of the earlier ablations in docs/pruning.md cannot be re-trained bit for bit;
``--save`` now trains pruning_cifar.py's seeded baseline.
    python benchmarks/pruning_ablation.py --base base.onnx --method mcugraph --seed 0
    python benchmarks/pruning_ablation.py --base base.onnx --method mcugraph --options '{"restart": false}'
    python benchmarks/pruning_ablation.py --base base.onnx --method mcugraph --options '{"retrain_lr": 0.002}'
    python benchmarks/pruning_ablation.py --base base.onnx --method l1                       # uniform fraction
    python benchmarks/pruning_ablation.py --base base.onnx --method l1 --widths '{"1":3,"2":6,"3":15,"4":9,"5":16,"6":35}'
    python benchmarks/pruning_ablation.py --base base.onnx --method gates-rewound --seed 1
    python benchmarks/pruning_ablation.py --base base.onnx --method patch-prune --seed 0

``l1 --widths``: the largest-L1 channels at the given widths per channel group (ids of ``analyze --groups``); with
``--options '{"restart_weights": "fresh", "distill": 0}'`` they start from a fresh draw and/or without distillation
(``l1`` reads these two options; ``mcugraph`` passes all of them to ``mcugraph.prune``);
``gates-rewound``: mcugraph's pruning, then the channels the gates kept restarted from the trained weights
(``--no-restart``'s channels, the restart's weights); ``patch-prune``: what ``mcugraph opt --ram R --prune`` does
(``mcugraph.optimize(ram_bytes=R, prune_to_ram=...)``): patch-based execution first, then ``mcugraph.prune`` to the
layer-by-layer budget that patching relaxes R to, then the pruned model patched to fit R in TFLM (accuracy of that
patched .tflite; ``macs`` counts the patches' recomputation). Every method retrains for mcugraph's derived epochs in all
(``--epochs`` overrides), with the same BatchNorm, distillation and learning-rate schedule. One line of JSON out.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import onnx_ir as ir
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pruning_cifar as cifar  # noqa: E402
from pruning import l1_keep, train_ir  # noqa: E402

from mcugraph.prune.api import apply_keep, prune, teacher_for  # noqa: E402
from mcugraph.prune.budgets import Budgets  # noqa: E402
from mcugraph.prune.channel_groups import channel_groups  # noqa: E402
from mcugraph.prune.config import TrainConfig  # noqa: E402
from mcugraph.prune.restart import magnitude_keep  # noqa: E402
from mcugraph.prune.scratch import reinitialise  # noqa: E402
from mcugraph.prune.torch_module import GraphModule  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=cifar.DATA)
    parser.add_argument("--model", choices=sorted(cifar.MODELS), default="resnet8")
    parser.add_argument("--save", type=Path, help="train the baseline (30 epochs or --epochs), save it here")
    parser.add_argument("--baseline-seed", type=int, default=0,
                        help="with --save: train pruning_cifar.py's seed-S baseline, the same model bit for bit "
                             "(default 0)")
    parser.add_argument("--base", type=Path, help="the trained baseline .onnx to prune")
    parser.add_argument("--method", choices=("mcugraph", "l1", "gates-rewound", "patch-prune"), default="mcugraph")
    parser.add_argument("--options", default="{}", help="JSON: mcugraph.prune keyword arguments")
    parser.add_argument("--widths", help="JSON {group id: channels} for --method l1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--sram-fraction", type=int, default=4)
    parser.add_argument("--flash-fraction", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--limit", type=int, default=None, help="only this many images of each split (a smoke run)")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"{args.data} not found: this benchmark needs ../shared/data/cifar10-subset", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    train, test = cifar.load_split(args.data, args.limit)
    if args.save:
        model = cifar.to_ir(cifar.baseline_module(args.model, train, args.epochs or 30, args.baseline_seed,
                                                  cifar.flip_crop, 64))
        ir.save(model, args.save)
        print(json.dumps({"saved": str(args.save), "acc": cifar.tflm_accuracy(model, train, test),
                          **cifar.resources(model)}))
        return 0
    if not args.base:
        parser.error("give --base BASE.onnx (or --save to train one)")
    base = ir.load(args.base)
    full = cifar.resources(base)
    budgets = Budgets(ram=full["ram"] // args.sram_fraction, flash=full["flash"] // args.flash_fraction)
    start = time.perf_counter()
    options = json.loads(args.options)
    row = {"method": args.method, "seed": args.seed, "options": options, "widths_given": args.widths}
    epochs = args.epochs
    if args.method == "gates-rewound":
        options["restart"] = False  # the gates' own channels, not the restart's
    if args.method == "patch-prune":
        return _patch_prune(base, budgets, train, test, args, options, row, start)
    if args.method in ("mcugraph", "gates-rewound"):
        result = prune(base, data=(train.x, train.y), ram=budgets.ram, flash=budgets.flash, seed=args.seed,
                       augment=cifar.flip_crop, epochs=epochs, **options)
        model, epochs = result.model, result.report["schedule"]["epochs"]
        keep = {int(g): tuple(k) for g, k in result.report["keep"].items()}
        first_train = next((e["epoch"] for e in result.report["epochs"] if e["phase"] != "prune"), epochs + 1)
        row["met_at_epoch"] = first_train - 1  # the budgets were met during the last "prune" epoch
        row["schedule"] = result.report["schedule"]  # what was derived: epochs, batch, distillation and why
    if args.method == "l1":
        epochs = epochs or 39
        keep = l1_keep(base, budgets, train.x[:64])
        if args.widths:
            widths = {int(g): w for g, w in json.loads(args.widths).items()}
            keep = magnitude_keep(base, [g for g in channel_groups(base) if g.id in widths], widths)
    if args.method != "mcugraph":
        retrain = max(1, epochs - row["met_at_epoch"]) if args.method == "gates-rewound" else epochs
        config = TrainConfig(epochs=epochs, batch_size=64, seed=args.seed, augment=cifar.flip_crop,
                             distill=options.get("distill", TrainConfig.distill))
        teacher, config, _ = teacher_for(GraphModule(base), train, config)
        small = apply_keep(base, keep)
        torch.manual_seed(args.seed)
        fresh = options.get("restart_weights") == "fresh"
        if fresh:
            module = GraphModule(small)
            reinitialise(module, small, args.seed)
            module.write_back(small)
        model, _ = train_ir(small, retrain, config, train, teacher, fresh=fresh)
    sizes = {g.id: g.size for g in channel_groups(base)}
    row.update(acc=cifar.tflm_accuracy(model, train, test), **cifar.resources(model),
               widths={g: len(k) for g, k in sorted(keep.items()) if len(k) < sizes[g]},
               seconds=round(time.perf_counter() - start, 1))
    print(json.dumps(row))
    return 0


def _patch_prune(base, budgets: Budgets, train, test, args, options: dict, row: dict, start: float) -> int:
    """``mcugraph opt --ram R --prune --flash F`` (``pruning_cifar.patch_prune``): one line of JSON."""
    row.update(cifar.patch_prune(base, budgets, train, test, args.seed, cifar.flip_crop, args.epochs, **options),
               seconds=round(time.perf_counter() - start, 1))
    print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())

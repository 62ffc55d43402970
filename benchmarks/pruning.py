"""Benchmark: differentiable resource-aware pruning vs L1-norm magnitude pruning on the digits CNN.

For SRAM budgets of 1/2, 1/4, 1/8 and 1/16 of the unpruned model's peak (TFLM arena of the min-peak schedule), and
optionally a flash budget, it reports the accuracy of the exported **int8 model in TFLite Micro** on the held-out
test split for

  (a) ``mcugraph.prune`` with its defaults (the schedule derived from the data size and the budgets; ``--epochs``
      overrides), and
  (b) L1-norm magnitude pruning to the same budget: every prunable group keeps the same fraction of its channels,
      those with the largest L1 norm of their producer weights, the largest fraction that meets the budget (SRAM
      checked in TFLM, its measured arena head); then retrained for as many epochs as mcugraph ran, the way mcugraph
      retrains (BatchNorm back, retrain_lr cosine-decayed, the same distillation from the unpruned model),

and the wall time of prune-while-training against plain training of the unpruned model for the same epochs.
Both methods start from the same trained model; accuracies are means over ``--seeds`` training seeds. Run:
``python benchmarks/pruning.py [--seeds 3] [--fractions 2,4,8,16] [--flash-fraction 16]``.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

import mcugraph
from mcugraph import zoo
from mcugraph.datasets import digits
from mcugraph.demo import tflite_accuracy, train_classifier
from mcugraph.prune.allocation import uniform_counts, uniform_fraction
from mcugraph.prune.api import (
    Dataset,
    apply_keep,
    canonicalize,
    exact_resources,
    prune,
    teacher_for,
    tflm_arena_head,
    unshare_initializers,
)
from mcugraph.prune.budgets import Budgets
from mcugraph.prune.channel_groups import channel_groups
from mcugraph.prune.gates import gateable_groups
from mcugraph.prune.renorm import fold_batchnorm, install_batchnorm
from mcugraph.prune.resources import resource_model
from mcugraph.prune.restart import channel_norms, magnitude_keep
from mcugraph.prune.torch_module import GraphModule
from mcugraph.prune.train import TrainConfig, run_epochs


def baseline(epochs: int, seed: int = 0):
    """The digits CNN trained on the digits training split, as a canonical IR."""
    torch.manual_seed(seed)
    module = train_classifier(zoo.DigitsCNN(), digits().train, epochs=epochs, seed=seed)
    return unshare_initializers(canonicalize(mcugraph.load(module, example_inputs=torch.rand(1, 1, 8, 8))))


def l1_keep(model, budgets: Budgets, samples: np.ndarray) -> dict[int, tuple[int, ...]]:
    """Uniform-fraction L1-norm pruning: the widest uniform keep fraction whose exact resources meet ``budgets``."""
    groups = channel_groups(model)
    gated = gateable_groups(model, groups)
    rmodel = resource_model(model, groups, exact_resources(model)["order"])
    norms = {g.id: channel_norms(model, g) for g in gated}

    def keep_for(fraction: float) -> dict[int, tuple[int, ...]]:  # the channels mcugraph's restart would keep
        return magnitude_keep(model, gated, uniform_counts(gated, fraction), norms)

    lo = uniform_fraction(rmodel, gated, budgets)
    keep = keep_for(lo)
    while not budgets.met_by(exact_resources(apply_keep(model, keep))) and lo > 0:
        lo -= 1.0 / 64  # the exact check plans a fresh schedule; step down until it agrees
        keep = keep_for(lo)
    # Same rule as mcugraph.prune: the SRAM budget holds in TFLM itself (its head includes kernel scratch).
    while budgets.ram is not None and lo > 0 and tflm_arena_head(apply_keep(model, keep)) > budgets.ram:
        lo -= 1.0 / 64
        keep = keep_for(lo)
    return keep


def train_ir(model, epochs: int, config: TrainConfig, data, teacher=None, renorm: bool = True,
             fresh: bool = False) -> tuple[object, float]:
    """Train an IR model as a GraphModule for ``epochs``; returns the trained IR and the wall time in seconds.

    An L1-pruned network is retrained as mcugraph retrains after its cut: BatchNorm back after every conv
    (``renorm=True``; a standard one for ``fresh`` weights, as ``restart.py`` does), from retrain_lr
    cosine-decayed to 0, the same distillation.
    """
    module = GraphModule(model)
    optimizer = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=config.retrain_lr)
    if renorm:
        install_batchnorm(module, model, torch.from_numpy(data.x), optimizer, identity=not fresh)
    start = time.perf_counter()
    run_epochs(module, optimizer, data.x, data.y, epochs, config, teacher=teacher)
    seconds = time.perf_counter() - start
    fold_batchnorm(module, model, optimizer)
    module.write_back(model)
    return model, seconds


def tflm_test_accuracy(model, train: Dataset, test: Dataset) -> float:
    """Top-1 of the int8 export (calibrated on 256 training samples) in TFLite Micro on ``test``."""
    result = mcugraph.optimize(apply_keep(model, {}), calib=train.x[:256], progress=False)
    return tflite_accuracy(result.tflite, test)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="epochs per method (default: mcugraph's derived)")
    parser.add_argument("--seeds", type=int, default=3, help="training seeds per method; accuracies are means")
    parser.add_argument("--baseline-epochs", type=int, default=20, help="epochs to train the unpruned model")
    parser.add_argument("--fractions", default="2,4,8,16", help="SRAM budgets as 1/k of the unpruned peak")
    parser.add_argument("--flash-fraction", type=int, default=0, help="also a flash budget of 1/k (0: none)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    split = digits()
    test = Dataset(split.test.x, split.test.y)
    train = Dataset(split.train.x, split.train.y)

    base = baseline(args.baseline_epochs)
    before = exact_resources(base)
    base_acc = tflm_test_accuracy(base, train, test)
    print(f"unpruned: SRAM {before['ram']} B, flash {before['flash']} B, MACs {before['macs']}, "
          f"int8 TFLM test accuracy {base_acc:.4f}")
    header = (f"{'budget':>8} {'SRAM B':>7} {'flash B':>8} {'epochs':>6} | {'mcugraph acc':>12} {'SRAM':>6} "
              f"{'flash':>6} {'time s':>7} | {'L1 acc':>7} {'SRAM':>6} {'flash':>6} | {'plain s':>7}")
    print(header)
    print("-" * len(header))
    for k in (int(f) for f in args.fractions.split(",")):
        ram = before["ram"] // k
        flash = before["flash"] // args.flash_fraction if args.flash_fraction else None
        budgets = Budgets(ram=ram, flash=flash)
        ours_accs, l1_accs, times = [], [], []
        l1_keep_k = l1_keep(base, budgets, train.x[:64])
        for seed in range(args.seeds):  # tiny networks vary a lot from seed to seed: report the mean
            start = time.perf_counter()
            ours = prune(base, data=(train.x, train.y), ram=ram, flash=flash, epochs=args.epochs, seed=seed)
            times.append(time.perf_counter() - start)
            ours_accs.append(tflm_test_accuracy(ours.model, train, test))
            schedule = ours.report["schedule"]
            config = TrainConfig(epochs=schedule["epochs"], batch_size=schedule["batch_size"], seed=seed,
                                 distill=schedule["distill"])  # the α prune() derived, not derived again
            teacher, config, _ = teacher_for(GraphModule(base), train, config)  # the same distillation for L1
            torch.manual_seed(seed)
            l1_model, _ = train_ir(apply_keep(base, l1_keep_k), schedule["epochs"], config, train, teacher)
            l1_accs.append(tflm_test_accuracy(l1_model, train, test))
        _, plain_seconds = train_ir(apply_keep(base, {}), schedule["epochs"], config, train, renorm=False)
        l1_res = exact_resources(l1_model)
        l1_res["ram"] = tflm_arena_head(l1_model)
        ours_acc, l1_acc, ours_seconds = np.mean(ours_accs), np.mean(l1_accs), np.mean(times)
        after = ours.report["after"]  # "ram" is TFLM's measured arena head
        print(f"{'1/' + str(k):>8} {ram:>7} {flash or '-':>8} {schedule['epochs']:>6} | {ours_acc:>12.4f} "
              f"{after['ram']:>6} {after['flash']:>6} {ours_seconds:>7.1f} | {l1_acc:>7.4f} {l1_res['ram']:>6} "
              f"{l1_res['flash']:>6} | {plain_seconds:>7.1f}")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

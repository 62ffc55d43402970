"""Benchmark: differentiable resource-aware pruning vs L1-norm magnitude pruning on the digits CNN.

For SRAM budgets of 1/2, 1/4, 1/8 and 1/16 of the unpruned model's peak (TFLM arena of the min-peak schedule), it
reports the held-out test accuracy of

  (a) ``mcugraph.prune`` (prune while training, ``--epochs`` epochs in total), and
  (b) L1-norm magnitude pruning to the same budget: every prunable group keeps the same fraction of its channels,
      those with the largest L1 norm of their producer weights, the largest fraction that meets the budget; then
      trained for the same number of epochs with the same distillation from the unpruned model (SRAM for both checked in TFLM: its measured arena head),

and the wall time of prune-while-training against plain training of the unpruned model for the same epochs.
Both methods start from the same trained model; accuracies are means over ``--seeds`` training seeds. Run: ``python benchmarks/pruning.py [--epochs 40] [--fractions
2,4,8,16] [--flash-fraction 16]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

import numpy as np
import torch

import mcugraph
from mcugraph import zoo
from mcugraph.datasets import digits
from mcugraph.demo import train_classifier
from mcugraph.prune.api import (
    Dataset,
    _teacher_logits,
    apply_keep,
    canonicalize,
    exact_resources,
    onnx_accuracy,
    prune,
    tflm_arena_head,
    unshare_initializers,
)
from mcugraph.prune.budgets import Budgets
from mcugraph.prune.channel_groups import channel_groups
from mcugraph.prune.gates import gateable_groups
from mcugraph.prune.resources import resource_model
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
    nodes = {n.name: n for n in model.graph}
    norms = {}
    for g in gated:
        total = 0
        for name in g.producers:
            w = nodes[name].inputs[1].const_value.numpy()
            total = total + np.abs(w).reshape(w.shape[0], -1).sum(1)
        norms[g.id] = total

    def keep_for(fraction: float) -> dict[int, tuple[int, ...]]:
        keep = {}
        for g in gated:
            n = max(1, int(np.ceil(fraction * g.size)))
            keep[g.id] = tuple(sorted(np.argsort(-norms[g.id])[:n].tolist()))
        return keep

    def meets(fraction: float) -> bool:
        counts = {gid: float(len(k)) for gid, k in keep_for(fraction).items()}
        return budgets.met_by({r: float(v) for r, v in rmodel.evaluate(counts).items()})

    lo, hi = 0.0, 1.0
    for _ in range(30):  # bisection on the fraction, on the (exact at whole counts) resource model
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if meets(mid) else (lo, mid)
    keep = keep_for(lo)
    while not budgets.met_by(exact_resources(apply_keep(model, keep))) and lo > 0:
        lo -= 1.0 / 64  # the exact check plans a fresh schedule; step down until it agrees
        keep = keep_for(lo)
    # Same rule as mcugraph.prune: the SRAM budget holds in TFLM itself (its head includes kernel scratch).
    while budgets.ram is not None and lo > 0 and tflm_arena_head(apply_keep(model, keep)) > budgets.ram:
        lo -= 1.0 / 64
        keep = keep_for(lo)
    return keep


def train_ir(model, epochs: int, config: TrainConfig, data, teacher=None) -> tuple[object, float]:
    """Train an IR model as a GraphModule for ``epochs``; returns the trained IR and the wall time in seconds."""
    module = GraphModule(model)
    # The L1-pruned network is trained like mcugraph's after its cut: from retrain_lr, cosine-decayed.
    optimizer = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=config.retrain_lr)
    start = time.perf_counter()
    run_epochs(module, optimizer, data.x, data.y, epochs, config, teacher=teacher)
    seconds = time.perf_counter() - start
    module.write_back(model)
    return model, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=150, help="epochs per method (and of the plain-training run)")
    parser.add_argument("--prune-share", type=float, default=0.3, help="mcugraph's pruning pace (TrainConfig)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size of both methods")
    parser.add_argument("--seeds", type=int, default=3, help="training seeds per method; accuracies are means")
    parser.add_argument("--baseline-epochs", type=int, default=20, help="epochs to train the unpruned model")
    parser.add_argument("--fractions", default="2,4,8,16", help="SRAM budgets as 1/k of the unpruned peak")
    parser.add_argument("--flash-fraction", type=int, default=0, help="also a flash budget of 1/k (0: none)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    split = digits()
    test = Dataset(split.test.x, split.test.y)
    train = Dataset(split.train.x, split.train.y)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size)

    base = baseline(args.baseline_epochs)
    before = exact_resources(base)
    base_acc = onnx_accuracy(base, test)
    teacher = _teacher_logits(GraphModule(base), train, config)  # the same distillation for L1 as for mcugraph
    copy = apply_keep(base, {})
    _, plain_seconds = train_ir(copy, args.epochs, config, train)
    print(f"unpruned: SRAM {before['ram']} B, flash {before['flash']} B, MACs {before['macs']}, "
          f"test accuracy {base_acc:.4f}; plain training {args.epochs} epochs: {plain_seconds:.1f} s")
    header = (f"{'budget':>8} {'SRAM B':>7} {'flash B':>8} | {'mcugraph acc':>12} {'SRAM':>6} {'flash':>6} "
              f"{'time s':>7} | {'L1 acc':>7} {'SRAM':>6} {'flash':>6} | {'plain s':>7}")
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
            ours = prune(base, data=(train.x, train.y), ram=ram, flash=flash, epochs=args.epochs,
                         prune_share=args.prune_share, batch_size=args.batch_size, seed=seed)
            times.append(time.perf_counter() - start)
            ours_accs.append(onnx_accuracy(ours.model, test))
            torch.manual_seed(seed)
            l1_model = apply_keep(base, l1_keep_k)
            l1_model, _ = train_ir(l1_model, args.epochs, dataclasses.replace(config, seed=seed), train, teacher)
            l1_accs.append(onnx_accuracy(l1_model, test))
        l1_res = exact_resources(l1_model)
        l1_res["ram"] = tflm_arena_head(l1_model)
        ours_acc, l1_acc, ours_seconds = np.mean(ours_accs), np.mean(l1_accs), np.mean(times)
        after = ours.report["after"]  # "ram" is TFLM's measured arena head
        print(f"{'1/' + str(k):>8} {ram:>7} {flash or '-':>8} | {ours_acc:>12.4f} {after['ram']:>6} "
              f"{after['flash']:>6} {ours_seconds:>7.1f} | {l1_acc:>7.4f} {l1_res['ram']:>6} {l1_res['flash']:>6} "
              f"| {plain_seconds:>7.1f}")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

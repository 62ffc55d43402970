"""Benchmark: one pruning/training step of the PyTorch import on CPU, before and after its two speed fixes.

Side by side in one run, on the CIFAR benchmark's models (``pruning_cifar.py``: MobileNetV2-style and ResNet-8 at
32x32), batch 64, Adam, cross-entropy, forward + backward + step of ``GraphModule`` (the interpreter mcugraph
prunes and retrains):

  before: ReLU6 (``Clip`` with constant bounds) as ``torch.clamp`` with tensor bounds, NCHW batches;
  after:  what ``mcugraph.prune`` runs: ReLU6 as ``hardtanh`` (``torch_ops.Clip``), channels-last batches
          (``train.fast_layout``).

Median seconds per step over ``--steps`` steps (after one warm-up), one torch thread by default (what each
``pruning_cifar.py --jobs 2`` worker gets on 2 cores). The two fixes are also timed alone.

    python benchmarks/training_step.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from unittest import mock

import torch
from torch import nn

from mcugraph.prune.torch_module import GraphModule
from mcugraph.prune.train import fast_layout

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pruning_cifar as cifar  # noqa: E402  (its models, built and lifted as the benchmark does)


def clamp_clip(x, min=None, max=None):  # noqa: A002 - the handler before: tensor bounds, four passes backward
    return torch.clamp(x, min, max)


def step_seconds(model, hardtanh: bool, channels_last: bool, steps: int, batch: int) -> float:
    torch.manual_seed(0)
    x, y = torch.rand(batch, 3, 32, 32), torch.randint(0, 10, (batch,))
    with mock.patch.dict("mcugraph.prune.torch_ops.HANDLERS", {} if hardtanh else {"Clip": clamp_clip}):
        module = GraphModule(model).train()
        optimizer = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=1e-3)
        times = []
        for _ in range(steps + 1):
            start = time.perf_counter()
            batch_x = fast_layout(x) if channels_last else x
            optimizer.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(module(batch_x), y).backward()
            optimizer.step()
            times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"seconds per training step, batch {args.batch}, {args.threads} thread(s), median of {args.steps}")
    print("| model | before | ReLU6 as hardtanh | channels-last | after (both) | speed-up |")
    print("|---|---|---|---|---|---|")
    for name, (build, width) in cifar.MODELS.items():
        model = cifar.to_ir(build(width=width))
        cells = [step_seconds(model, h, c, args.steps, args.batch)
                 for h, c in ((False, False), (True, False), (False, True), (True, True))]
        print(f"| {name} | " + " | ".join(f"{s:.3f}" for s in cells) + f" | {cells[0] / cells[-1]:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

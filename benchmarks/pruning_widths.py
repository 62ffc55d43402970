"""Which widths: ResNet-8 (CIFAR) at explicit per-group channel counts, trained from scratch exactly as
``pruning_cifar.py`` trains uniform width (``train_torch``: torch BatchNorm, Adam from mcugraph's retraining rate,
cosine decay, flip + crop), scored int8 in TFLite Micro on the 560 held-out images. It separates the allocation
from everything else pruning does: docs/pruning.md (*Floors*) compares uniform width, the balanced allocation and
the gates' widths this way.

    python benchmarks/pruning_widths.py --widths 4,4,8,8,16,16 --seed 0 --epochs 69     # uniform width 4/16
    python benchmarks/pruning_widths.py --widths 4,4,12,12,20,24 --seed 0 --epochs 69   # balanced-like
    python benchmarks/pruning_widths.py --widths 4,4,13,10,16,35 --seed 0 --epochs 69   # the gates' typical widths

Widths in the order of ``analyze --groups`` on ResNet-8: stage-1 stream (stem + block 1 output), block-1 inner,
block-2 inner, stage-2 stream, block-3 inner, stage-3 stream. One line of JSON out (accuracy, TFLM arena, flash).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from torch import nn

from mcugraph.zoo import BasicBlock, conv_bn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pruning_cifar as cifar  # noqa: E402


class ResNet8Widths(nn.Module):
    """``zoo.ResNetStyle`` with one width per channel group: at (w, w, 2w, 2w, 4w, 4w) it is ``ResNetStyle(w)``."""

    def __init__(self, s1: int, i1: int, i2: int, s2: int, i3: int, s3: int, num_classes: int = 10):
        super().__init__()
        self.stem = conv_bn(3, s1, 3)
        self.layers = nn.Sequential(BasicBlock(s1, s1, 1, inner=i1), BasicBlock(s1, s2, 2, inner=i2),
                                    BasicBlock(s2, s3, 2, inner=i3))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(s3, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.layers(self.stem(x)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", required=True, help="six channel counts, comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=69, help="default: the benchmark's 30 + 39 of 2026-11")
    parser.add_argument("--data", type=Path, default=cifar.DATA)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"{args.data} not found: this benchmark needs ../shared/data/cifar10-subset", file=sys.stderr)
        return 2
    widths = [int(w) for w in args.widths.split(",")]
    if len(widths) != 6 or min(widths) < 1:
        print(f"--widths {args.widths!r}: expected six positive channel counts", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    train, test = cifar.load_split(args.data)
    start = time.perf_counter()
    torch.manual_seed(args.seed)
    module = cifar.train_torch(ResNet8Widths(*widths), train, args.epochs, args.seed, cifar.flip_crop, 64)
    model = cifar.to_ir(module)
    print(json.dumps({"widths": widths, "seed": args.seed, "epochs": args.epochs,
                      "acc": cifar.tflm_accuracy(model, train, test), **cifar.resources(model),
                      "seconds": round(time.perf_counter() - start, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

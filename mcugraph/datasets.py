"""The embedded default dataset: scikit-learn's bundled 8x8 digits (1,797 images, 10 classes, no download).

Images are float32 NCHW ``(N, 1, 8, 8)`` scaled to [0, 1]; labels int64. The split is fixed (seeded) so that the
train/validation/test numbers in tests, benchmarks and the README are comparable.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Split:
    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@dataclasses.dataclass(frozen=True)
class Digits:
    train: Split
    val: Split
    test: Split


def digits(seed: int = 0) -> Digits:
    """60% train, 20% validation, 20% test."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.images.astype(np.float32) / 16.0)[:, None, :, :]
    y = data.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    x, y = x[order], y[order]
    a, b = int(0.6 * len(y)), int(0.8 * len(y))
    return Digits(Split(x[:a], y[:a]), Split(x[a:b], y[a:b]), Split(x[b:], y[b:]))

"""The pruning schedule a user does not have to pass: batch size, epochs and distillation from the data, the model
and the budgets.

``mcugraph prune M.onnx -o P.onnx --data D.npz --ram R --flash F`` must work without a recipe. What decides the
result is how long the pruned network is retrained (with BatchNorm back, ``renorm.py``): once the budgets are met
it restarts from the trained weights, is narrowed to a fraction of their width within the first epochs
(``ramp.py``) and is nearly a new network. The pace of the
gates matters little once that is right (the retraining length matters far more). So:

- **batch size**: ``N / 32`` rounded down to a power of two, within [16, 128] — about 32 steps per epoch on small
  datasets (1,078 digits images: 32), larger batches on large ones;
- **epochs**: ``BASE_EPOCHS · (1 + log10 ρ) / 2``, where ``ρ = max_r (resource_r / budget_r)`` of the unpruned
  model is how far the budgets are (ρ = 16 → 133 epochs, ρ = 8 → 115, ρ = 2 → 79): a network cut further is more
  nearly a new one and needs more retraining. Counted in passes over the data, as training recipes are, not in
  steps. ``BASE_EPOCHS`` is where more retraining stopped paying on the CIFAR-10 benchmark: cut to a third of its
  channels the trained network is nearly a new one and wants the epochs of a training run. At most ``MAX_STEPS``
  optimizer steps (a cap for large datasets, not measured), at least ``MIN_EPOCHS``; twice the epochs
  ``from_scratch`` (``scratch.py``), where the same run must also train the network.

- **distillation** from the unpruned model's logits (``distill_weight``): α = ``DISTILL_ALPHA`` when the unpruned
  model classifies at least ``STRONG_TEACHER`` of the training images correctly, else off. A teacher that fits its
  training set passes on what its soft outputs know; a teacher that is wrong on a third of it pulls the student
  (at α = 0.7, mostly) towards its mistakes: distillation helped the digits CNNs and hurt CIFAR-10's 30-epoch
  baselines.

The measurements behind each constant: docs/results/2026-12-02-docstring-measurements.md.

Everything the user gives explicitly (``epochs=``, ``batch_size=``, ``distill=``) is kept.
"""

from __future__ import annotations

import dataclasses
import math

BASE_EPOCHS = 120
DISTILL_ALPHA = 0.7
STRONG_TEACHER = 0.9  # training-set accuracy of the unpruned model from which distillation is on
MAX_STEPS = 20_000
MIN_EPOCHS = 10
MIN_BATCH, MAX_BATCH = 16, 128
BATCHES_PER_EPOCH = 32  # the batch size aims at about this many steps per pass over a small dataset


def pressure(before: dict, budgets) -> float:
    """How far the budgets are from the unpruned model: the largest ``resource / budget`` (≥ 1)."""
    return max([1.0] + [float(before[r]) / limit for r, limit in budgets.items()])


def default_batch_size(samples: int) -> int:
    target = max(1, samples // BATCHES_PER_EPOCH)
    return max(MIN_BATCH, min(MAX_BATCH, 2 ** int(math.log2(target))))


def default_epochs(samples: int, batch_size: int, rho: float, from_scratch: bool = False) -> int:
    epochs = math.ceil(BASE_EPOCHS * (1.0 + math.log10(max(rho, 1.0))) / 2.0 * (2 if from_scratch else 1))
    per_epoch = math.ceil(samples / batch_size)
    return max(MIN_EPOCHS, min(epochs, MAX_STEPS // per_epoch))


def derive(config, samples: int, rho: float):
    """``config`` with ``batch_size`` and ``epochs`` filled in where they are ``None``; and why, for the report."""
    batch = config.batch_size if config.batch_size is not None else default_batch_size(samples)
    epochs = config.epochs if config.epochs is not None else default_epochs(samples, batch, rho, config.from_scratch)
    why = {
        "samples": samples, "pressure": round(rho, 2),
        "batch_size": batch, "batch_size_derived": config.batch_size is None,
        "epochs": epochs, "epochs_derived": config.epochs is None,
        "steps": epochs * math.ceil(samples / batch),
    }
    return dataclasses.replace(config, batch_size=batch, epochs=epochs), why


def distill_weight(config, teacher_accuracy: float | None) -> float:
    """α for ``config``: the user's ``distill`` when given; derived, ``DISTILL_ALPHA`` when the unpruned model's
    training-set accuracy (``teacher_accuracy``, None when there is nothing to distil from) is at least
    ``STRONG_TEACHER``, else 0."""
    if config.distill is not None:
        return float(config.distill)
    return DISTILL_ALPHA if teacher_accuracy is not None and teacher_accuracy >= STRONG_TEACHER else 0.0

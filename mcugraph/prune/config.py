"""The hyper-parameters of pruning, with their defaults: one home, read by the API, the CLI's flags and the docs.

Kept free of torch so that ``mcugraph --help`` does not import it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of :func:`mcugraph.prune`; ``loss`` is ``"ce"`` (classifier) or ``"mse"`` (autoencoder)."""

    epochs: int | None = None  # None: derived from the data size and the budgets (recipe.py)
    finetune_epochs: int = 0
    lr: float = 2e-3  # Adam while pruning: gentle on the trained weights
    retrain_lr: float = 1.2e-2  # once the architecture is fixed, cosine-decayed from here to 0 (docs/pruning.md)
    prune_share: float = 0.25  # pace: the gated channels could shrink 10x within this share of the epochs
    floor: float = 1.0  # no gate narrows a group below this share of its balanced-allocation width (allocation.py)
    warmup_steps: int = 10  # importance is measured this many steps before any gate moves
    distill: float | None = None  # α: weight of distillation from the unpruned model's logits (classifiers; 0 = off;
    # None: derived from how well the unpruned model fits the training set, recipe.distill_weight)
    renorm: bool = True  # retrain the fixed architecture with BatchNorm after every conv (folded back at the end)
    restart: bool = True  # budgets met: keep the gates' widths, restart the network at them (restart.py)
    restart_weights: str = "trained"  # the restart's weights: "trained" (largest-L1 channels) or "fresh" (a new draw)
    restart_ramp: float = 0.3  # > 0 (trained weights): restart at full width, narrow to the widths over this share of
    # the epochs (ramp.py); 0: cut to them at once
    from_scratch: bool = False  # prune during the main training run from fresh weights (scratch.py)
    tflm_check: bool = True  # with a ram budget, also export int8 and measure TFLM's arena head at the end
    batch_size: int | None = None  # None: derived from the data size (recipe.py)
    loss: str = "ce"
    prune_every: int = 5  # steps between physical removals of closed channels
    device: str = "cpu"
    seed: int = 0
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None  # per training batch (e.g. random flip + crop)
    progress: bool = False  # one line per epoch on stderr; on a terminal also a tqdm bar within the epoch

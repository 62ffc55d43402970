"""Data augmentation for prune-while-training: random flips, crops and noise drawn anew for every training batch.

``prune(augment=...)`` takes any ``callable(batch) -> batch``; this module builds one from the CLI's text form
(``mcugraph prune --augment flip,crop=4,noise=0.05``). Each transform acts per sample on the first model input,
in the model's own units (after ``--data-scale``/``--data-offset``), using torch's global random generator:

- ``flip``: a horizontal (last-axis) flip with probability 1/2. Images only: a 4-D NCHW input.
- ``crop=P``: zero-pad by P pixels on every side (default 4), then crop the original size at a random offset,
  i.e. shift by up to P pixels. Images only.
- ``noise=S``: add Gaussian noise of standard deviation S (default 0.05). Any float input.

Augmentation changes what one epoch sees, not which widths fit: the budgets and the schedule are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from mcugraph.errors import DataError

if TYPE_CHECKING:  # torch is imported where a transform runs, so that ``mcugraph --help`` does not load it
    import torch

DEFAULT = "flip,crop"  # what a bare --augment means: the standard image augmentation
IMAGE_ONLY = ("flip", "crop")
DEFAULTS = {"flip": None, "crop": 4.0, "noise": 0.05}


def flip_crop(x: torch.Tensor, pad: int = 4) -> torch.Tensor:
    """Random horizontal flip and a random crop of the zero-padded image, per sample."""
    return crop(flip(x), pad)


def flip(x: torch.Tensor) -> torch.Tensor:
    """Each sample of an NCHW batch flipped left-right with probability 1/2."""
    import torch

    chosen = torch.rand(x.shape[0], device=x.device) < 0.5
    return torch.where(chosen[:, None, None, None], x.flip(3), x)


def crop(x: torch.Tensor, pad: int = 4) -> torch.Tensor:
    """Each sample of an NCHW batch zero-padded by ``pad`` pixels and cropped back to H x W at a random offset."""
    import torch
    from torch import nn

    n, _, h, w = x.shape
    padded = nn.functional.pad(x, (pad, pad, pad, pad)).permute(0, 2, 3, 1)
    dy, dx = (torch.randint(0, 2 * pad + 1, (n, 1), device=x.device) for _ in range(2))
    rows = (dy + torch.arange(h, device=x.device))[:, :, None]
    cols = (dx + torch.arange(w, device=x.device))[:, None, :]
    return padded[torch.arange(n, device=x.device)[:, None, None], rows, cols].permute(0, 3, 1, 2).contiguous()


def noise(x: torch.Tensor, std: float) -> torch.Tensor:
    """``x`` plus Gaussian noise of standard deviation ``std``."""
    import torch

    return x + std * torch.randn_like(x)


def parse_augment(text: str) -> list[tuple[str, float | None]]:
    """``"flip,crop=2,noise"`` -> ``[("flip", None), ("crop", 2.0), ("noise", 0.05)]``; bad text is a DataError."""
    steps = []
    for part in (p.strip() for p in text.split(",")):
        name, eq, value = part.partition("=")
        if name not in DEFAULTS:
            raise DataError(f"--augment {text!r}: unknown transform {name!r}; use a comma-separated list of "
                            f"{', '.join(DEFAULTS)} (e.g. flip,crop=4,noise=0.05)")
        if name == "flip":
            if eq:
                raise DataError(f"--augment {text!r}: flip takes no value; write flip")
            steps.append((name, None))
            continue
        try:
            amount = float(value) if eq else DEFAULTS[name]
        except ValueError:
            amount = -1.0
        if not amount >= 0 or (name == "crop" and amount != int(amount)):
            raise DataError(f"--augment {text!r}: {name} needs a non-negative "
                            f"{'whole number of pixels' if name == 'crop' else 'standard deviation'}, e.g. "
                            f"{name}={DEFAULTS[name]:g}")
        steps.append((name, amount))
    return steps


def build_augment(text: str, input_shape: Sequence[int | None], input_name: str = "input"
                  ) -> Callable[[torch.Tensor], torch.Tensor]:
    """The per-batch transform ``text`` names, refused before training if it cannot apply to the model's first
    input (``input_shape`` with its batch axis; flip and crop need a 4-D NCHW image)."""
    steps = parse_augment(text)
    image = [name for name, _ in steps if name in IMAGE_ONLY]
    if image and len(input_shape) != 4:
        raise DataError(f"--augment {image[0]}: needs image input (N, C, H, W), but input {input_name!r} has shape "
                        f"{tuple(input_shape)}; use --augment noise for other data")

    def augment(x: torch.Tensor) -> torch.Tensor:
        for name, amount in steps:
            if name == "flip":
                x = flip(x)
            elif name == "crop":
                x = crop(x, int(amount))
            else:
                x = noise(x, amount)
        return x

    return augment

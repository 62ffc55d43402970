"""Data-parallel pruning with ``torch.distributed``: ``torchrun --nproc-per-node N -m mcugraph prune ...``.

Every rank holds the whole model, the whole (in-memory) dataset and the same gates, and draws the same shuffled
batches (same seed); each global batch of ``batch_size`` samples is split across the ranks (rank ``r`` takes samples
``r, r+N, ...``). After the backward pass the gradients of the weights *and* of the gate probes (whose magnitudes are
the Taylor importances) are averaged over all samples of the global batch with one all-reduce. So every rank holds
identical importances, widths and weights, and every gate decision — which channel closes, when channels are cut,
when the budgets are met (TFLM's arena is measured on rank 0 and broadcast) — is the same on every rank at the same
step: the ranks cut the same channels and end with the same model. Only rank 0 writes files and prints progress.

Why not ``DistributedDataParallel``: pruning slices parameters in place while training (``slice_module``), and DDP's
gradient buckets are fixed at wrap time; one flat all-reduce per step over the current parameters needs no
re-wrapping and averages the gate probes in the same call.

The process group comes from torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``,
``MASTER_PORT``): ``gloo`` on CPU, ``nccl`` on CUDA (rank ``r`` uses ``cuda:LOCAL_RANK``). Without it, or with one
process, every function here is a no-op and pruning runs as before.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence

import torch


class DataParallel:
    """This process's place among the ranks (``world == 1``: a single process, every method is an identity)."""

    def __init__(self, rank: int = 0, world: int = 1):
        self.rank, self.world = rank, world

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def batches(self, batches: Iterable[torch.Tensor]) -> list[torch.Tensor]:
        """Global batches every rank can take a share of (a last batch smaller than the world is dropped)."""
        return [b for b in batches if len(b) >= self.world]

    def shard(self, index: torch.Tensor) -> torch.Tensor:
        """This rank's samples of a global batch."""
        return index[self.rank::self.world] if self.active else index

    def average_gradients(self, tensors: Sequence[torch.Tensor], local: int, total: int) -> None:
        """Turn each tensor's gradient of this rank's mean loss into the gradient of the global batch's mean loss."""
        if not self.active:
            return
        grads = [t.grad for t in tensors if t.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads]) * (local / total)
        torch.distributed.all_reduce(flat)
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()

    def sum(self, *values: float) -> list[float]:
        """Per-rank numbers (loss totals, sample counts) summed over the ranks."""
        if not self.active:
            return list(values)
        total = torch.tensor(values, dtype=torch.float64, device=self._device())
        torch.distributed.all_reduce(total)
        return total.tolist()

    def from_main(self, fn: Callable[..., int]) -> Callable[..., int]:
        """``fn`` run on rank 0 only, its integer result broadcast (e.g. TFLM's arena, measured once)."""
        if not self.active:
            return fn

        def run(*args, **kwargs) -> int:
            value = torch.tensor([fn(*args, **kwargs) if self.main else 0], dtype=torch.int64, device=self._device())
            torch.distributed.broadcast(value, 0)
            return int(value.item())

        return run

    def _device(self) -> torch.device:
        return torch.device("cuda", torch.cuda.current_device()) if _backend() == "nccl" else torch.device("cpu")


_current = DataParallel()
_created = False  # whether setup() made the process group (then teardown() ends it)


def current() -> DataParallel:
    """The data-parallel setting of this process (set by :func:`setup`)."""
    return _current


def setup(device: str) -> tuple[DataParallel, str]:
    """Join the process group torchrun describes (if any); returns the setting and the device this rank uses."""
    global _current, _created
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 and not _initialized():
        _current = DataParallel()
        return _current, device
    cuda = device.startswith("cuda")
    if cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    if not _initialized():
        torch.distributed.init_process_group(backend="nccl" if cuda else "gloo")
        _created = True
    _current = DataParallel(torch.distributed.get_rank(), torch.distributed.get_world_size())
    return _current, device


def teardown() -> None:
    """End the process group :func:`setup` created (a group the caller made is left alone)."""
    global _current, _created
    if _created and _initialized():
        torch.distributed.destroy_process_group()
    _current, _created = DataParallel(), False


def is_main() -> bool:
    """False on ranks other than 0 of a torchrun job: they must not write files or print."""
    if _initialized():
        return torch.distributed.get_rank() == 0
    return int(os.environ.get("RANK", "0")) == 0


def _initialized() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def _backend() -> str | None:
    return torch.distributed.get_backend() if _initialized() else None

"""Arguments and data checked once, here: numbers, counts, devices, training arrays, random specs, memory needs.

Every entry point that takes user numbers (the CLI, :func:`mcugraph.prune`, :func:`mcugraph.optimize`,
calibration) calls these instead of checking by itself, so a NaN learning rate, a TPU device, ``--distill -1`` or
``random:0,1,1e9`` is refused with one :class:`~mcugraph.errors.MCUGraphError` line before any work (or allocation)
starts. Training arrays (dtypes, NaN/Inf, label ranges) have their own one home, :mod:`mcugraph.prune.data`.
"""

from __future__ import annotations

import math
import os
import re
from typing import Any

import numpy as np

from mcugraph.errors import DataError, MCUGraphError

KNOWN_DEVICES = re.compile(r"^(cpu|cuda(:\d+)?|mps)$")
MAX_RANDOM_SAMPLES = 1_000_000
# Refuse an allocation above this share of physical memory: the OS would swap or kill us long before MemoryError.
MEMORY_SHARE = 0.5


def finite(value: Any, what: str, *, low: float | None = None, high: float | None = None,
           low_open: bool = False) -> float:
    """``value`` as a float if it is finite and within [low, high] (``low_open``: above ``low``), else an error."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise MCUGraphError(f"{what} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise MCUGraphError(f"{what} is {number}; it must be a finite number")
    if low is not None and (number <= low if low_open else number < low):
        raise MCUGraphError(f"{what} is {number:g}; it must be {'>' if low_open else '>='} {low:g}")
    if high is not None and number > high:
        raise MCUGraphError(f"{what} is {number:g}; it must be <= {high:g}")
    return number


def count(value: Any, what: str, *, low: int = 1) -> int:
    """``value`` as an int >= ``low`` (an integral float like 3.0 is fine, 2.5 or NaN is not)."""
    number = finite(value, what, low=low)
    if number != int(number):
        raise MCUGraphError(f"{what} is {number:g}; it must be a whole number")
    return int(number)


def device(name: str) -> str:
    """A torch device mcugraph can train on: ``cpu``, ``cuda``, ``cuda:N`` or ``mps``."""
    if not isinstance(name, str) or not KNOWN_DEVICES.match(name):
        raise MCUGraphError(f"device {name!r} is not known; use cpu, cuda, cuda:N or mps")
    return name


def check_train_config(config: Any) -> None:
    """The numbers of a :class:`mcugraph.prune.train.TrainConfig`: counts positive, rates finite and in range."""
    if config.epochs is not None:  # None: derived from the data and the budgets (mcugraph.prune.recipe)
        count(config.epochs, "epochs")
    count(config.finetune_epochs, "finetune_epochs", low=0)
    if config.batch_size is not None:
        count(config.batch_size, "batch_size")
    count(config.prune_every, "prune_every")
    count(config.warmup_steps, "warmup_steps", low=0)
    finite(config.lr, "lr (learning rate)", low=0, low_open=True)
    finite(config.retrain_lr, "retrain_lr", low=0, low_open=True)
    if config.distill is not None:  # None: derived (recipe.distill_weight)
        finite(config.distill, "distill (α)", low=0, high=1)
    finite(config.prune_share, "prune_share", low=0, high=1, low_open=True)
    finite(config.floor, "floor", low=0, high=1)
    finite(config.restart_ramp, "restart_ramp", low=0, high=1)
    device(config.device)


def check_optimize_options(opts: Any) -> None:
    """The numbers of :class:`mcugraph.optimize.Options` (the SQNR threshold is the only free number)."""
    if opts.min_sqnr_db is not None:
        finite(opts.min_sqnr_db, "--verify-min-sqnr")


def parse_random_spec(spec: str) -> tuple[float, float, int | None]:
    """``"random:LO,HI[,N]"`` -> (LO, HI, N or None): finite LO < HI with a finite width, 1 <= N <= 1,000,000."""
    usage = f"--calib {spec!r}: expected random:LO,HI or random:LO,HI,N (finite LO < HI, 1 <= N <= {MAX_RANDOM_SAMPLES:,})"
    try:
        parts = [float(p) for p in spec.removeprefix("random:").split(",")]
    except ValueError:
        raise DataError(usage) from None
    if len(parts) not in (2, 3) or not all(math.isfinite(p) for p in parts):
        raise DataError(usage)
    low, high = parts[0], parts[1]
    # float32 samples: the bounds and the width high - low must both be representable.
    limit = float(np.finfo(np.float32).max)
    if not low < high or abs(low) > limit or abs(high) > limit or not math.isfinite(high - low):
        raise DataError(usage)
    if len(parts) == 2:
        return low, high, None
    if parts[2] != int(parts[2]) or not 1 <= parts[2] <= MAX_RANDOM_SAMPLES:
        raise DataError(usage)
    return low, high, int(parts[2])


def check_memory(nbytes: int, what: str) -> None:
    """Refuse to allocate ``nbytes`` when it is more than half of this machine's memory: "needs N GiB"."""
    available = physical_memory_bytes()
    if nbytes > MEMORY_SHARE * available:
        raise DataError(
            f"{what} needs {nbytes / 2**30:,.1f} GiB of memory but this machine has {available / 2**30:,.1f} GiB; "
            "use fewer samples or smaller inputs"
        )


def physical_memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 8 * 2**30


def read_json_report(path: str, option: str, writer: str) -> Any:
    """The JSON an earlier mcugraph command wrote (``writer``, e.g. "mcugraph bench --json"), read for ``option``;
    a missing or unparsable file is one :class:`DataError` line."""
    import json
    from pathlib import Path

    try:
        return json.loads(Path(path).read_text())
    except OSError as e:
        raise DataError(f"{option} {path}: cannot read it ({e.strerror}); pass the file {writer} wrote") from e
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{option} {path}: not JSON ({e}); pass the file {writer} wrote") from e

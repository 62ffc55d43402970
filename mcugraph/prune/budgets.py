"""Resource budgets for pruning: ``--ram 48KiB``, ``--flash 128KiB``, ``--macs 2M``, any subset.

Bytes accept B, KB/MB (powers of 1000), KiB/MiB (powers of 1024) and a bare number (bytes); MACs accept a bare
number or the suffixes k, M, G (powers of 1000). Anything else is rejected with a one-line error rather than guessed
(``2m`` could mean milli or mega).
"""

from __future__ import annotations

import dataclasses
import re

from mcugraph.errors import BudgetError

_BYTE_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1024, "mib": 1024**2, "gib": 1024**3}
_COUNT_UNITS = {"": 1, "k": 1000, "K": 1000, "M": 1000**2, "G": 1000**3}
_NUMBER = re.compile(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*")

RESOURCES = ("ram", "flash", "macs")


@dataclasses.dataclass(frozen=True)
class Budgets:
    """Upper bounds: ``ram`` and ``flash`` in bytes, ``macs`` in multiply-accumulates; ``None`` = no limit."""

    ram: int | None = None
    flash: int | None = None
    macs: int | None = None

    def items(self) -> list[tuple[str, int]]:
        """The given budgets as ``(resource, limit)`` pairs, in the order ram, flash, macs."""
        return [(r, getattr(self, r)) for r in RESOURCES if getattr(self, r) is not None]

    def met_by(self, resources: dict[str, float]) -> bool:
        return all(resources[r] <= limit for r, limit in self.items())

    def __bool__(self) -> bool:
        return bool(self.items())


def parse_bytes(text: str | int, what: str = "--ram") -> int:
    """``"48KiB"`` -> 49152, ``"1.5MB"`` -> 1500000, ``"512"`` -> 512 (bytes)."""
    if isinstance(text, int):
        return _positive(text, what, str(text))
    match = _NUMBER.fullmatch(str(text))
    unit = match.group(2).lower() if match else None
    if not match or unit not in _BYTE_UNITS:
        raise BudgetError(f"{what} {text!r}: expected a size like 512, 48KiB, 128KB or 1MiB (units B, KB, KiB, MB, MiB)")
    return _positive(float(match.group(1)) * _BYTE_UNITS[unit], what, text)


def parse_count(text: str | int, what: str = "--macs") -> int:
    """``"2M"`` -> 2000000, ``"500k"`` -> 500000, ``"1e6"`` -> 1000000."""
    if isinstance(text, int):
        return _positive(text, what, str(text))
    match = _NUMBER.fullmatch(str(text))
    if not match or match.group(2) not in _COUNT_UNITS:
        raise BudgetError(f"{what} {text!r}: expected a count like 2000000, 500k, 2M or 1G")
    return _positive(float(match.group(1)) * _COUNT_UNITS[match.group(2)], what, text)


def parse_budgets(ram: str | int | None = None, flash: str | int | None = None, macs: str | int | None = None) -> Budgets:
    return Budgets(
        ram=None if ram is None else parse_bytes(ram, "--ram"),
        flash=None if flash is None else parse_bytes(flash, "--flash"),
        macs=None if macs is None else parse_count(macs, "--macs"),
    )


def _positive(value: float, what: str, text: str) -> int:
    if not value < 2**63:  # 1e400KiB is inf (and NaN fails every comparison): no budget, a typo
        raise BudgetError(f"{what} {text!r}: a budget must be a finite number")
    if round(value) <= 0:
        raise BudgetError(f"{what} {text!r}: a budget must be positive")
    return round(value)


def format_amount(resource: str, value: float) -> str:
    """Human-readable bytes (KiB) or MACs (k/M) for tables and progress bars."""
    if resource == "macs":
        return f"{value / 1e6:.2f}M" if value >= 1e6 else f"{value / 1e3:.1f}k"
    return f"{value / 1024:.1f}KiB" if value >= 1024 else f"{value:.0f}B"

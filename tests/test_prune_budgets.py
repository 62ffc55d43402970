"""Budget strings: units for bytes and MACs, and one-line errors for anything else."""

from __future__ import annotations

import pytest

from mcugraph.errors import BudgetError
from mcugraph.prune.budgets import Budgets, parse_budgets, parse_bytes, parse_count


@pytest.mark.parametrize(
    ("text", "expected"),
    [("512", 512), ("512B", 512), ("48KiB", 49152), ("48kib", 49152), ("128KB", 128000), ("1.5MB", 1500000),
     ("1MiB", 1048576)],
)
def test_parse_bytes_units(text, expected):
    """Byte budgets accept B, KB, KiB, MB, MiB and bare numbers."""
    assert parse_bytes(text) == expected


@pytest.mark.parametrize(("text", "expected"), [("2M", 2_000_000), ("500k", 500_000), ("1G", 10**9), ("1e6", 10**6)])
def test_parse_count_units(text, expected):
    """MAC budgets accept k, M, G and bare numbers."""
    assert parse_count(text) == expected


@pytest.mark.parametrize("text", ["48 parsecs", "KiB", "-5KiB", "0", "2m"])
def test_bad_budget_is_one_line_error(text):
    """Unknown units, missing numbers and non-positive values raise BudgetError naming the flag."""
    with pytest.raises(BudgetError, match="--macs" if text == "2m" else "--ram") as info:
        parse_count(text) if text == "2m" else parse_bytes(text)
    assert "\n" not in str(info.value)


def test_budgets_met_by_checks_only_given_resources():
    """A missing budget is no limit; a given one must hold."""
    budgets = parse_budgets(ram="1KiB", macs="1k")
    assert budgets.items() == [("ram", 1024), ("macs", 1000)]
    assert budgets.met_by({"ram": 1024, "flash": 10**9, "macs": 999})
    assert not budgets.met_by({"ram": 1025, "flash": 0, "macs": 0})
    assert not Budgets()

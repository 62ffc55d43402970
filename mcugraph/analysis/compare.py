"""Several models side by side: one row per :class:`~mcugraph.analysis.report.Report` (``mcugraph analyze A B DIR/``).

A pure function over finished reports, so the table shows exactly the totals each single-model ``analyze`` prints.
"""

from __future__ import annotations

from collections.abc import Sequence

from mcugraph.analysis.report import Report

# (header, Report attribute): weights are the int8 weight + bias bytes, flash the .tflite file ("-" when the model
# cannot be exported); the memory columns appear only when some report has them.
COLUMNS = (
    ("model", "model"),
    ("nodes", "ops"),
    ("MACs", "macs"),
    ("params", "params"),
    ("weights B", "weight_bytes"),
    ("flash B", "flash_bytes"),
    ("peak SRAM B", "peak_bytes"),
    ("arena B", "arena_bytes"),
    ("lower bound B", "lower_bound_bytes"),
)
OPTIONAL = ("peak_bytes", "arena_bytes", "lower_bound_bytes")


def format_comparison(reports: Sequence[Report], labels: Sequence[str] | None = None) -> str:
    """A fixed-width table, one line per report in the given order, named by ``labels`` (default: each report's
    model name); a missing memory figure shows as ``-``."""
    columns = [c for c in COLUMNS if c[1] not in OPTIONAL or any(getattr(r, c[1]) is not None for r in reports)]
    cells = [[_cell(getattr(report, attr)) for _, attr in columns] for report in reports]
    for row, label in zip(cells, labels or (), strict=False):
        row[0] = label
    widths = [max([len(header)] + [len(row[i]) for row in cells]) for i, (header, _) in enumerate(columns)]

    def line(values: list[str]) -> str:
        return "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths, strict=True))).rstrip()

    return "\n".join([line([h for h, _ in columns]), line(["-" * w for w in widths])] + [line(r) for r in cells])


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, tuple):
        return str(len(value))
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)

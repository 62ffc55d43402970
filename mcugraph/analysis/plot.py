"""``mcugraph analyze --plot``: per-node bar charts of a :class:`~mcugraph.analysis.report.Report`.

Panels are functions ``(axes, report) -> None`` drawn top to bottom over a shared x axis (one bar per node). The
memory timeline is one more panel: pass it in ``extra_panels`` (``mcugraph.memory.report`` does).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from mcugraph.analysis.report import Report, short_name
from mcugraph.atomic import atomic_write_bytes
from mcugraph.errors import MCUGraphError

Panel = Callable[["object", Report], None]  # (matplotlib Axes, report)


def macs_panel(ax, report: Report) -> None:
    ax.bar(range(len(report.ops)), [row.macs for row in report.ops], color="tab:blue")
    ax.set_ylabel("MACs")
    ax.set_title(f"{report.model}: {report.macs:,} MACs, {report.weight_bytes:,} B of weights")


def weights_panel(ax, report: Report) -> None:
    ax.bar(range(len(report.ops)), [row.weight_bytes for row in report.ops], color="tab:orange")
    ax.set_ylabel("weight bytes")


def plot_report(report: Report, path: str | os.PathLike, extra_panels: Sequence[Panel] = ()) -> Path:
    """Draw the MACs and weight-bytes panels (and ``extra_panels``) to an image at ``path``, written atomically."""
    import matplotlib

    matplotlib.use("Agg")  # no display on a build server; must precede pyplot
    import matplotlib.pyplot as plt

    panels = [macs_panel, weights_panel, *extra_panels]
    width = min(40.0, max(8.0, 0.25 * len(report.ops)))
    fig, axes = plt.subplots(len(panels), 1, sharex=True, figsize=(width, 2.6 * len(panels)), squeeze=False)
    try:
        for ax, panel in zip(axes[:, 0], panels, strict=True):
            panel(ax, report)
        labels = [f"{short_name(row.name, 32)} ({row.op})" for row in report.ops]
        bottom = axes[-1, 0]
        bottom.set_xticks(range(len(labels)))
        bottom.set_xticklabels(labels, rotation=90, fontsize=6)
        fig.tight_layout()
        kind = Path(path).suffix.lstrip(".").lower() or "png"
        if kind not in fig.canvas.get_supported_filetypes():
            raise MCUGraphError(f"--plot {path}: unknown image type '.{kind}'; use .png, .svg or .pdf")
        buffer = io.BytesIO()
        fig.savefig(buffer, format=kind, dpi=100)
    finally:
        plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue())

"""Inline SVG figures of the HTML report: the memory timeline and the arena layout (pure functions, data -> text).

Both take the ``memory`` dict of :func:`mcugraph.analysis.html_data.report_data` and share one x axis, the kernel
step, so a column of the arena lines up with its bar in the timeline. Every name from the model is escaped: names
come from untrusted files. Hovering a shape shows its ``<title>``: the tensor, its bytes, offset, first/last op.
"""

from __future__ import annotations

import re
from html import escape

WIDTH = 1280
LEFT, RIGHT, TOP, BOTTOM = 78, 16, 40, 34
# A light palette (Tableau 20's pale half, reordered for contrast between neighbours); text stays dark on it.
PALETTE = ("#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d",
           "#9edae5", "#c7c7c7", "#fdd0a2", "#bcbddc")
PEAK = "#d62728"


def short(name: str, width: int = 40) -> str:
    """``name`` in at most ``width`` characters, its distinguishing end kept. The TF converter joins the ops fused
    into a tensor with ``;`` (``model/activation_3/Relu;model/batch_normalization_3/...``): the first one names it,
    and a patched stage's ``/tile<k>...`` suffix on the last one is kept."""
    if ";" in name:
        tile = re.search(r"/tile\d+.*$", name.rsplit(";", 1)[-1])
        name = name.split(";", 1)[0].removeprefix("model/") + (tile.group(0) if tile else "")
    return name if len(name) <= width else "…" + name[-(width - 1):]


def _kib(value: int) -> str:
    return f"{value // 1024:,} KiB" if value % 1024 == 0 else f"{value:,} B"


def _ticks(top: int, count: int = 6) -> list[int]:
    """Round tick values (bytes) from 0 to ``top``: multiples of 1, 2 or 5 times a power of ten KiB (of 16, 32,
    64... bytes below 1 KiB)."""
    raw = top / count
    steps = [16 * 2**i for i in range(6)] + [1024 * m * 10**p for p in range(7) for m in (1, 2, 5)]
    step = next((s for s in steps if s >= raw), steps[-1])
    return list(range(0, top + 1, step))


class _Axes:
    """Step -> x and bytes -> y for a plot of ``steps`` columns and ``top`` bytes, ``height`` pixels tall."""

    def __init__(self, steps: int, top: int, height: int):
        self.steps, self.top, self.height = max(steps, 1), max(top, 1), height
        self.dx = (WIDTH - LEFT - RIGHT) / self.steps

    def x(self, step: float) -> float:
        return LEFT + step * self.dx

    def y(self, value: float) -> float:
        return TOP + self.height * (1 - value / self.top)

    def frame(self, memory: dict, y_label: str) -> list[str]:
        """Tile shading, grid, axes and their labels."""
        parts = []
        for tile, first, last in _tile_spans(memory["steps"]):
            shade = "#eef2f7" if tile % 2 else "#e2e8f0"
            parts.append(f'<rect x="{self.x(first):.1f}" y="{TOP}" width="{(last - first + 1) * self.dx:.1f}" '
                         f'height="{self.height}" fill="{shade}"><title>tile {tile}: steps {first}..{last}</title></rect>')
            if (last - first + 1) * self.dx >= 26:
                parts.append(f'<text x="{self.x((first + last + 1) / 2):.1f}" y="{TOP - 5}" class="tile">tile {tile}'
                             "</text>")
        for value in _ticks(self.top):
            y = self.y(value)
            parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
            parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" class="ylab">{_kib(value)}</text>')
        every = max(1, round(self.steps / 25))
        every = next(m for m in (1, 2, 5, 10, 20, 50, 100, 200, 500, 10**9) if m >= every)
        for step in range(0, self.steps, every):
            parts.append(f'<text x="{self.x(step + 0.5):.1f}" y="{TOP + self.height + 14}" class="xlab">{step}</text>')
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + self.height}" y2="{TOP + self.height}" '
                     'class="axis"/>')
        parts.append(f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{TOP + self.height + 30}" class="xtitle">'
                     "operator step (execution order)</text>")
        parts.append(f'<text transform="translate(14 {TOP + self.height / 2}) rotate(-90)" class="xtitle">'
                     f"{y_label}</text>")
        return parts


def _tile_spans(steps: list[dict]) -> list[tuple[int, int, int]]:
    """(tile, first step, last step) of every tile of a patched stage, in step order."""
    spans: dict[int, list[int]] = {}
    for i, s in enumerate(steps):
        if s["tile"] is not None:
            spans.setdefault(s["tile"], []).append(i)
    return [(tile, min(xs), max(xs)) for tile, xs in spans.items()]


def _svg(height: int, label: str, parts: list[str]) -> str:
    return (f'<svg viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
            f'height="{height}" role="img" aria-label="{escape(label)}">' + "".join(parts) + "</svg>")


def timeline_svg(memory: dict, height: int = 220) -> str:
    """Live bytes at every step as bars; the peak step's bar red, a dashed line at the peak, its operator named."""
    steps = memory["steps"]
    axes = _Axes(len(steps), memory["peak_bytes"] * 11 // 10, height)
    parts = axes.frame(memory, "live bytes")
    for i, s in enumerate(steps):
        y = axes.y(s["live_bytes"])
        colour = PEAK if i == memory["peak_step"] else "#4c78a8"
        parts.append(f'<rect x="{axes.x(i) + axes.dx * 0.1:.1f}" y="{y:.1f}" width="{axes.dx * 0.8:.1f}" '
                     f'height="{TOP + height - y:.1f}" fill="{colour}"><title>step {i}: {escape(s["kernel"])} '
                     f'({escape(s["op"])}), {s["live_bytes"]:,} B live</title></rect>')
    parts += _peak_marks(axes, memory)
    return _svg(TOP + height + BOTTOM, "memory timeline", parts)


def peak_where(memory: dict) -> str:
    """"step 12 (12:CONV_2D)", or "step 3, conv1" where the kernel name does not start with its step."""
    step, kernel = memory["peak_step"], memory["peak_kernel"] or "-"
    if kernel.startswith(f"{step}:"):
        return f"step {kernel}"
    return f"step {step}, {short(kernel, 48)}"


def _peak_label(axes: _Axes, step: int, text: str) -> str:
    """The red label above the plot, beside the peak step, on the side with more room."""
    anchor = "end" if step > axes.steps / 2 else "start"
    x = axes.x(step + 0.5) + (-8 if anchor == "end" else 8)
    return f'<text x="{x:.1f}" y="{TOP - 22}" class="peaklab" text-anchor="{anchor}">{escape(text)}</text>'


def _peak_marks(axes: _Axes, memory: dict) -> list[str]:
    peak, step = memory["peak_bytes"], memory["peak_step"]
    y = axes.y(peak)
    return [
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="peak"/>',
        f'<line x1="{axes.x(step + 0.5):.1f}" x2="{axes.x(step + 0.5):.1f}" y1="{TOP - 18}" y2="{TOP + axes.height}" '
        'class="peak"/>',
        _peak_label(axes, step, f"peak {peak:,} B at {peak_where(memory)}"),
    ]


def arena_svg(memory: dict, height: int = 460) -> str:
    """Every planned tensor as a rectangle over its live steps (x) and its arena bytes (y, offset 0 at the bottom).

    Tensors sharing bytes in place with another are hatched and outlined (same colour as the tensor they reuse);
    kernel scratch buffers are grey; tiles of a patched stage are shaded columns; the peak step and the arena size
    are marked.
    """
    steps = memory["steps"]
    arena = memory["arena_bytes"]
    axes = _Axes(len(steps), arena, height)
    parts = ['<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
             'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="#333" stroke-width="1.2" '
             'stroke-opacity="0.45"/></pattern></defs>']
    parts += axes.frame(memory, "arena offset")
    colour: dict[str, str] = {}
    for t in memory["tensors"]:
        colour.setdefault(t["name"], colour.get(t["shares"]) or PALETTE[len(colour) % len(PALETTE)])
    for t in memory["tensors"]:
        x, w = axes.x(t["first"]), (t["last"] - t["first"] + 1) * axes.dx
        y, h = axes.y(t["offset"] + t["size"]), t["size"] * axes.height / axes.top
        reuse = f"; reuses the bytes of {escape(t['shares'])} in place" if t["shares"] else ""
        tile = f"; tile {t['tile']}" if t["tile"] is not None else ""
        title = (f"{escape(t['name'])}: {t['size']:,} B at offset {t['offset']:,}..{t['offset'] + t['size']:,}, "
                 f"steps {t['first']}..{t['last']} (first op {escape(t['first_op'])}, last op "
                 f"{escape(t['last_op'])}); shape {t['shape']}{reuse}{tile}")
        cls = "tensor shared" if t["shares"] else "tensor"
        parts.append(f'<g class="{cls}"><title>{title}</title><rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" '
                     f'height="{h:.1f}" fill="{colour[t["name"]]}"/>')
        if t["shares"]:
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="url(#hatch)"/>')
        if w >= 70 and h >= 13:
            # An unnamed .tflite tensor is "t<index>:": its shape says more than its index.
            label = f"{t['name']} {t['shape']}" if t["name"].endswith(":") else t["name"]
            parts.append(f'<text x="{x + 3:.1f}" y="{y + min(h / 2 + 4, 13):.1f}" class="tlab">'
                         f"{escape(short(label, max(int(w / 6.2), 4)))}</text>")
        parts.append("</g>")
    for s in memory["scratch"]:
        y, h = axes.y(s["offset"] + s["size"]), s["size"] * axes.height / axes.top
        parts.append(f'<rect x="{axes.x(s["step"]):.1f}" y="{y:.1f}" width="{axes.dx:.1f}" height="{h:.1f}" '
                     f'class="scratch"><title>{escape(s["name"])}: kernel scratch buffer, {s["size"]:,} B at offset '
                     f'{s["offset"]:,} (placed by TFLM), step {s["step"]}</title></rect>')
    step = memory["peak_step"]
    parts.append(f'<rect x="{axes.x(step):.1f}" y="{TOP}" width="{axes.dx:.1f}" height="{axes.height}" '
                 'class="peakcol"/>')
    y = axes.y(arena)
    parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="peak"/>')
    parts.append(f'<line x1="{axes.x(step + 0.5):.1f}" x2="{axes.x(step + 0.5):.1f}" y1="{TOP - 18}" y2="{TOP}" '
                 'class="peak"/>')
    parts.append(_peak_label(axes, step, f"arena {arena:,} B; peak at {peak_where(memory)}"))
    return _svg(TOP + height + BOTTOM, "arena layout", parts)


def flash_svg(items: list[dict], height: int = 34) -> str:
    """The known flash items as one stacked horizontal bar, each part titled with its bytes and share."""
    known = [i for i in items if i["bytes"]]
    total = sum(i["bytes"] for i in known) or 1
    # One colour per kind of item, the same on every page; an item added later (a bench JSON's) takes a spare.
    colours = {"weights + biases": "#4c78a8", "other constants": "#f58518", "rest of the .tflite": "#bab0ac",
               "TFLM runtime (code)": "#54a24b"}
    spare = ("#b279a2", "#72b7b2", "#eeca3b")
    parts, x = [], 0.0
    for n, item in enumerate(known):
        w = (WIDTH - 2) * item["bytes"] / total
        share = 100 * item["bytes"] / total
        parts.append(f'<rect x="{x + 1:.1f}" y="1" width="{w:.1f}" height="{height - 2}" fill="{colours.get(item["label"], spare[n % len(spare)])}">'
                     f'<title>{escape(item["label"])}: {item["bytes"]:,} B ({share:.1f} %)</title></rect>')
        if w > 120:
            parts.append(f'<text x="{x + 8:.1f}" y="{height / 2 + 5}" class="flab">{escape(item["label"])} '
                         f"{share:.0f} %</text>")
        x += w
    return _svg(height, "flash bill", parts)

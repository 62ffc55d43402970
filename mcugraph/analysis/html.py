"""The HTML report: one self-contained page (no network, no scripts, inline SVG) from the report data.

:func:`render` is a pure function of the dict :func:`mcugraph.analysis.html_data.report_data` builds: a summary,
the memory timeline and the arena layout (:mod:`mcugraph.analysis.html_svg`), the flash bill, the channel widths
before/after pruning when the data has them, and the per-operator table, whose columns are the data's
``columns`` (a later measurement adds one there). Every string from the model is escaped with
:func:`html.escape`: names come from untrusted files.
"""

from __future__ import annotations

from html import escape
from typing import Any

from mcugraph.analysis.html_svg import arena_svg, flash_svg, peak_where, short, timeline_svg

STYLE = """
body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1f2328;
       margin: 24px 32px; max-width: 1320px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 6px; }
.sub { color: #57606a; margin: 0 0 14px; } .note { color: #57606a; font-size: 12.5px; margin: 4px 0; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 10px 0; }
.card { border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 14px; flex: 1 1 0; min-width: 110px; }
.card b { display: block; font-size: 19px; } .card span { color: #57606a; font-size: 12.5px; }
.card.peak b { color: #d62728; }
table { border-collapse: collapse; font-size: 12.5px; } th, td { padding: 2px 8px; border-bottom: 1px solid #eaeef2; }
th { text-align: left; background: #f6f8fa; position: sticky; top: 0; } td.n, th.n { text-align: right; }
td.n { font-variant-numeric: tabular-nums; } tr.peak td { background: #fde2e1; font-weight: 600; }
tr.fused td { color: #57606a; } td.name { max-width: 430px; overflow: hidden; text-overflow: ellipsis;
white-space: nowrap; }
svg text { font: 11px "DejaVu Sans", sans-serif; fill: #1f2328; }
.grid { stroke: #d8dee4; stroke-width: 0.6; } .axis { stroke: #57606a; }
.ylab { text-anchor: end; fill: #57606a; } .xlab { text-anchor: middle; fill: #57606a; font-size: 10px; }
.xtitle { text-anchor: middle; fill: #57606a; } .tile { text-anchor: middle; fill: #57606a; font-size: 10px; }
.peak { stroke: #d62728; stroke-width: 1.3; stroke-dasharray: 5 3; }
.peaklab { fill: #d62728; font-weight: 700; } .peakcol { fill: none; stroke: #d62728; stroke-width: 1.4; }
.tensor rect:first-of-type { stroke: #ffffff; stroke-width: 0.8; } .shared rect:first-of-type { stroke: #333;
stroke-dasharray: 3 2; } .tlab { font-size: 10px; } .scratch { fill: #8c8c8c; stroke: #fff; stroke-width: 0.5; }
.flab { fill: #fff; font-weight: 600; } .legend span { display: inline-block; margin-right: 16px; }
.sw { display: inline-block; width: 14px; height: 10px; border: 1px solid #555; vertical-align: -1px;
margin-right: 4px; } .bar { display: inline-block; height: 9px; background: #4c78a8; vertical-align: 0; }
.bar.after { background: #54a24b; }
"""


def render(data: dict[str, Any]) -> str:
    """The whole page as a string."""
    memory = data["memory"]
    body = [f"<h1>{escape(data['model'])}</h1>", f'<p class="sub">mcugraph report of {escape(data["source"])}</p>',
            _cards(data)]
    if memory is not None:
        body += _memory_sections(memory)
    else:
        body.append('<p class="note">No memory figures: this model has operators TFLM cannot run (see the '
                    "warning mcugraph printed), so there is no arena to draw.</p>")
    body += _flash_section(data["flash"])
    if data.get("prune"):
        body += _prune_section(data["prune"])
    body += _op_table(data)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>mcugraph report: {escape(data['model'])}</title><style>{STYLE}</style></head>"
            "<body>\n" + "\n".join(body) + "\n</body></html>\n")


def _card(label: str, value: str, css: str = "") -> str:
    return f'<div class="card {css}"><b>{value}</b><span>{label}</span></div>'


def _cards(data: dict) -> str:
    totals, memory, flash = data["totals"], data["memory"], data["flash"]
    cards = []
    if memory is not None:
        cards.append(_card(f"peak SRAM, at {escape(peak_where(memory))}",
                           f"{memory['peak_bytes']:,} B", "peak"))
        if memory.get("tflm_own_plan_bytes") is None:
            cards.append(_card("planned arena (TFLM head)", f"{memory['arena_bytes']:,} B"))
        else:
            cards.append(_card("arena with mcugraph's plan", f"{memory['arena_bytes']:,} B"))
            cards.append(_card("arena TFLM plans itself (no plan in the file)", f"{memory['tflm_own_plan_bytes']:,} B"))
    if flash["file_bytes"] is not None:
        cards.append(_card(f"flash: {escape(flash['file_label'])}", f"{flash['file_bytes']:,} B"))
    cards.append(_card("weights + biases", f"{totals['weight_bytes']:,} B"))
    cards.append(_card("MACs per inference", f"{totals['macs']:,}"))
    cards.append(_card("operators" if memory is not None else "nodes",
                       f"{len(memory['steps']) if memory is not None else totals['nodes']:,}"))
    return '<div class="cards">' + "".join(cards) + "</div>"


def _memory_sections(memory: dict) -> list[str]:
    tiles = {s["tile"] for s in memory["steps"] if s["tile"] is not None}
    shared = sum(1 for t in memory["tensors"] if t["shares"])
    optimal = "optimal for this order" if memory["optimal"] else "best found for this order"
    bound = memory["lower_bound_bytes"]
    parts = [
        "<h2>Memory timeline</h2>",
        f'<p class="note">SRAM live while each operator runs (tensors, 16-byte aligned, plus its scratch buffers). '
        f"The red bar sets the peak: {memory['peak_bytes']:,} B at step {memory['peak_step']}, operator "
        f"<b>{escape(memory['peak_kernel'] or '-')}</b>.</p>",
        timeline_svg(memory),
        "<h2>Arena layout</h2>",
        f'<p class="note">Each tensor is a rectangle: its live steps across, its bytes in the arena up (offset 0 at '
        f"the bottom). Arena {memory['arena_bytes']:,} B ({optimal}: {escape(memory['method'] or 'plan')}; lower "
        f"bound {bound:,} B, the peak live bytes). Hover a rectangle for its name, bytes, offset and first/last "
        f"operator. {escape(memory['plan_note'])}</p>",
        arena_svg(memory),
        '<p class="note legend"><span><i class="sw" style="background:#aec7e8"></i>a tensor</span>'
        '<span><i class="sw" style="background:repeating-linear-gradient(45deg,#aec7e8 0 3px,#777 3px 4px);'
        f'border-style:dashed"></i>reuses another tensor\'s bytes in place ({shared})</span>'
        '<span><i class="sw" style="background:#8c8c8c"></i>kernel scratch buffer (placed by TFLM)</span>'
        + (f'<span><i class="sw" style="background:#e2e8f0"></i>row tiles of a patched stage ({len(tiles)})</span>'
           if tiles else "")
        + '<span><i class="sw" style="border-color:#d62728"></i>peak step</span></p>',
    ]
    return parts


def _flash_section(flash: dict) -> list[str]:
    rows = []
    known = sum(i["bytes"] for i in flash["items"] if i["bytes"])
    for item in flash["items"]:
        value = f"{item['bytes']:,}" if item["bytes"] is not None else "–"
        share = f"{100 * item['bytes'] / known:.1f} %" if item["bytes"] and known else ""
        rows.append(f"<tr><td>{escape(item['label'])}</td><td class=\"n\">{value}</td><td class=\"n\">{share}</td>"
                    f"<td>{escape(item['note'])}</td></tr>")
    total = f"{flash['file_bytes']:,} B: {escape(flash['file_label'])}" if flash["file_bytes"] is not None else ""
    return ["<h2>Flash</h2>", flash_svg(flash["items"]),
            '<table><tr><th>part</th><th class="n">bytes</th><th class="n">share</th><th></th></tr>'
            + "".join(rows) + "</table>", f'<p class="note">{total}</p>' if total else ""]


def _prune_section(prune: dict) -> list[str]:
    groups = prune["groups"]
    widest = max((g["before"] or 0 for g in groups), default=1) or 1
    rows = []
    for g in groups:
        before, after = g["before"] or 0, g["after"] or 0
        rows.append(
            f"<tr><td class=\"n\">{escape(str(g['id']))}</td><td class=\"n\">{before}</td><td class=\"n\">{after}</td>"
            f"<td><span class=\"bar\" style=\"width:{240 * before / widest:.0f}px\"></span><br>"
            f"<span class=\"bar after\" style=\"width:{240 * after / widest:.0f}px\"></span></td>"
            f"<td class=\"name\" title=\"{escape(', '.join(g['producers']))}\">"
            f"{escape(', '.join(short(p, 36) for p in g['producers']))}</td></tr>")
    resources = []
    for key in ("ram", "flash", "macs"):
        if key in prune["before"] and key in prune["after"]:
            budget = prune["budgets"].get(key)
            resources.append(f"{key} {prune['before'][key]:,} → {prune['after'][key]:,}"
                             + (f" (budget {budget:,})" if budget is not None else ""))
    return ["<h2>Channels before / after pruning</h2>",
            f'<p class="note">{escape("; ".join(resources))}. Blue: channels before, green: after.</p>',
            '<table><tr><th class="n">group</th><th class="n">before</th><th class="n">after</th><th>width</th>'
            "<th>producers</th></tr>" + "".join(rows) + "</table>"]


def _op_table(data: dict) -> list[str]:
    columns = data["columns"]
    head = "".join(f'<th class="{"n" if c["numeric"] else ""}">{escape(c["title"])}</th>' for c in columns)
    rows = []
    for op in data["ops"]:
        cells = []
        for c in columns:
            value = op.get(c["key"])
            if value is None:
                cells.append("<td></td>")
            elif c["numeric"]:
                cells.append(f'<td class="n">{value:,}</td>' if isinstance(value, int) else
                             f'<td class="n">{escape(str(value))}</td>')
            elif c["key"] in ("name", "fused_into"):
                cells.append(f'<td class="name" title="{escape(str(value))}">{escape(short(str(value), 60))}</td>')
            else:
                cells.append(f"<td>{escape(str(value))}</td>")
        css = "peak" if op.get("peak") and not op.get("fused_into") else "fused" if op.get("fused_into") else ""
        rows.append(f'<tr class="op {css}">' + "".join(cells) + "</tr>")
    totals = data["totals"]
    return ["<h2>Operators</h2>",
            f'<p class="note">{len(data["ops"])} rows in execution order; {totals["macs"]:,} MACs, '
            f"{totals['weight_bytes']:,} B of weights + biases, {totals['params']:,} parameters. The peak row is "
            "red.</p>",
            f'<table id="ops"><tr>{head}</tr>' + "".join(rows) + "</table>"]

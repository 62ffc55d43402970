"""The data of the HTML report (``mcugraph report``, ``analyze --html``, ``opt --html``), as plain JSON types.

:func:`report_data` gathers what the page shows from what the analyses already computed: the analysis
:class:`~mcugraph.analysis.report.Report` (one row per node or .tflite operator), the memory profile and the arena
plan (:class:`mcugraph.cli.analyze_memory.MemoryFigures`), the .tflite bytes for the flash bill, and a pruning
report's channel groups. :func:`mcugraph.analysis.html.render` turns the dict into the page and reads nothing else,
so a later measurement adds a table column (``extra_columns``: ``columns`` + a key on each row of ``ops``) or a
flash item (``flash["items"]``) to the data without touching the renderer.

Layout (bytes everywhere; steps are positions in the kernel order):

- ``model``, ``source``; ``totals``: ``macs``, ``weight_bytes``, ``params``, ``nodes``, and with memory
  ``peak_bytes``, ``arena_bytes``, ``lower_bound_bytes``;
- ``columns``: ``[{"key", "title", "numeric"}]`` in table order; ``ops``: one dict per row with those keys, plus
  ``step`` (None: the row runs in no kernel) and ``peak`` (the row runs at the peak step);
- ``memory`` (None without a kernel view): ``steps`` ``[{"kernel", "op", "live_bytes", "tile"}]``, ``peak_step``,
  ``peak_bytes``, ``peak_kernel``, ``arena_bytes``, ``lower_bound_bytes``, ``method``, ``optimal``, ``plan_note``,
  ``tflm_own_plan_bytes`` (a .tflite without an offline plan: the arena TFLM plans itself, else None), ``tensors`` ``[{"name", "shape", "offset", "size", "first", "last", "first_op", "last_op", "shares", "tile"}]``
  (``shares``: the tensor whose bytes it reuses in place, or None), ``scratch`` ``[{"name", "offset", "size",
  "step"}]``;
- ``flash``: ``items`` ``[{"label", "bytes", "note"}]`` (``bytes`` None: not known), ``file_bytes`` (None: not
  known) and ``file_label`` (what file_bytes is);
- ``prune`` (None unless given): ``groups`` ``[{"id", "before", "after", "producers"}]`` (prunable groups),
  ``before``/``after``/``budgets`` resource dicts as the pruning report has them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mcugraph.memory.report import _tile_of  # the one place that reads a patched stage's tile from a name

COLUMNS: tuple[dict[str, Any], ...] = (
    {"key": "step", "title": "step", "numeric": True},
    {"key": "name", "title": "name", "numeric": False},
    {"key": "op", "title": "op", "numeric": False},
    {"key": "output_shape", "title": "output shape", "numeric": False},
    {"key": "macs", "title": "MACs", "numeric": True},
    {"key": "weight_bytes", "title": "weight B", "numeric": True},
    {"key": "live_bytes", "title": "live B", "numeric": True},
    {"key": "fused_into", "title": "fused into", "numeric": False},
)


def report_data(report, figures=None, *, source: str, tflite: bytes | None = None, prune: dict | None = None,
                plan_note: str = "", tflm_own_plan_bytes: int | None = None,
                extra_columns: Sequence[tuple[dict[str, Any], Mapping[str, Any]]] = (),
                runtime_bytes: int | None = None) -> dict[str, Any]:
    """The page's data (see the module docstring). ``figures``: the memory figures of ``report`` (None: no memory
    sections); ``tflite``: the model file, for the flash bill; ``prune``: a pruning report (``prune --json``);
    ``plan_note``: where the drawn plan comes from; ``tflm_own_plan_bytes``: TFLM's arena for a file without an
    offline plan (its own greedy planner); ``extra_columns``: more table columns, each ``({"key", "title",
    "numeric"}, {row name: value})`` (e.g. instructions per operator measured on a chip; a row it lacks is blank);
    ``runtime_bytes``: the TFLM runtime's code in flash, from a firmware build (None: listed as not measured)."""
    steps = figures.steps if figures is not None else (None,) * len(report.ops)
    peak_step = figures.profile.peak_step if figures is not None else None
    ops = []
    for row, step in zip(report.ops, steps, strict=True):
        ops.append({
            "step": step, "name": row.name, "op": row.op, "output_shape": "x".join(str(d) for d in row.output_shape),
            "macs": row.macs, "weight_bytes": row.weight_bytes, "live_bytes": row.live_bytes,
            "fused_into": row.fused_into, "peak": step is not None and step == peak_step,
        })
    for column, values in extra_columns:
        for op in ops:
            op[column["key"]] = values.get(op["name"])
    columns = [c for c in COLUMNS if any(op[c["key"]] is not None for op in ops)]
    columns += [dict(column) for column, _ in extra_columns]
    totals = {"macs": report.macs, "weight_bytes": report.weight_bytes, "params": report.params, "nodes": len(ops),
              "peak_bytes": report.peak_bytes, "arena_bytes": report.arena_bytes,
              "lower_bound_bytes": report.lower_bound_bytes}
    return {
        "model": report.model,
        "source": source,
        "totals": totals,
        "columns": columns,
        "ops": ops,
        "memory": _memory(figures, plan_note, tflm_own_plan_bytes) if figures is not None else None,
        "flash": _flash(report, figures, tflite, runtime_bytes),
        "prune": _prune(prune) if prune is not None else None,
    }


def _memory(figures, plan_note: str, tflm_own_plan_bytes: int | None) -> dict[str, Any]:
    from mcugraph.memory.liveness import lifetimes

    profile, plan, graph = figures.profile, figures.plan, figures.graph
    live = lifetimes(graph, plan.order)
    kernels = {k.name: k for k in graph.kernels}
    tile = [_tile_of(graph, name) for name in plan.order]
    tensors = []
    for name, offset in plan.offsets.items():
        if name not in live:
            continue
        first, last = live[name]
        last = min(last, len(plan.order) - 1)  # a graph output stays live after the last kernel
        owner = plan.aliases.get(name) or plan.shared.get(name, (None, 0))[0]
        tensors.append({
            "name": name, "shape": "x".join(str(d) for d in graph.tensors[name].shape),
            "offset": offset, "size": plan.sizes[name], "first": first, "last": last,
            "first_op": plan.order[first] if 0 <= first < len(plan.order) else "input",
            "last_op": plan.order[last] if 0 <= last < len(plan.order) else "-",
            "shares": owner if owner != name else None,
            "tile": tile[first] if 0 <= first < len(tile) else None,
        })
    tensors.sort(key=lambda t: (t["offset"], t["first"]))
    scratch = [
        {"name": name, "offset": offset, "size": plan.scratch_sizes[name],
         "step": plan.order.index(name.rsplit("/scratch", 1)[0])}
        for name, offset in plan.scratch_offsets.items()
    ]
    peak = profile.peak_step
    return {
        "steps": [{"kernel": name, "op": kernels[name].op, "live_bytes": profile.live_bytes[i], "tile": tile[i]}
                  for i, name in enumerate(plan.order)],
        "peak_step": peak,
        "peak_bytes": profile.peak_bytes,
        "peak_kernel": plan.order[peak] if 0 <= peak < len(plan.order) else None,
        "arena_bytes": plan.arena_bytes,
        "lower_bound_bytes": plan.lower_bound_bytes,
        "method": plan.method,
        "optimal": plan.optimal,
        "plan_note": plan_note,
        "tflm_own_plan_bytes": tflm_own_plan_bytes,
        "tensors": tensors,
        "scratch": scratch,
    }


def _flash(report, figures, tflite: bytes | None, runtime_bytes: int | None) -> dict[str, Any]:
    runtime = {"label": "TFLM runtime (code)", "bytes": runtime_bytes,
               "note": "not measured: needs a firmware build" if runtime_bytes is None else "from a firmware build"}
    weights = {"label": "weights + biases", "bytes": report.weight_bytes, "note": ""}
    if tflite is None:
        predicted = report.flash_bytes  # of an ONNX model: the .tflite mcugraph opt would write (None: cannot export)
        if predicted is None:
            weights["note"] = "at the deployment dtype; the .tflite adds its structure (run mcugraph opt)"
            return {"items": [weights, runtime], "file_bytes": None, "file_label": ""}
        rest = {"label": "rest of the .tflite", "bytes": predicted - weights["bytes"],
                "note": "predicted: the file mcugraph opt writes with its defaults, less the weights"}
        return {"items": [weights, rest, runtime], "file_bytes": predicted,
                "file_label": "the .tflite mcugraph opt writes (predicted)"}
    constants = 0
    if figures is not None:
        constants = sum(t.nbytes for t in figures.graph.tensors.values() if t.constant)
    other = max(constants - weights["bytes"], 0)
    rest = len(tflite) - weights["bytes"] - other
    items = [
        weights,
        {"label": "other constants", "bytes": other, "note": "shapes, paddings, axes, lookup tables"},
        {"label": "rest of the .tflite", "bytes": rest,
         "note": "operators, tensor descriptions, quantisation parameters, metadata (the arena plan)"},
        runtime,
    ]
    return {"items": items, "file_bytes": len(tflite), "file_label": "the .tflite file"}


def _prune(report: dict) -> dict[str, Any]:
    groups = [
        {"id": g.get("id"), "before": g.get("before"), "after": g.get("after"),
         "producers": list(g.get("producers") or [])}
        for g in report.get("groups") or []
        if g.get("prunable", True)
    ]
    return {"groups": groups, "before": report.get("before") or {}, "after": report.get("after") or {},
            "budgets": report.get("budgets") or {}}

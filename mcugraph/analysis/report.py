"""The analysis report of ``mcugraph analyze``: totals and one row per IR node, as a table or stable JSON.

:func:`analyze` fills the compute and flash figures (:mod:`mcugraph.analysis.costs`). The memory fields
(``OpRow.live_bytes``/``live_tensors``/``fused_into``, ``Report.peak_bytes``/``arena_bytes``/``lower_bound_bytes``/
``order``) stay ``None`` here; ``mcugraph.memory`` fills them with :func:`dataclasses.replace`. ``None`` fields are
left out of the JSON and their columns out of the table, so one report type serves both. The JSON layout is a
contract documented in ``docs/report-json.md``; change it only with a new :data:`SCHEMA_VERSION`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import onnx_ir as ir

from mcugraph.analysis.costs import node_costs

SCHEMA_VERSION = 2  # 2: flash_bytes is the .tflite file; the weights moved to weight_bytes


@dataclasses.dataclass(frozen=True)
class OpRow:
    """One IR node. ``macs`` in multiply-accumulates, ``weight_bytes`` and ``live_bytes`` in bytes."""

    name: str
    op: str
    output_shape: tuple[int, ...]
    macs: int
    weight_bytes: int
    live_bytes: int | None = None  # SRAM in use while this node runs (TFLM rules), filled by mcugraph.memory
    live_tensors: tuple[str, ...] | None = None  # the tensors making up live_bytes
    fused_into: str | None = None  # name of the node whose kernel runs this one (fused activation)
    instructions: int | None = None  # measured on an emulated chip (mcugraph bench JSON, mcugraph.analysis.measured)


@dataclasses.dataclass(frozen=True)
class Report:
    """Whole-model totals: ``macs`` (multiply-accumulates), ``flash_bytes`` (the .tflite file mcugraph writes at the
    deployment dtype: what the model occupies in flash; ``None`` when it cannot be exported, ``flash_note`` says
    why), ``weight_bytes`` (its weights + biases), ``params`` (weight + bias elements) and the rows in graph order."""

    model: str
    macs: int
    flash_bytes: int | None
    params: int
    ops: tuple[OpRow, ...]
    weight_bytes: int = 0
    flash_note: str | None = None
    peak_bytes: int | None = None  # peak live SRAM of the schedule in ``order``
    arena_bytes: int | None = None  # planned arena (TFLM "head")
    lower_bound_bytes: int | None = None  # no plan for this order can be smaller
    order: tuple[str, ...] | None = None  # execution order (node or kernel names) the memory figures are for
    measured: dict[str, Any] | None = None  # the chip's figures from a bench JSON (mcugraph.analysis.measured)

    def to_json(self) -> dict[str, Any]:
        """The report as plain JSON types (see ``docs/report-json.md``); ``None`` fields are omitted."""
        result: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
        result.update(_without_none(self, exclude=("ops",)))
        result["ops"] = [_without_none(row) for row in self.ops]
        return result


def analyze(model: ir.Model, *, name: str | None = None, dtype: str = "int8", flash: bool = True) -> Report:
    """Compute and flash report of ``model`` (static shapes required) at deployment ``dtype`` ("int8"/"float32").

    ``flash``: also size the .tflite ``mcugraph opt`` would write (its default options; one export with placeholder
    ranges, :mod:`mcugraph.analysis.flash`); False leaves ``flash_bytes`` None (callers that have the file).
    """
    costs = node_costs(model, dtype)
    rows = tuple(
        OpRow(cost.name, cost.op, _output_shape(node), cost.macs, cost.weight_bytes)
        for cost, node in zip(costs, model.graph, strict=True)
    )
    flash_bytes, note = _flash(model, dtype) if flash else (None, None)
    return Report(
        model=name or model.graph.name or "model",
        macs=sum(c.macs for c in costs),
        flash_bytes=flash_bytes,
        params=sum(c.params for c in costs),
        ops=rows,
        weight_bytes=sum(c.weight_bytes for c in costs),
        flash_note=note,
    )


def _flash(model: ir.Model, dtype: str) -> tuple[int | None, str | None]:
    from mcugraph.analysis.flash import predicted_flash_bytes
    from mcugraph.errors import MCUGraphError

    try:
        return predicted_flash_bytes(model, quantize=dtype == "int8"), None
    except MCUGraphError as e:  # an op the exporter refuses: the weights are still known
        return None, f"no .tflite: {e}"


def _output_shape(node: ir.Node) -> tuple[int, ...]:
    shape = node.outputs[0].shape if node.outputs else None
    return tuple(int(d) for d in shape) if shape is not None else ()


def _without_none(obj: Any, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    result = {}
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name)
        if value is None or field.name in exclude:
            continue
        result[field.name] = list(value) if isinstance(value, tuple) else value
    return result


# Columns of the table: header, how to read the cell from a row, right-aligned? Memory columns appear when filled.
_COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("name", "name", False),
    ("op", "op", False),
    ("output shape", "output_shape", False),
    ("MACs", "macs", True),
    ("weight B", "weight_bytes", True),
    ("live B", "live_bytes", True),
    ("fused into", "fused_into", False),
    ("instructions", "instructions", True),
)


def short_name(name: str, width: int = 48) -> str:
    """``name`` cut to ``width`` characters; exporters write 200-character names whose end tells nodes apart."""
    return name if len(name) <= width else "..." + name[-(width - 3):]


def format_table(report: Report) -> str:
    """A fixed-width table, one line per node, then the totals."""
    columns = [c for c in _COLUMNS if any(getattr(row, c[1]) is not None for row in report.ops) or c[1] == "name"]
    cells = [[_cell(getattr(row, attr)) for _, attr, _ in columns] for row in report.ops]
    names = [i for i, (_, attr, _) in enumerate(columns) if attr in ("name", "fused_into")]
    for row in cells:
        for i in names:
            row[i] = short_name(row[i])
    widths = [max([len(header)] + [len(r[i]) for r in cells]) for i, (header, _, _) in enumerate(columns)]

    def line(values: list[str]) -> str:
        parts = [v.rjust(w) if right else v.ljust(w) for v, w, (_, _, right) in zip(values, widths, columns, strict=True)]
        return "  ".join(parts).rstrip()

    lines = [line([header for header, _, _ in columns]), line(["-" * w for w in widths])]
    lines += [line(r) for r in cells]
    lines.append("")
    flash = (f"{report.flash_bytes:,} B flash (.tflite) of which {report.weight_bytes:,} B weights + biases"
             if report.flash_bytes is not None else f"{report.weight_bytes:,} B weights + biases")
    lines.append(f"{report.model}: {report.macs:,} MACs, {flash}, {report.params:,} params, {len(report.ops)} nodes")
    if report.flash_note:
        lines.append(report.flash_note)
    memory = [
        (label, getattr(report, attr))
        for label, attr in (("peak SRAM", "peak_bytes"), ("arena", "arena_bytes"), ("lower bound", "lower_bound_bytes"))
        if getattr(report, attr) is not None
    ]
    if memory:
        lines.append(", ".join(f"{label} {value:,} B" for label, value in memory))
    if report.measured:
        m = report.measured
        lines.append(f"on {m['target']} ({m['kernels']} kernels, QEMU): {m['instructions']:,} instructions per "
                     f"inference (executed, not cycles), arena {m['arena_bytes']:,} B, firmware flash "
                     f"{m['flash_bytes']:,} B")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple):
        return "x".join(str(d) for d in value)
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)

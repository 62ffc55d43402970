"""The operator table as people read it: ``mcugraph ops`` and the table in ``docs/ops.md`` (one generator).

One row per op of :data:`mcugraph.ops.table.OPS`: whether it is exported (and as which TFLite builtins), removed
by a canonicalisation pass, or not exported (and why: :func:`mcugraph.ops.refusals.reason`); how int8 treats it;
and its limits as the conformance suite measured them: of its ONNX backend node tests in the deployable form, how
many match in int8 and float32, and the refusal keys the others end in
(``mcugraph.ops.conformance_expected``; ``mcugraph ops --reasons`` prints what each key's error line says).
Reads no model and runs nothing.
"""

from __future__ import annotations

import collections

from mcugraph.ops.table import OPS

COLUMNS = ("op", "status", "TFLite builtins", "int8", "node tests int8 / float32 (deployable)", "limits (refusal keys)")


def rows() -> list[tuple[str, ...]]:
    """One tuple of :data:`COLUMNS` strings per op, exported ops first, each group alphabetical."""
    from mcugraph.ops.conformance import COLUMNS as FORMS
    from mcugraph.ops.conformance_expected import EXPECTED, OP
    from mcugraph.ops.refusals import reason

    per_op: dict[str, list[tuple[str, ...]]] = collections.defaultdict(list)
    for name, outcome in EXPECTED.items():
        per_op[OP[name]].append(outcome)
    int8, float32 = FORMS.index("deployable int8"), FORMS.index("deployable float32")
    result = []
    for op, row in sorted(OPS.items(), key=lambda item: (_rank(item[1]), item[0])):
        if row.exported:
            status = "exported"
        elif row.removed_by:
            status = f"removed by {row.removed_by}"
        else:
            status = "not exported: " + reason(op)
        tests = per_op.get(op, [])
        counts = "–"
        if tests:
            counts = f"{_matched(tests, int8)} / {_matched(tests, float32)} of {len(tests)}"
        # Per key, how many of the op's tests end in it (in int8, float32 or both).
        limits = collections.Counter(label for t in tests for label in {t[int8], t[float32]} - {"match"})
        shown = ", ".join(f"{key} ({n})" for key, n in sorted(limits.items()))
        result.append((op, status, " / ".join(row.builtins) or "–", row.int8 if row.exported else "–", counts,
                       shown or "–"))
    return result


def _rank(row) -> int:
    return 0 if row.exported else 1 if row.removed_by else 2


def _matched(tests: list[tuple[str, ...]], column: int) -> int:
    return sum(t[column] == "match" for t in tests)


def markdown() -> str:
    """The table as Markdown (what docs/ops.md holds between its generated-table markers)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows()]
    return "\n".join(lines) + "\n"


def text() -> str:
    """The table as aligned plain text, for a terminal."""
    table = [COLUMNS, *rows()]
    widths = [max(len(r[i]) for r in table) for i in range(len(COLUMNS) - 1)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=False)) + "  " + r[-1]
                     for r in table) + "\n"


def reasons() -> str:
    """Each refusal key of the conformance suite and the substring of the error line that names it."""
    from mcugraph.ops.conformance import REASONS

    width = max(map(len, REASONS))
    return "\n".join(f"{key.ljust(width)}  {line}" for key, line in REASONS.items()) + "\n"

"""TFLM arena before and after ``mcugraph schedule``, on the MLPerf Tiny int8 references and the zoo models.

Run: ``python benchmarks/memory.py [--time-limit S] [--no-zoo] [--json FILE]``. One row per model: TFLM's measured arena head of
the input, TFLM's head of the scheduled model, the predicted arena (must equal it byte for byte), the lower bound
(peak live bytes of the chosen order) and the scheduling time. Every scheduled model was also run in TFLM and is
bit-exact with its input on random samples (``schedule_tflite`` refuses otherwise).

The zoo models are exported to int8 .tflite by ``mcugraph.optimize`` (random calibration: the numbers are about
memory, not accuracy). That export already schedules and plans; its offline plan is removed here so the "before"
column is TFLM planning the file on its own, with the operators left in the order the exporter wrote.

``--json FILE`` keeps the rows, the notes and the commit they were measured at; ``benchmarks/results_pages.py``
renders a kept file into its docs/results page with :func:`format_report`, the same text this prints.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "models" / "mlperf-tiny"
MLPERF = ("kws_dscnn", "vww_mobilenetv1", "ic_resnet8", "ad_autoencoder")
# Acceptance targets for the scheduled TFLM head (bytes); the references' own heads are in SHARED/README.md.
TARGETS = {"kws_dscnn": 16_000, "vww_mobilenetv1": 55_296, "ic_resnet8": 49_152, "ad_autoencoder": 768}


def _zoo_tflite(name: str) -> bytes:
    from mcugraph import zoo
    from mcugraph.optimize import optimize
    from mcugraph.tflite import schema as tfl
    from mcugraph.tflite.offline_plan import remove_offline_plan

    proto = zoo.onnx_model(name)
    result = optimize(proto, calib="random:0,1,16", warn=lambda message: None)
    model = tfl.read(result.tflite)
    remove_offline_plan(model)
    return tfl.pack(model)


def _row(name: str, data: bytes, time_limit: float, inplace: bool) -> dict:
    from mcugraph.tflite.schedule import schedule_tflite

    _, report = schedule_tflite(data, inplace=inplace, time_limit_s=time_limit, source=name)
    target = TARGETS.get(name)
    return {
        "model": name,
        "head_before_bytes": report.head_before_bytes,
        "head_after_bytes": report.head_after_bytes,
        "predicted_bytes": report.predicted_bytes,
        "lower_bound_bytes": report.lower_bound_bytes,
        "seconds": report.seconds,
        "exact": report.head_after_bytes == report.predicted_bytes,
        "target": "-" if target is None else ("met" if report.head_after_bytes <= target else f"MISSED {target:,}"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=10.0, help="scheduler seconds per model")
    parser.add_argument("--no-zoo", action="store_true", help="only the MLPerf Tiny references")
    parser.add_argument("--no-inplace", dest="inplace", action="store_false")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also keep the rows as JSON (for docs/results)")
    args = parser.parse_args(argv)

    rows, notes = measure(args)
    print(format_report(rows, notes, args.inplace))
    if args.json:
        payload = {"args": {k: str(v) for k, v in vars(args).items() if k != "json"}, "commit": measured_commit(),
                   "rows": rows, "notes": notes}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0 if all(r["exact"] and not str(r["target"]).startswith("MISSED") for r in rows) else 1


def measure(args: argparse.Namespace) -> tuple[list[dict], list[str]]:
    """(one row per model, notes on what was skipped or how long an export took)."""
    from mcugraph.errors import MCUGraphError

    rows, notes = [], []
    if SHARED.is_dir():
        for name in MLPERF:
            rows.append(_row(name, (SHARED / f"{name}.int8.tflite").read_bytes(), args.time_limit, args.inplace))
    else:
        notes.append(f"{SHARED} not found: MLPerf Tiny rows skipped")
    if not args.no_zoo:
        from mcugraph import zoo

        for name in zoo.MODELS:
            start = time.perf_counter()
            try:
                data = _zoo_tflite(name)
            except Exception as e:  # the exporter is another part of the project: report, do not stop the table
                kind = "" if isinstance(e, MCUGraphError) else f"{type(e).__name__}: "
                notes.append(f"zoo {name}: not exported ({kind}{(str(e).splitlines() or [''])[0][:150]})")
                continue
            notes.append(f"zoo {name}: exported in {time.perf_counter() - start:.1f} s")
            rows.append(_row(f"zoo:{name}", data, args.time_limit, args.inplace))
    return rows, notes


def format_report(rows: list[dict], notes: list[str], inplace: bool) -> str:
    """The table and notes this benchmark prints."""
    from mcugraph.memory.report import SCHEDULE_COLUMNS, format_schedule_table

    columns = (*SCHEDULE_COLUMNS, ("head == predicted", "exact"), ("target", "target"))
    lines = [format_schedule_table(rows, columns), "",
             f"in-place {'on' if inplace else 'off'}; every scheduled model verified bit-exact in TFLM"]
    return "\n".join(lines + [f"note: {note}" for note in notes])


def measured_commit() -> str:
    """The commit measured (``-dirty`` when the working tree had changes)."""
    done = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=Path(__file__).parent,
                          capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


if __name__ == "__main__":
    sys.exit(main())

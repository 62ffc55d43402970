"""Join a chip's measurements (``mcugraph bench --json``) onto an analysis report of the same .tflite.

Analyses read measurements only as data: this module knows the bench JSON's fields, not how they were made.
Rows match by the kernel graph's names (``"<operator index>:<BUILTIN>"``), and the JSON must be of the same file
(its SHA-256), so figures of another model are refused instead of joined.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from mcugraph.analysis.report import Report
from mcugraph.arguments import read_json_report
from mcugraph.errors import DataError


def read_bench(path: str) -> dict[str, Any]:
    bench = read_json_report(path, "--bench", "mcugraph bench --json")
    if not isinstance(bench, dict) or not {"model_sha256", "operators", "instructions"} <= set(bench):
        raise DataError(f"--bench {path}: not a mcugraph bench report (no model_sha256/operators/instructions)")
    return bench


def with_measurements(report: Report, bench: dict[str, Any], data: bytes, source: str) -> Report:
    """``report`` with each operator's measured instructions and the chip's totals in ``measured``."""
    if hashlib.sha256(data).hexdigest() != bench["model_sha256"]:
        raise DataError(f"{source}: the bench report is of another file (SHA-256 differs); run mcugraph bench on "
                        "this model")
    per_op = {f"{o['index']}:{o['op']}": o["instructions"] for o in bench["operators"]}
    rows = tuple(dataclasses.replace(row, instructions=per_op.get(row.name)) for row in report.ops)
    measured = {key: bench[key] for key in ("target", "kernels", "instructions", "arena_bytes", "flash_bytes",
                                            "flash", "outputs_match_host")}
    return dataclasses.replace(report, ops=rows, measured=measured)

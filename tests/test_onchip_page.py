"""docs/results' on-chip page is what benchmarks/onchip.py renders from the kept JSON runs, byte for byte."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import onchip  # noqa: E402

RUNS = [ROOT / "benchmarks" / "results" / name for name in ("onchip_reference.json", "onchip_cmsis-nn.json")]
PAGE = ROOT / "docs" / "results" / "2026-12-08-onchip.md"


def test_page_equals_the_kept_runs():
    rows, meta = onchip.from_json([str(p) for p in RUNS])
    assert PAGE.read_text() == onchip.markdown(rows, meta), "stale: python benchmarks/onchip.py --from-json ..."


def test_every_kept_row_ran_byte_identical_to_the_host():
    """The kept runs have no failed row, and reference kernels reproduced the host interpreter on every model."""
    rows, _ = onchip.from_json([str(p) for p in RUNS])
    assert rows and not [r for r in rows if "error" in r]
    assert all(r["outputs_match_host"] for r in rows if r["kernels"] == "reference")


def test_patch_overhead_rows_pair_each_patched_model_with_its_base():
    rows, _ = onchip.from_json([str(p) for p in RUNS])
    lines = onchip._patch_overhead(rows)
    patched = [r for r in rows if r["model"].endswith(", patched")]
    assert len(lines) == len(patched) and all("->" in line for line in lines)

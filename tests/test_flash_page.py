"""docs/results/flash.md is benchmarks/flash.py's page of the kept JSON (benchmarks/results/flash.json), not typed."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _benchmark():
    spec = importlib.util.spec_from_file_location("flash_benchmark", ROOT / "benchmarks" / "flash.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_page_is_rendered_from_the_kept_json():
    """Re-rendering the kept JSON gives the committed page byte for byte."""
    data = json.loads((ROOT / "benchmarks" / "results" / "flash.json").read_text())
    assert _benchmark().results_page(data) == (ROOT / "docs" / "results" / "flash.md").read_text()


def test_page_says_when_the_prediction_is_not_the_file():
    """A row whose predicted flash is not its file's length reads "no (PREDICTED)", not "yes"."""
    part = {"file_bytes": 100, "weight_bytes": 60, "overhead_bytes": 40, "quantization_bytes": 10, "name_bytes": 0,
            "metadata_bytes": 4, "other_bytes": 26}
    rows = [{"model": "m", "ours": part, "keep_names": part, "converter": None, "predicted_bytes": 96}]
    table = _benchmark().format_table(rows)
    assert "| no (96) |" in table and "yes" not in table

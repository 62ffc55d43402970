"""The CIFAR pruning benchmark's plumbing on a few images: a baseline per seed, every (budget, seed) unit with
patch + prune, the summary rows and the timing columns. A smoke run, not a result (its accuracies on 64 images mean
nothing)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import pruning_cifar  # noqa: E402

pytestmark = pytest.mark.skipif(not pruning_cifar.DATA.is_file(), reason="needs ../shared/data/cifar10-subset")


def table_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("|")]


def test_quick_row_two_seeds(tmp_path, capsys):
    out = tmp_path / "cifar.json"
    argv = ["--quick", "--seeds", "2", "--limit", "64", "--epochs", "1", "--baseline-epochs", "1", "--no-scratch",
            "--augment", "--patch", "--jobs", "2", "--json", str(out)]
    assert pruning_cifar.main(argv) == 0
    payload = json.loads(out.read_text())
    assert sorted(payload["baselines"]["resnet8"]) == ["0", "1"]  # each seed prunes a baseline of its own
    rows = payload["rows"]
    assert [(r["model"], r["sram_fraction"], r["flash_fraction"]) for r in rows] == [("resnet8", 4, 8)]
    for row in rows:
        assert len(row["baseline_accs"]) == 2
        for method in ("mcugraph", "l1", "uniform", "patch"):
            assert len(row[method]["accs"]) == 2
            assert row[method]["ram"] <= row["budgets"]["ram"]  # TFLM's own arena head, measured
            assert row[method]["flash"] <= row["budgets"]["flash"]
        assert row["patch"]["mac_overhead"] <= 0.3  # opt's default cap on the patches' recomputation
        assert row["plain_seconds"] > 0 and row["plain_cpu_seconds"] > 0 and row["prune_cpu_seconds"] > 0
    table = capsys.readouterr().out
    assert "| resnet8 (" in table and "| 1/4 SRAM + 1/8 flash |" in table
    # The saved run re-renders to the same table, and the paired gains are the per-seed differences' mean and SE.
    assert pruning_cifar.main(["--table", str(out)]) == 0
    assert table_rows(capsys.readouterr().out) == table_rows(table)
    gains = 100 * (np.array(rows[0]["mcugraph"]["accs"]) - np.array(rows[0]["uniform"]["accs"]))
    mean, se = pruning_cifar.paired_gain(rows[0], "mcugraph", "uniform")
    assert mean == pytest.approx(gains.mean()) and se == pytest.approx(abs(gains[0] - gains[1]) / 2)

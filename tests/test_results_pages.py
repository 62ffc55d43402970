"""docs/results/: every generated page equals what its kept JSON renders to, so no table drifts from its numbers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import results_pages  # noqa: E402


@pytest.fixture(scope="module")
def rendered():
    return results_pages.pages()


def test_every_kept_json_has_a_page():
    """Each kept JSON of a rendered benchmark (pruning_cifar_*, memory_*, export_*, patch_*) has its page: a new run needs its
    entry in results_pages (other benchmarks' JSON is not rendered here)."""
    runs = results_pages.RUNS + results_pages.MEMORY_RUNS + results_pages.EXPORT_RUNS + results_pages.PATCH_RUNS
    listed = [name for name, _, _ in runs]
    kept = [p.name for p in results_pages.RESULTS.glob("*.json")
            if p.name.startswith(("pruning_cifar_", "memory_", "export_", "patch_"))]
    assert sorted(listed) == sorted(kept)


def test_committed_pages_equal_their_json(rendered):
    """The committed pages are byte for byte what `python benchmarks/results_pages.py` writes."""
    for name, text in rendered.items():
        committed = results_pages.PAGES / name
        assert committed.is_file(), f"{name} missing: run python benchmarks/results_pages.py"
        assert committed.read_text() == text, f"{name} is stale: run python benchmarks/results_pages.py"


def test_check_mode_notices_an_edited_page(rendered, tmp_path, monkeypatch):
    """--check fails when a page was edited by hand (a changed number)."""
    monkeypatch.setattr(results_pages, "PAGES", tmp_path)
    for name, text in rendered.items():
        (tmp_path / name).write_text(text)
    assert results_pages.main(["--check"]) == 0
    name, text = next(iter(rendered.items()))
    (tmp_path / name).write_text(text.replace("%", " %", 1))
    assert results_pages.main(["--check"]) == 1


def test_command_from_recorded_arguments():
    """The page's command is rebuilt from the run's recorded arguments, defaults left out."""
    args = {"augment": "True", "scratch": "False", "patch": "False", "only": "resnet8", "jobs": "2",
            "first_seed": "3", "seeds": "3", "epochs": "None", "threads": "1"}
    assert results_pages.command(args, "x.json") == (
        "python benchmarks/pruning_cifar.py --augment --no-scratch --only resnet8 --jobs 2 --first-seed 3 "
        "--json benchmarks/results/x.json")

""".ci/newcomer: it finds the README's set-up commands and demo figures, reads the demo's summary, and notices drift."""

from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path

import pytest

from mcugraph.cli.demo import format_summary

ROOT = Path(__file__).resolve().parents[1]


def _load():
    loader = importlib.machinery.SourceFileLoader("newcomer", str(ROOT / ".ci" / "newcomer"))
    spec = importlib.util.spec_from_loader("newcomer", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


newcomer = _load()
README = (ROOT / "README.md").read_text()


def test_extracts_install_and_demo_from_the_readme():
    """The README's set-up block is found: a venv, the pinned editable install, then the demo."""
    commands = newcomer.setup_commands(README)
    assert "python3 -m venv .venv" in commands
    assert "pip install -c constraints.txt -e '.[dev]'" in commands
    assert commands.rstrip().endswith("mcugraph demo")


def test_ci_runs_the_newcomer_after_the_tests():
    """.ci/run ends with the newcomer step, after its pytest line."""
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.strip()]
    tests = max(i for i, line in enumerate(lines) if line.startswith("python -m pytest"))
    assert any(".ci/newcomer" in line for line in lines[tests + 1:])


def test_ci_test_command_is_the_readmes():
    """The README's test command is the one .ci/run runs (after activating the venv)."""
    block = README.split("Tests (", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0].strip()
    assert block == ". .venv/bin/activate && python -m pytest -n 2 -q"
    assert "python -m pytest -n 2 -q" in (ROOT / ".ci" / "run").read_text().splitlines()


def test_readme_demo_figures_parse():
    """The README's results table holds the demo row the newcomer compares against."""
    figures = newcomer.readme_demo_figures(README)
    assert figures["unpruned"][1] > figures["pruned"][1] > 0
    assert figures["unpruned"][2] > figures["pruned"][2] > 0


@pytest.mark.parametrize(("readme", "message"), [
    ("# x\n\n```sh\necho hi\n```\n", "no heading"),
    ("## Set up and run\n\ntext\n\n## Next\n\n```sh\necho hi\n```\n", "no ```sh block"),
    ("## Set up and run\n\n```sh\necho hi\n", "never closed"),
    ("## Set up and run\n\n```sh\n\n```\n", "empty"),
])
def test_extraction_refuses_a_broken_readme(readme, message):
    """A README whose set-up section lost its block is an error naming what to fix, not an empty run."""
    with pytest.raises(newcomer.ReadmeError, match=message):
        newcomer.setup_commands(readme)


def test_extraction_takes_the_first_block_of_the_section():
    """Text and later blocks do not matter: the first sh fence after the heading is the set-up."""
    readme = "## Set up and run (fresh machine)\n\nsome text\n\n```sh\na && b\n```\n\n```sh\nc\n```\n"
    assert newcomer.setup_commands(readme) == "a && b\n"


def test_reads_the_demos_own_summary():
    """The demo's summary table (cli/demo.py's formatter) parses into the README's form."""
    base = {"accuracy": 0.9944, "arena": 6144, "weights": 56904, "flash": 70000}
    small = {"accuracy": 0.9889, "arena": 768, "weights": 3336, "flash": 9000}
    printed = "== summary\n" + format_summary(base, small, 0.99) + "\n"
    figures = newcomer.demo_figures(printed)
    assert figures == {"unpruned": (99.4, 6144, 56904), "pruned": (98.9, 768, 3336)}


def test_disagreements_name_the_drift():
    """Equal figures agree; a changed arena or an accuracy beyond the tolerance is reported."""
    readme = {"unpruned": (99.4, 6144, 56904), "pruned": (98.9, 768, 3336)}
    assert newcomer.disagreements(readme, readme) == []
    assert newcomer.disagreements(readme, {**readme, "pruned": (98.6, 768, 3336)}) == []
    drift = newcomer.disagreements(readme, {"unpruned": (99.4, 6144, 56904), "pruned": (97.0, 1024, 3336)})
    assert drift == ["pruned accuracy: README 98.9 %, demo 97.0 %", "pruned arena: README 768 B, demo 1,024 B"]


def test_run_streamed_returns_the_exit_code_and_output(tmp_path, capsys):
    """The set-up block's output is echoed and kept; a failing command's exit code comes back."""
    code, output = newcomer.run_streamed(["bash", "-euo", "pipefail", "-c", "echo one; echo two >&2; exit 3"], tmp_path)
    assert (code, output) == (3, "one\ntwo\n")
    assert capsys.readouterr().out == "one\ntwo\n"


def test_run_streamed_kills_the_whole_group_at_the_timeout(tmp_path, monkeypatch):
    """Past the timeout the shell and what it started are killed: exit 124, no later output."""
    monkeypatch.setattr(newcomer, "TIMEOUT_S", 0.5)
    code, output = newcomer.run_streamed(["bash", "-c", "sleep 30; echo never"], tmp_path)
    assert code == 124 and "never" not in output


def test_outside_a_git_checkout_is_a_clear_error(tmp_path, monkeypatch, capsys):
    """Run where there is nothing to clone, the newcomer says so in one line (exit 2) instead of a traceback."""
    (tmp_path / "README.md").write_text(README)
    monkeypatch.setattr(newcomer, "ROOT", tmp_path)
    assert newcomer.main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"newcomer: cannot clone {tmp_path}") and len(err.strip().splitlines()) == 1

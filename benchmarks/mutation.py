"""Mutation testing: how many one-line bugs in the core modules the test suite catches, per module.

Run: ``nice python benchmarks/mutation.py [MODULE ...] [--list] [--sample N] [--jobs J]`` (modules: see ``--list``;
default: all). For every mutant of a module's source (``benchmarks/mutants.py``: flipped comparisons, +1 on
constants, min <-> max, and <-> or, + <-> -, a dropped statement, ``return None``), the module's own fast test files
run against the mutated module with ``pytest -x``; a failing run (or one past the time limit) kills the mutant.
Prints one row per module (mutants, killed, survived, equivalent, kill rate) and every survivor with its line.

Why not mutmut: mutmut 3 copies the project into ``mutants/`` and runs through its own trampolines and stats
collection, which needs the editable ``mcugraph.passes``/``mcugraph.cli`` package mapping re-created there; on a
shared 2-core machine the run would also re-import torch/onnxruntime for every mutant. Here one parent process
imports the third-party libraries once and forks a child per mutant; the child imports the mutated module from a
temporary file (a meta-path finder in front of the normal import system, so the working tree is never modified, even
if the run is killed) and runs pytest in-process. That makes a mutant cost its tests' run time, about 1-10 s.

Equivalent mutants (the program behaves the same) are listed in ``benchmarks/mutation_equivalent.txt``, one
``path | original line | change`` per line followed by ``# reason``; they count neither as killed nor as survivors.
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.util
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mutants import Mutant, mutants, mutate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENT = Path(__file__).resolve().parent / "mutation_equivalent.txt"

# Entries are pytest arguments: files, node ids or options (the inception test costs a torch export per mutant).
MEMORY_TESTS = ["tests/test_memory_peak.py", "tests/test_inplace_concat_tflm.py", "tests/test_inplace_pad_tflm.py",
                "tests/test_memory_planner.py", "tests/test_memory_schedule.py",
                "tests/test_memory_properties.py",
                "--deselect", "tests/test_memory_schedule.py::test_inception_schedule_lowers_the_peak"]
# Each pass is checked by its own tests/test_passes_<name>.py only: test_passes_canonicalize.py exports the zoo
# models with torch, which would cost more than every other test of a pass together.
REMOVE_CHANNELS_TESTS = ["tests/test_remove_channels_keep.py"] + [f"tests/test_remove_channels.py::test_{name}" for name in (
    "bad_keep_is_refused", "non_prunable_group_is_refused", "keep_file_from_a_pipeline_string",
    "keeping_everything_is_not_a_change", "shapes_shrink_to_the_kept_channels",
    "flatten_gemm_model_prunes_blocks_and_reshape_target", "mixed_ops_model_prunes_like_the_sliced_module")]
# Module -> (source file, the fast test files that exercise it, fastest first).
MODULES: dict[str, tuple[str, list[str]]] = {
    "peak": ("mcugraph/memory/peak.py", MEMORY_TESTS),
    "liveness": ("mcugraph/memory/liveness.py", MEMORY_TESTS),
    "scratch": ("mcugraph/memory/scratch.py", ["tests/test_memory_scratch.py"]),
    "inplace": ("mcugraph/memory/inplace.py", MEMORY_TESTS),
    "planner": ("mcugraph/memory/planner.py", ["tests/test_memory_planner_exact.py", "tests/test_memory_planner.py",
                                                "tests/test_memory_properties.py"]),
    "quant_params": ("mcugraph/export/quant_params.py",
                     ["tests/test_export_lower_quant_params.py", "tests/test_calibrate.py"]),
    "verify": ("mcugraph/export/verify.py", ["tests/test_export_verify.py"]),
    "remove_channels": ("passes/remove_channels.py", REMOVE_CHANNELS_TESTS),
    "channel_keep": ("mcugraph/prune/channel_keep.py", REMOVE_CHANNELS_TESTS),
    "_rewrite": ("passes/_rewrite.py", ["tests/test_passes_rewrite_helpers.py", "tests/test_passes_fold_bn.py", "tests/test_passes_fold_constants.py",
                                        "tests/test_passes_remove_identity.py", "tests/test_passes_normalize_gemm.py"]),
}
for _path in sorted((ROOT / "passes").glob("*.py")):
    _name = _path.stem
    if _name in ("__init__", "_rewrite", "remove_channels"):
        continue
    _own = ROOT / f"tests/test_passes_{_name}.py"
    # A pass without its own test file: the pass test files that name it (kebab-case or module name).
    _tests = [f"tests/{_own.name}"] if _own.exists() else [
        f"tests/{t.name}" for t in sorted((ROOT / "tests").glob("test_passes_*.py"))
        if t.name != "test_passes_canonicalize.py"
        and (_name in (text := t.read_text()) or _name.replace("_", "-") in text)]
    if _tests:  # (pytest without files would run the whole suite for every mutant)
        MODULES[_name] = (f"passes/{_name}.py", _tests)
HEAVY_IMPORTS = ("numpy", "onnx", "onnx_ir", "onnxruntime", "torch", "hypothesis", "pytest", "flatbuffers")


def import_name(path: str) -> str:
    parts = Path(path).with_suffix("").parts
    return ".".join(("mcugraph", "passes", *parts[1:]) if parts[0] == "passes" else parts)


class _MutantFinder(importlib.abc.MetaPathFinder):
    """Serves one module from a mutated copy; everything else imports as usual."""

    def __init__(self, name: str, path: str):
        self.name, self.path = name, path

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        return importlib.util.spec_from_file_location(fullname, self.path)


def _child(module: str, mutated: str | None, tests: list[str], hypothesis_dir: str) -> None:
    """In the forked child: install the mutant, run pytest, exit with its status."""
    os.setpgid(0, 0)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    if mutated is not None:
        sys.meta_path.insert(0, _MutantFinder(module, mutated))
    from hypothesis import configuration, settings

    configuration.set_hypothesis_home_dir(hypothesis_dir)  # failing examples replay for the next mutant
    settings.register_profile("mutation", max_examples=10, deadline=None)
    import pytest

    code = pytest.main(["-x", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "--hypothesis-profile=mutation",
                        "-W", "ignore", *tests])
    os._exit(int(code))


def run_tests(module: str, mutated: str | None, tests: list[str], timeout: float, hypothesis_dir: str):
    """(exit status or None on timeout, seconds) of the tests against the mutant (None: the original module)."""
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            _child(module, mutated, tests, hypothesis_dir)
        finally:
            os._exit(99)
    deadline = start + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), time.perf_counter() - start
        if time.perf_counter() > deadline:
            os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None, time.perf_counter() - start
        time.sleep(0.05)


def load_equivalent() -> dict[str, str]:
    known = {}
    if EQUIVALENT.exists():
        for line in EQUIVALENT.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                key, _, reason = line.partition("  # ")
                known[key.strip()] = reason.strip()
    return known


def run_module(name: str, sample: int | None, seed: int, equivalent: dict[str, str], log,
               only: set[str] | None = None) -> dict:
    path, tests = MODULES[name]
    source = (ROOT / path).read_text()
    module = import_name(path)
    todo = mutants(source)
    if only is not None:
        todo = [m for m in todo if m.key(path) in only]
    if sample is not None and sample < len(todo):
        todo = sorted(random.Random(seed).sample(todo, sample), key=lambda m: m.index)
    work = Path(tempfile.mkdtemp(prefix=f"mutation-{name}-"))
    hypothesis_dir = str(work / "hypothesis")
    status, baseline = run_tests(module, None, tests, 1800.0, hypothesis_dir)
    if status != 0:
        raise SystemExit(f"{name}: the tests fail without any mutation (exit {status}); fix them first")
    timeout = 3 * baseline + 10
    row = {"module": name, "path": path, "mutants": len(todo), "killed": 0, "timeouts": 0, "equivalent": 0,
           "survivors": [], "baseline_s": baseline, "start": time.perf_counter()}
    for i, mutant in enumerate(todo):
        if mutant.key(path) in equivalent:
            row["equivalent"] += 1
            continue
        mutated = work / f"m{mutant.index}" / Path(path).name
        mutated.parent.mkdir()
        mutated.write_text(mutate(source, mutant))
        status, seconds = run_tests(module, str(mutated), tests, timeout, hypothesis_dir)
        if status is None:
            row["timeouts"] += 1
            row["killed"] += 1
        elif status != 0:
            row["killed"] += 1
        else:
            row["survivors"].append(mutant)
            log(f"\nsurvivor {path}:{mutant.line} [{mutant.operator}] {mutant.description}    {mutant.source_line}\n")
        log(f"\r{name}: {i + 1}/{len(todo)} mutants, {len(row['survivors'])} survived ({seconds:.1f} s last)   ")
    log("\n")
    shutil.rmtree(work, ignore_errors=True)
    row["seconds"] = time.perf_counter() - row.pop("start")
    return row


def kill_rate(row: dict) -> float:
    counted = row["mutants"] - row["equivalent"]
    return 100.0 * row["killed"] / counted if counted else 100.0


def print_table(rows: list[dict]) -> None:
    print("| module | file | mutants | killed | survived | equivalent | timeouts | kill rate | seconds |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['module']} | {r['path']} | {r['mutants']} | {r['killed']} | {len(r['survivors'])} | "
              f"{r['equivalent']} | {r['timeouts']} | {kill_rate(r):.1f} % | {r['seconds']:.0f} |")
    for r in rows:
        for m in r["survivors"]:
            print(f"survivor {r['path']}:{m.line} [{m.operator}] {m.description}    {m.source_line}")
            print(f"    allow-list key: {m.key(r['path'])}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="module names (default: all); see --list")
    parser.add_argument("--list", action="store_true", help="list modules, their test files and mutant counts")
    parser.add_argument("--sample", type=int, help="run a seeded random sample of N mutants per module")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rerun", metavar="OUTPUT", help="run only the survivors listed in an earlier run's output")
    parser.add_argument("--min-rate", type=float, default=90.0, help="exit 1 if a module's kill rate is below")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    if args.list:
        for name, (path, tests) in MODULES.items():
            print(f"{name:24} {path:40} {len(mutants((ROOT / path).read_text())):4} mutants  {' '.join(tests)}")
        return 0
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        parser.error(f"unknown module(s) {unknown}; choose from {', '.join(MODULES)}")
    for lib in HEAVY_IMPORTS:  # imported once here, inherited by every forked child
        __import__(lib)
    equivalent = load_equivalent()
    only = None
    if args.rerun:
        prefix = "    allow-list key: "
        only = {line[len(prefix):] for line in Path(args.rerun).read_text().splitlines() if line.startswith(prefix)}
    rows = [run_module(m, args.sample, args.seed, equivalent, sys.stderr.write, only) for m in args.modules or MODULES]
    print_table(rows)
    return 0 if all(kill_rate(r) >= args.min_rate for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["Mutant", "main"]

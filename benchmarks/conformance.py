"""The ONNX backend node tests of every exported op, through ``mcugraph.optimize``: counts and changed outcomes.

    python benchmarks/conformance.py                  # all cases, 2 worker processes; prints the counts table
    python benchmarks/conformance.py --ops Conv,Relu  # some ops only
    python benchmarks/conformance.py --write          # rewrite mcugraph/ops/conformance_expected.py from this run
                                                      # (and the table of docs/ops.md)

Each case runs as shipped and in the deployable form, in int8 and float32 (``mcugraph.ops.conformance``). The
table counts matches, refusals (by reason key) and failures (wrong outputs, tracebacks, internal errors,
unexplained refusals); then every case whose outcome differs from ``conformance_expected.py`` is listed. Exit
status 1 when any outcome changed or any failure is left (--write only accepts a run without failures).
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from mcugraph.ops import conformance

EXPECTED_PATH = Path(conformance.__file__).with_name("conformance_expected.py")
HEADER = '''"""Expected outcome of every conformance case (``mcugraph.ops.conformance``), per form and dtype.

``"match"``: TFLM's output matches the test's expected output; ``"int8-noise"`` / ``"approximation"``: exported,
close to it but not within it (``conformance.Outcome``); any other value is the key of the refusal in
``conformance.REASONS``. Written by ``python benchmarks/conformance.py --write`` from a run without failures;
review its diff like code: a case that stops matching is a regression.
"""

# name: (shipped int8, shipped float32, deployable int8, deployable float32)
EXPECTED = {
'''


def _run_one(name: str) -> tuple[str, str, dict[str, str]]:
    case = next(c for c in _CASES if c.name == name)
    return name, case.op, conformance.outcomes(case)


_CASES: list = []


def _init() -> None:
    _CASES[:] = conformance.cases()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", default=None, help="comma-separated op types (default: every conformance op)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--write", action="store_true", help="rewrite conformance_expected.py from this run")
    args = parser.parse_args(argv)
    ops = args.ops.split(",") if args.ops else None
    names = [c.name for c in conformance.cases(ops)]
    start = time.perf_counter()
    with ProcessPoolExecutor(args.workers, initializer=_init) as pool:
        results = sorted(pool.map(_run_one, names, chunksize=4))
    seconds = time.perf_counter() - start
    _print_counts(results, seconds)
    failures = [(n, k, v) for n, _, out in results for k, v in out.items() if ":" in v]
    for name, key, label in failures:
        print(f"FAIL {name} [{key}] {label}")
    expected = _expected()
    changed = [(n, k, expected[n][i] if n in expected else None, out[k]) for n, _, out in results
               for i, k in enumerate(conformance.COLUMNS) if n not in expected or expected[n][i] != out[k]]
    for name, key, was, now in changed:
        print(f"CHANGED {name} [{key}] {was} -> {now}")
    print(f"{len(changed)} changed outcome(s), {len(failures)} failure(s)")
    if args.write:
        if failures:
            print("not written: fix or explain the failures first", file=sys.stderr)
            return 1
        _write(results, expected, full=ops is None)
        return 0
    return 1 if changed or failures else 0


def _print_counts(results, seconds: float) -> None:
    total = len(results)
    print(f"{total} node tests of {len({op for _, op, _ in results})} ops, {seconds:.0f} s")
    print(f"| outcome | {' | '.join(conformance.COLUMNS)} |")
    print("|---|" + "---:|" * len(conformance.COLUMNS))
    kinds = collections.defaultdict(collections.Counter)
    for _, _, out in results:
        for column, label in out.items():
            kinds[column][_kind(label)] += 1
    for kind in ("match", *_NOT_REFUSALS, "refused", "failure"):
        print(f"| {kind} | " + " | ".join(f"{kinds[c][kind]} of {total}" for c in conformance.COLUMNS) + " |")
    reasons = collections.defaultdict(collections.Counter)
    for _, _, out in results:
        for column, label in out.items():
            if _kind(label) == "refused":
                reasons[label][column] += 1
    for reason in sorted(reasons, key=lambda r: -sum(reasons[r].values())):
        print(f"| refused: {reason} | " + " | ".join(str(reasons[reason][c]) for c in conformance.COLUMNS) + " |")


_NOT_REFUSALS = ("int8-noise", "approximation")  # exported, close to the expected output but not within it


def _kind(label: str) -> str:
    if label == "match" or label in _NOT_REFUSALS:
        return label
    return "failure" if ":" in label else "refused"


def _expected() -> dict[str, tuple[str, ...]]:
    from mcugraph.ops import conformance_expected

    return dict(conformance_expected.EXPECTED)


def _write(results, expected: dict, full: bool) -> None:
    from mcugraph.ops import conformance_expected

    table = {} if full else {n: (conformance_expected.OP[n], *row) for n, row in expected.items()}
    for name, op, out in results:
        table[name] = (op, *(out[c] for c in conformance.COLUMNS))
    lines = [f"    {name!r}: ({', '.join(repr(v) for v in table[name][1:])}),\n" for name in sorted(table)]
    ops = [f"    {name!r}: {table[name][0]!r},\n" for name in sorted(table)]
    EXPECTED_PATH.write_text(HEADER + "".join(lines) + "}\n\n# name: the op of its node\nOP = {\n" + "".join(ops)
                             + "}\n")
    print(f"wrote {EXPECTED_PATH} ({len(table)} cases)")
    _write_docs_table()


DOCS = Path(__file__).resolve().parent.parent / "docs" / "ops.md"
START, END = "<!-- ops table: generated by `mcugraph ops --markdown`; do not edit by hand -->\n", "<!-- end of"


def _write_docs_table() -> None:
    """docs/ops.md's operator table, regenerated from the table just written (a fresh process reads it)."""
    import subprocess

    table = subprocess.run([sys.executable, "-m", "mcugraph", "ops", "--markdown"], check=True, capture_output=True,
                           text=True).stdout
    page = DOCS.read_text()
    start = page.index(START) + len(START)
    DOCS.write_text(page[:start] + table + page[page.index(END, start):])
    print(f"wrote the table of {DOCS}")


if __name__ == "__main__":
    sys.exit(main())

"""Coverage benchmark: the model families people deploy on MCUs, each exported by both torch exporters, through
``analyze``, ``opt`` and ``prune``.

Run: ``python benchmarks/coverage.py [--quick] [--only a,b] [--exporter dynamo|legacy] [--jobs N] [--no-prune]
[--json out.json] [--markdown status.md]``. The families are ``mcugraph.zoo_coverage.FAMILIES``; each one is
exported with torch's default (dynamo, opset 18+, external weights) and its legacy (``dynamo=False``) exporter and
run in its own subprocess with a timeout, so one crash or hang costs one row. Columns:

- ``analyze``: ``mcugraph.analyze`` after loading and canonicalisation.
- ``opt``: ``mcugraph.optimize`` to int8, calibrated on ``random:LO,HI`` in the family's input range, verified in
  TFLM and LiteRT against onnxruntime (its own arena check: TFLM's head must equal the prediction).
- ``head / predicted``: TFLM's measured arena head and mcugraph's prediction, bytes.
- ``SQNR``: TFLM output vs onnxruntime float output on the held-out random samples, dB.
- ``io f32``: ``opt`` again with float32 inputs/outputs around the int8 model (``--io float32``).
- ``prune``: CNN families only: ``mcugraph.prune`` to half the int8 arena (3/4 where even one channel per group
  cannot reach half), 1 epoch on 64 random samples (random labels, or noisy own outputs as targets for
  autoencoders); the budget and the pruned model's exact SRAM. ``pruned opt``: the pruned model through ``opt``,
  TFLM's arena head.
- ``first error``: the step and the first line of the first failure. ``refused`` is an ``MCUGraphError`` (a
  one-line refusal), ``CRASH`` any other exception (a bug), ``timeout``/``died`` the subprocess.

Wall times are those of a shared 2-core machine.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUICK = ("cnn2d", "kws_cnn1d", "mobilenetv3", "mlp_autoencoder", "lstm", "transformer", "two_inputs", "qdq_resnet")
CALIB_SAMPLES = 40  # 32 calibrate, 8 verify
PRUNE_SAMPLES = 64
STEPS = ("export", "analyze", "opt", "io_f32", "prune", "pruned_opt")


def run_case(name: str, exporter: str, prune: bool = True) -> dict:
    """One family through every step, in this process; failures become cells, never exceptions."""
    import logging

    logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # "torchvision is not installed" on every export
    from mcugraph import zoo_coverage

    family = zoo_coverage.FAMILIES[name]
    row: dict = {"family": name, "exporter": exporter, "error": None, "seconds": {}}
    with tempfile.TemporaryDirectory() as tmp:
        path = _step(row, "export", lambda: zoo_coverage.export(name, Path(tmp) / f"{name}.onnx", exporter))
        if path is None:
            return row
        _step(row, "analyze", lambda: _analyze(path))
        result = _step(row, "opt", lambda: _optimize(path, family, "int8"))
        if result is not None:
            report = result.report
            row["head"] = report["arena_head_bytes"]
            row["predicted"] = report["predicted_arena_bytes"]
            row["sqnr_db"] = (report.get("verification") or {}).get("sqnr_db")
            row["flash"] = report["flash_bytes"]
        _step(row, "io_f32", lambda: _optimize(path, family, "float32"))
        if not (prune and family.prunable):
            return row
        if result is None:
            row["prune"] = "-"
            return row
        pruned = _step(row, "prune", lambda: _prune(path, family, row))
        if pruned is not None:
            row["pruned_ram"] = pruned.report["after"].get("ram")
            pruned_result = _step(row, "pruned_opt", lambda: _optimize(pruned.model, family, "int8"))
            if pruned_result is not None:
                row["pruned_head"] = pruned_result.report["arena_head_bytes"]
    return row


def _step(row: dict, step: str, fn):
    from mcugraph.errors import MCUGraphError

    start = time.perf_counter()
    try:
        value = fn()
        row[step] = "ok"
        return value
    except MCUGraphError as e:
        row[step] = "refused"
        _first_error(row, step, e)
    except Exception as e:  # noqa: BLE001 - the benchmark reports crashes instead of stopping at one
        row[step] = "CRASH"
        _first_error(row, step, e)
    finally:
        row["seconds"][step] = round(time.perf_counter() - start, 2)
    return None


def _first_error(row: dict, step: str, error: Exception) -> None:
    lines = str(error).strip().splitlines() or [""]
    message = f"{step}: {type(error).__name__}: {lines[0]}"
    row.setdefault("errors", {})[step] = message
    if row["error"] is None:
        row["error"] = message


def _analyze(path: Path):
    import mcugraph

    model = mcugraph.run_pipeline(mcugraph.load(str(path)), mcugraph.CANONICALIZE).model
    return mcugraph.analyze(model)


def _calib(family) -> str:
    low, high = family.value_range
    return f"random:{low},{high},{CALIB_SAMPLES}"


def _optimize(model, family, io_dtype: str):
    import mcugraph

    calib = None if family.qdq else _calib(family)
    return mcugraph.optimize(
        model if not isinstance(model, Path) else str(model), calib=calib, io_dtype=io_dtype, progress=False,
        warn=lambda _: None,
    )


def _prune(path: Path, family, row: dict):
    """Prune to 1/2 of the int8 arena, or to 3/4 where even one channel per group cannot reach 1/2."""
    from mcugraph.errors import BudgetError

    try:
        row["prune_budget"] = "1/2"
        return _prune_to(path, family, row["head"] // 2)
    except BudgetError as e:
        if "even with one channel" not in str(e):
            raise
    row["prune_budget"] = "3/4"
    return _prune_to(path, family, row["head"] * 3 // 4)


def _prune_to(path: Path, family, ram: int):
    import numpy as np

    import mcugraph
    from mcugraph.runtime import run_onnx

    rng = np.random.default_rng(0)
    low, high = family.value_range
    xs = tuple(rng.uniform(low, high, size=(PRUNE_SAMPLES, *shape[1:])).astype(np.float32) for shape in family.inputs)
    x = xs[0] if len(xs) == 1 else xs  # several inputs: one array per graph input, in order
    if family.loss == "mse":
        model = mcugraph.load(str(path))
        y = np.concatenate([run_onnx(model, {model.graph.inputs[0].name: s[None]})[0] for s in x])
        y = y + rng.normal(0, 0.1, y.shape).astype(np.float32)
    else:
        classes = _classes(path)
        y = rng.integers(0, classes, PRUNE_SAMPLES)
    return mcugraph.prune(str(path), data=(x, y), ram=ram, epochs=1, loss=family.loss, progress=False)


def _classes(path: Path) -> int:
    import mcugraph

    return int(mcugraph.load(str(path)).graph.outputs[0].shape[-1])


# --- the table ---------------------------------------------------------------------------------------------------


def _run_isolated(name: str, exporter: str, prune: bool, timeout: float) -> dict:
    command = [sys.executable, __file__, "--case", f"{name}:{exporter}"] + ([] if prune else ["--no-prune"])
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"family": name, "exporter": exporter, "error": f"timeout after {timeout:.0f} s", "status": "timeout"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"family": name, "exporter": exporter, "error": f"died (exit {done.returncode}): {tail}", "status": "died"}
    row = json.loads(lines[-1])
    row["wall_s"] = round(time.perf_counter() - start, 1)
    return row


def _cell(row: dict, key: str) -> str:
    value = row.get(key)
    if value is None:
        return row.get("status", "-") if key == "export" else "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _head_cell(row: dict) -> str:
    head, predicted = row.get("head"), row.get("predicted")
    if head is None:
        return "-"
    mark = "" if head == predicted else " ≠"
    return f"{head:,} / {predicted:,}{mark}" if predicted is not None else f"{head:,} / -"


def _prune_cell(row: dict) -> str:
    if row.get("prune") != "ok":
        return _cell(row, "prune")
    return f"ok {row.get('prune_budget')}: {row.get('pruned_ram', 0):,}"


def _pruned_opt_cell(row: dict) -> str:
    if row.get("pruned_opt") != "ok":
        return _cell(row, "pruned_opt")
    return f"ok {row.get('pruned_head', 0):,}"


def markdown(rows: list[dict]) -> str:
    header = (
        "| family | exporter | export | analyze | opt | TFLM head / predicted B | SQNR dB | io f32 "
        "| prune (budget: B) | pruned opt head B | first error |"
    )
    lines = [header, "|---|---|---|---|---|---:|---:|---|---|---|---|"]
    for r in rows:
        error = (r.get("error") or "").replace("|", "\\|")
        if len(error) > 220:
            error = error[:217] + "..."
        cells = [
            r["family"], r["exporter"], _cell(r, "export"), _cell(r, "analyze"), _cell(r, "opt"), _head_cell(r),
            _cell(r, "sqnr_db"), _cell(r, "io_f32"), _prune_cell(r), _pruned_opt_cell(r), error,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    opt_ok = sum(r.get("opt") == "ok" for r in rows)
    crashes = sum(any(r.get(s) == "CRASH" for s in STEPS) or r.get("status") in ("died", "timeout") for r in rows)
    lines.append("")
    lines.append(f"{opt_ok}/{len(rows)} cases pass `opt`; {crashes} case(s) crash, die or time out.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    parser.add_argument("--only", help="comma-separated family names")
    parser.add_argument("--exporter", choices=("dynamo", "legacy"), help="one exporter only (default both)")
    parser.add_argument("--no-prune", action="store_true", help="skip the prune columns")
    parser.add_argument("--jobs", type=int, default=1, help="cases run at once (each in its own process)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per case")
    parser.add_argument("--json", help="write the rows as JSON here")
    parser.add_argument("--markdown", help="also write the table here")
    parser.add_argument("--case", help=argparse.SUPPRESS)  # NAME:EXPORTER, run in this process, print one JSON row
    args = parser.parse_args()

    if args.case:
        name, exporter = args.case.split(":")
        print(json.dumps(run_case(name, exporter, prune=not args.no_prune)))
        return

    from mcugraph.zoo_coverage import EXPORTERS, FAMILIES

    names = args.only.split(",") if args.only else list(QUICK if args.quick else FAMILIES)
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        parser.error(f"unknown families {unknown}; known: {', '.join(FAMILIES)}")
    exporters = (args.exporter,) if args.exporter else EXPORTERS
    cases = [(n, e) for n in names for e in exporters]
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
        futures = [pool.submit(_run_isolated, n, e, not args.no_prune, args.timeout) for n, e in cases]
        rows = []
        for (n, e), future in zip(cases, futures, strict=True):
            rows.append(future.result())
            print(f"{n} {e}: {rows[-1].get('error') or 'ok'}", file=sys.stderr, flush=True)
            if args.markdown:  # after every case, so a long run can be read while it goes on
                _write_markdown(Path(args.markdown), rows, len(cases))
    table = markdown(rows)
    print(table)
    print(f"({len(cases)} cases in {time.perf_counter() - start:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


def _write_markdown(path: Path, rows: list[dict], total: int) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    done = "" if len(rows) == total else f", {len(rows)} of {total} cases so far"
    path.write_text(f"# coverage status ({stamp}{done})\n\n{markdown(rows)}\n")


if __name__ == "__main__":
    main()

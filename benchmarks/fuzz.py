"""Fuzz campaign: thousands of mutated .onnx/.tflite files and bad arguments through the CLI; prints the counts table.

Run: ``python benchmarks/fuzz.py [--seed S] [--count N] [--commands analyze-onnx,opt-onnx,...] [--show K]``.

Mutants come from ``tests/fuzzing.py`` (the same mutator the CI test uses, there with a few hundred cases): the
digits CNN as ONNX and as mcugraph's own int8 .tflite, plus the MLPerf Tiny KWS .tflite when ../shared is present.
Cases run in a forked worker process calling ``mcugraph.cli.main.main`` in-process, so a native crash of
mcugraph's own process (segfault, abort) kills that worker and is counted, a case running past ``--timeout`` is
counted as a hang (and the worker replaced), and nothing one case does can take the campaign down. Columns:

- runs; tracebacks (an exception escaped ``main``); native crashes; hangs;
- ``exit 0, runtime rejects``: mcugraph exited 0 but onnxruntime (for .onnx: cannot create a session) or LiteRT
  (for .tflite: cannot load, allocate or invoke on zeros) refuses the same file;
- ``bad exit 2``: exit 2 but not exactly one ``error:`` line; ``outputs left``: a failed run left ``-o`` behind.
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
SHARED = ROOT.parent / "shared" / "models" / "mlperf-tiny"
COMMANDS = ("analyze-onnx", "opt-onnx", "analyze-tflite", "schedule-tflite", "bad-args")


def base_models() -> dict[str, list[bytes]]:
    from mcugraph import zoo
    from mcugraph.optimize import optimize

    onnx_bytes = zoo.onnx_model("digits_cnn").SerializeToString()
    tflite = [optimize(zoo.onnx_model("digits_cnn"), calib="random:0,1,8", warn=lambda m: None).tflite]
    if (SHARED / "kws_dscnn.int8.tflite").exists():
        tflite.append((SHARED / "kws_dscnn.int8.tflite").read_bytes())
    return {"onnx": [onnx_bytes], "tflite": tflite}


def bad_argument_cases(folder: Path, onnx_path: Path, npz: dict[str, Path]) -> list[tuple[str, list[str], Path]]:
    """The bad-data/bad-budget/odd-output set: (label, argv, output)."""
    out = folder / "bad.tflite"
    opt = ["opt", str(onnx_path), "--no-progress"]
    prune = ["prune", str(onnx_path), "-o", str(folder / "p.onnx"), "--epochs", "1", "--ram", "2KiB"]
    result = []
    for spec in ("random:nan,1", "random:0,inf", "random:0,1,nan", "random:0,1,1e9", "random:1,0", "random:",
                 "random:0,1,0", "random:-1e39,1", "nowhere.npz", str(npz["nan"]), str(npz["scalar"])):
        result.append((f"calib {spec[:20]}", [*opt, "-o", str(out), "--calib", spec], out))
    for target in ("", str(folder), str(onnx_path), str(onnx_path) + "/x.tflite", "/proc/no/x.tflite",
                   str(folder / "missing" / "x.tflite")):
        result.append((f"-o {target[-20:]!r}", [*opt, "-o", target, "--calib", "random:0,1,4"], Path(target or "-")))
    for flags in (["--lr", "nan"], ["--device", "tpu"], ["--distill", "nan"], ["--distill", "-1"],
                  ["--prune-share", "0"], ["--prune-share", "-1"], ["--epochs", "0"], ["--batch-size", "0"],
                  ["--ram", "-5KiB"], ["--ram", "nanKiB"], ["--ram", "12 parsecs"]):
        result.append((f"prune {' '.join(flags)}", [*prune, "--data", str(npz["good"]), *flags], folder / "p.onnx"))
    for flags in (["--finetune-epochs", "-1"], ["--retrain-lr", "nan"], ["--lr", "1e400"], ["--lr", "-1"],
                  ["--batch-size", "-3"], ["--epochs", "-1"], ["--macs", "0"], ["--macs", "1e400"], ["--flash", "abc"],
                  ["--ram", "0.1"], ["--loss", "hinge"], ["--seed", "x"], ["--device", "cuda:x"], ["--prune-share", "2"],
                  ["--distill", "inf"], ["--val", str(npz["nan"])], ["--val", "nowhere.npz"]):
        result.append((f"prune {' '.join(flags)}", [*prune, "--data", str(npz["good"]), *flags], folder / "p.onnx"))
    for name in ("nan", "inf", "strings", "scalar", "uint8", "empty"):
        result.append((f"prune --data {name}", [*prune, "--data", str(npz[name])], folder / "p.onnx"))
        result.append((f"calib {name}", [*opt, "-o", str(out), "--calib", str(npz[name])], out))
    for flags in (["--verify-min-sqnr", "nan"], ["--verify-min-sqnr", "inf"], ["--input-shape", "input=1x0x8x8"],
                  ["--input-shape", "input=1x1x8"], ["--input-shape", "nope=1x1x8x8"], ["--input-shape", "input=1x1x99999x99999"],
                  ["--input-shape", "input=axb"], ["--pipeline", ""], ["--pipeline", ",,,"], ["--pipeline", "fold-bn{x=1}"],
                  ["--pipeline", "no-such-pass"], ["--pipeline", "remove-channels{keep=nan}"], ["--calib-method", "magic"],
                  ["--io", "int4"], ["--input-layout", "hwcn"]):
        result.append((f"opt {' '.join(flags)[:30]}", [*opt, "-o", str(out), "--calib", "random:0,1,4", *flags], out))
    sched = ["schedule", str(folder / "digits.tflite")]
    for flags in (["--time-limit", "nan"], ["--time-limit", "-1"], ["--time-limit", "0"], ["-o", ""],
                  ["-o", str(folder)], ["-o", str(folder / "digits.tflite")], ["--plan-json", str(folder)]):
        extra = [] if "-o" in flags else ["-o", str(folder / "s.tflite")]
        result.append((f"schedule {' '.join(flags)[-30:]}", [*sched, *extra, *flags], folder / "s.tflite"))
    for flags in (["--order", "best"], ["--plot", str(folder)], ["--json", str(folder / "digits.onnx")],
                  ["--dtype", "int3"], ["--time-limit", "inf"], ["--plan-header", ""]):
        result.append((f"analyze {' '.join(flags)[-30:]}", ["analyze", str(onnx_path), *flags], None))
    return result


def _bad_npz(folder: Path) -> dict[str, Path]:
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.random((32, 1, 8, 8), dtype=np.float32)
    y = rng.integers(0, 10, 32)
    arrays = {
        "good": {"x": x, "y": y}, "nan": {"x": np.full_like(x, np.nan), "y": y},
        "inf": {"x": np.full_like(x, np.inf), "y": y}, "strings": {"x": x, "y": np.array(["a"] * 32)},
        "scalar": {"x": np.float32(1.0), "y": y}, "uint8": {"x": (x * 255).astype(np.uint8), "y": y},
        "empty": {"x": x[:0], "y": y[:0]},
    }
    paths = {}
    for name, content in arrays.items():
        paths[name] = folder / f"{name}.npz"
        np.savez(paths[name], **content)
    return paths


def _rejected_by_runtime(kind: str, data: bytes) -> bool:
    if kind == "onnx":
        import onnxruntime as ort

        try:
            ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        except Exception:  # noqa: BLE001
            return True
        return False
    from mcugraph.errors import MCUGraphError
    from mcugraph.tflite.tflm import litert_refusal

    try:
        return litert_refusal(data) is not None
    except MCUGraphError:  # LiteRT crashed or hung on it in the runtime child: a rejection
        return True


def _worker(connection, jobs) -> None:
    from fuzzing import run_case

    from mcugraph.cli.main import main

    for index, (command, kind, label, argv, output, model) in jobs:
        connection.send(("start", index))
        if output is not None and output.exists() and output.is_file() and command != "bad-args":
            output.unlink()
        outcome = run_case(main, label, argv, output)
        rejected = outcome.code == 0 and model is not None and _rejected_by_runtime(kind, model.read_bytes())
        if outcome.code != 0 and output is not None and output.is_file() and outcome.output_left:
            output.unlink()
        connection.send(("done", index, outcome, rejected))
    connection.send(("end",))


def campaign(jobs: list, timeout: float) -> dict[str, collections.Counter]:
    """Run ``jobs`` (index, (command, kind, label, argv, output, model)) in forked workers; counts per command."""
    context = multiprocessing.get_context("fork")
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    examples: dict[str, list[str]] = collections.defaultdict(list)
    pending = list(jobs)
    while pending:
        parent, child = context.Pipe()
        process = context.Process(target=_worker, args=(child, pending), daemon=True)
        process.start()
        child.close()
        current = None
        done = set()
        while True:
            if not parent.poll(timeout):
                counts[pending_command(pending, current)]["hangs"] += 1
                examples["hang"].append(label_of(pending, current))
                process.kill()
                done.add(current)
                break
            try:
                message = parent.recv()
            except EOFError:
                counts[pending_command(pending, current)]["native crashes"] += 1
                examples["native crash"].append(label_of(pending, current))
                done.add(current)
                break
            if message[0] == "start":
                current = message[1]
            elif message[0] == "done":
                _, index, outcome, rejected = message
                done.add(index)
                command = pending_command(pending, index)
                c = counts[command]
                c["runs"] += 1
                c[f"exit {outcome.code}"] += 1
                broken = outcome.broken
                if outcome.code is None:
                    c["tracebacks"] += 1
                elif broken and "output" in broken:
                    c["outputs left"] += 1
                elif broken:
                    c["bad exit 2"] += 1
                if rejected:
                    c["exit 0, runtime rejects"] += 1
                if broken or rejected:
                    examples[command].append(f"{outcome.label}: {broken or 'runtime rejects'} :: {' '.join(outcome.argv)[:120]} :: {outcome.stderr.strip()[:160]}")
            else:
                break
        process.join(5)
        if current is not None and current not in done:
            done.add(current)
        pending = [j for j in pending if j[0] not in done]
        if current is not None:
            pending = [j for j in pending if j[0] > current]
    return counts, examples


def pending_command(pending, index) -> str:
    return next((job[0] for i, job in pending if i == index), "?")


def label_of(pending, index) -> str:
    return next((f"{job[0]} {job[2]} {' '.join(job[3])}" for i, job in pending if i == index), "?")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=500, help="mutants per command (default 500)")
    parser.add_argument("--commands", default=",".join(COMMANDS))
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before a case counts as a hang")
    parser.add_argument("--show", type=int, default=5, help="example failures to print per command")
    args = parser.parse_args()
    os.environ.setdefault("MCUGRAPH_TFLM_TIMEOUT_S", "20")
    from fuzzing import cases, command_argv

    start = time.perf_counter()
    bases = base_models()
    folder = Path(tempfile.mkdtemp(prefix="mcugraph-fuzz-"))
    jobs, index = [], 0
    for command in args.commands.split(","):
        if command == "bad-args":
            onnx_path = folder / "digits.onnx"
            onnx_path.write_bytes(bases["onnx"][0])
            (folder / "digits.tflite").write_bytes(bases["tflite"][0])
            for label, argv, output in bad_argument_cases(folder, onnx_path, _bad_npz(folder)):
                jobs.append((index, (command, "args", label, argv, output, None)))
                index += 1
            continue
        kind = command.rsplit("-", 1)[1]
        for b, base in enumerate(bases[kind]):
            share = args.count // len(bases[kind]) + (b < args.count % len(bases[kind]))
            for i, (label, data) in enumerate(cases(kind, base, f"{args.seed}:{command}:{b}", share)):
                model = folder / f"{command}-{b}-{i}.{kind}"
                model.write_bytes(data)
                output = folder / f"{command}-{b}-{i}.out.tflite"
                jobs.append((index, (command, kind, label, command_argv(command, model, output), output, model)))
                index += 1
    counts, examples = campaign(jobs, args.timeout)
    columns = ("runs", "tracebacks", "native crashes", "hangs", "exit 0, runtime rejects", "bad exit 2",
               "outputs left", "exit 0", "exit 2")
    print(f"seed {args.seed}, {args.count} mutants per command, {time.perf_counter() - start:.0f} s\n")
    print("| command | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for command in args.commands.split(","):
        c = counts.get(command, collections.Counter())
        print(f"| {command} | " + " | ".join(f"{c[k]:,}" for k in columns) + " |")
    for name, lines in examples.items():
        for line in lines[: args.show]:
            print(f"  {name}: {line}")


if __name__ == "__main__":
    main()

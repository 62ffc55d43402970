"""What running TFLite Micro and LiteRT in a child process costs on a normal ``opt`` run.

Run: ``python benchmarks/runtime_child.py [--repeats 5] [--model digits_cnn]``. Times ``mcugraph.optimize`` (the
full ``opt``: canonicalise, schedule, calibrate, export, TFLM arena check, verification in TFLM + LiteRT) of a zoo
model with the runtimes in the child (the default, :mod:`mcugraph.tflite.tflm`) and in-process (the same worker
functions called directly, as before the child existed). The first child run includes starting the child; later
runs reuse it, as every ``opt`` after the first does in a long-lived Python process (one CLI call = one start).
"""

from __future__ import annotations

import argparse
import statistics
import time


def _opt(model) -> float:
    from mcugraph.optimize import optimize

    start = time.perf_counter()
    optimize(model, calib="random:0,1,32", warn=lambda message: None, progress=False)
    return time.perf_counter() - start


def _in_process(op: str, args: tuple, runtime: str, action: str, source: str):
    from mcugraph.tflite import tflm_worker

    return tflm_worker.OPS[op](*args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model", default="digits_cnn")
    args = parser.parse_args()

    from mcugraph import zoo
    from mcugraph.optimize import optimize
    from mcugraph.tflite import tflm

    model = zoo.onnx_model(args.model)
    tflite = optimize(model, calib="random:0,1,8", verify=False, warn=lambda message: None).tflite
    tflm._Worker.get().close()  # the export above started the child: time a fresh start
    start = time.perf_counter()
    tflm.arena_head(tflite)
    first_call = time.perf_counter() - start
    child = [_opt(model) for _ in range(args.repeats)]
    cold = []
    for _ in range(args.repeats):  # what one CLI call pays: a fresh child (optimize() prestarts it)
        tflm._Worker.get().close()
        cold.append(_opt(model))
    routed = tflm._call
    tflm._call = _in_process
    try:
        here = [_opt(model) for _ in range(args.repeats)]
        start = time.perf_counter()
        tflm.arena_head(tflite)
        first_here = time.perf_counter() - start
    finally:
        tflm._call = routed
    med_child, med_here = statistics.median(child), statistics.median(here)
    print(f"model {args.model}, {args.repeats} runs each, median wall seconds of optimize()\n")
    print("| TFLM + LiteRT | opt s (median) | min | max |")
    print("|---|---:|---:|---:|")
    print(f"| in-process | {med_here:.3f} | {min(here):.3f} | {max(here):.3f} |")
    print(f"| child process (reused) | {med_child:.3f} | {min(child):.3f} | {max(child):.3f} |")
    print(f"| child process (fresh per run, = one CLI call) | {statistics.median(cold):.3f} | {min(cold):.3f} | "
          f"{max(cold):.3f} |")
    print(f"\nper-run cost of the child: {med_child - med_here:+.3f} s reused ({100 * (med_child / med_here - 1):+.1f} %), "
          f"{statistics.median(cold) - med_here:+.3f} s fresh")
    print(f"starting the child + first arena_head: {first_call:.3f} s (in-process arena_head: {first_here:.3f} s)")


if __name__ == "__main__":
    main()

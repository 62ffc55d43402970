"""The acceptance flow of issue 8, one seed per run: a four-conv digits CNN pruned with mcugraph's defaults.

Four 3x3 convs 32/48/64/64 with BatchNorm, a max-pool after the second, global pool, linear head (80,136 B of int8
weights + int32 biases), trained 30 epochs on digits; pruned to 1/8 of TFLM's arena and 1/16 of the weight bytes
with no recipe option (``--epochs`` etc. only if given here); the int8 export's top-1 in TFLite Micro on the digits
test split, before and after, and the CPU and wall seconds of the pruning call (wall time depends on the machine's
load, CPU time much less). ``tests/test_prune_acceptance.py`` runs the same flow (seed 0) through the CLI.

    python benchmarks/pruning_acceptance.py --seed 1
    python benchmarks/pruning_acceptance.py --seed 0 --epochs 130
    python benchmarks/pruning_acceptance.py --seed 2 --options '{"restart_weights": "trained", "distill": 0.7}'
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import torch

import mcugraph
from mcugraph.datasets import digits
from mcugraph.demo import tflite_accuracy, train_classifier
from mcugraph.prune.api import exact_resources
from mcugraph.zoo import FourConvCNN


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="seed of the pruning run (the baseline always uses 0)")
    parser.add_argument("--epochs", type=int, default=None, help="pruning epochs (default: derived)")
    parser.add_argument("--options", default="{}", help="JSON: mcugraph.prune keyword arguments (an ablation)")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("THREADS", "1")))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = digits()
    torch.manual_seed(0)
    module = train_classifier(FourConvCNN(), data.train, epochs=30)
    folder = tempfile.mkdtemp()
    base_model = os.path.join(folder, "base.onnx")  # through a file, as the user's command reads it
    mcugraph.save(mcugraph.load(module, example_inputs=torch.rand(1, 1, 8, 8)), base_model)
    base = mcugraph.optimize(base_model, calib="digits", progress=False)
    weights = exact_resources(mcugraph.run_pipeline(mcugraph.load(base_model), mcugraph.CANONICALIZE).model)["weights"]
    ram, flash = base.report["arena_head_bytes"] // 8, weights // 16  # a file budget of 1/16 of the weights
    wall, cpu = time.perf_counter(), time.process_time()
    result = mcugraph.prune(base_model, data="digits", ram=ram, flash=flash, epochs=args.epochs, seed=args.seed,
                            **json.loads(args.options))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    pruned = mcugraph.optimize(result.model, calib="digits", progress=False)
    print(json.dumps({
        "seed": args.seed, "options": json.loads(args.options), "schedule": result.report["schedule"],
        "acc_before": tflite_accuracy(base.tflite, data.test), "acc_after": tflite_accuracy(pruned.tflite, data.test),
        "arena_head": [base.report["arena_head_bytes"], ram, pruned.report["arena_head_bytes"]],
        "flash": [weights, flash, result.report["after"]["flash"]],  # weights before, budget, file after
        "channels": [(r["before"], r["after"]) for r in result.report["groups"] if r["prunable"]],
        "prune_wall_s": round(wall, 1), "prune_cpu_s": round(cpu, 1), "load_average": os.getloadavg()[0],
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())

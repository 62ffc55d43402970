"""Data-parallel pruning on CPU with the gloo backend: 2 ranks cut the same channels and end with the same model."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import onnx_ir as ir
import pytest
import torch
import torch.multiprocessing as mp

import mcugraph
from mcugraph import zoo as zoo_models
from mcugraph.datasets import digits
from mcugraph.prune.api import exact_resources

RAM = 512  # bytes; the width-8 digits CNN needs 1,536


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    torch.manual_seed(0)
    model = root / "small.onnx"
    mcugraph.save(mcugraph.load(zoo_models.DigitsCNN(width=8).eval(), example_inputs=torch.rand(1, 1, 8, 8)), model)
    split = digits().train
    data = root / "train.npz"
    np.savez(data, x=split.x[:192], y=split.y[:192])
    return root, model, data


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rank_main(rank: int, world: int, port: int, root: str, model: str, data: str, options: dict | None = None) -> None:
    """One rank: join the gloo group the way torchrun's environment describes it, prune, save what it ended with."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    from mcugraph.prune.api import prune
    from mcugraph.prune.distributed import teardown

    result = prune(model, data=data, ram=RAM, batch_size=16, progress=False, **({"epochs": 2} | (options or {})))
    teardown()
    weights = {name: v.const_value.numpy() for name, v in result.model.graph.initializers.items()}
    np.savez(f"{root}/rank{rank}.npz", **weights)
    steps = [[e["channels"], e["resources"]["ram"]] for e in result.report["epochs"]]
    with open(f"{root}/rank{rank}.json", "w") as f:
        json.dump({"keep": result.report["keep"], "after": result.report["after"], "steps": steps,
                   "extra_cuts": result.report["extra_cuts"],
                   "loss": [e["loss"] for e in result.report["epochs"]]}, f)
    mcugraph.save(result.model, f"{root}/rank{rank}.onnx")


def test_two_gloo_ranks_end_with_identical_models_within_budget(files):
    """Same kept channels, epoch by epoch the same widths, bit-identical weights; the budget is met.

    192 samples in global batches of 16 (8 per rank): 12 steps an epoch, so the gates close under resource pressure
    within the first epoch."""
    root, model, data = files
    mp.spawn(rank_main, args=(2, free_port(), str(root), str(model), str(data)), nprocs=2, join=True)
    reports = [json.loads((root / f"rank{r}.json").read_text()) for r in range(2)]
    assert reports[0] == reports[1]  # keep, resources, per-epoch channels and the all-reduced loss
    weights = [np.load(root / f"rank{r}.npz") for r in range(2)]
    assert sorted(weights[0].files) == sorted(weights[1].files)
    for name in weights[0].files:
        np.testing.assert_array_equal(weights[0][name], weights[1][name], err_msg=name)
    pruned = mcugraph.load(root / "rank0.onnx")
    assert exact_resources(pruned)["ram"] <= RAM and reports[0]["after"]["ram"] <= RAM
    # The gates closed channels during training (gate steps on all-reduced importances), not only in final cuts.
    assert reports[0]["steps"][0][0] < 40 and reports[0]["extra_cuts"] == 0


def test_two_gloo_ranks_narrow_a_ramp_alike(files):
    """The restart's gradual narrowing (``restart_ramp``) ranks its channels by live norms with BatchNorm scales whose
    running statistics each rank gathered on its own share of the batches: averaged first, both ranks cut the same
    channels at the same epochs and end bit-identical."""
    root, model, data = files
    options = {"epochs": 4, "restart_ramp": 0.75}
    mp.spawn(rank_main, args=(2, free_port(), str(root), str(model), str(data), options), nprocs=2, join=True)
    reports = [json.loads((root / f"rank{r}.json").read_text()) for r in range(2)]
    assert reports[0] == reports[1]
    channels = [step[0] for step in reports[0]["steps"]]
    assert channels[0] > channels[1] > channels[2] == channels[3]  # narrowed over 3 of the 4 epochs
    weights = [np.load(root / f"rank{r}.npz") for r in range(2)]
    for name in weights[0].files:
        np.testing.assert_array_equal(weights[0][name], weights[1][name], err_msg=name)
    assert exact_resources(mcugraph.load(root / "rank0.onnx"))["ram"] <= RAM


def test_torchrun_cli_writes_once_from_rank_0(files, tmp_path):
    """`torchrun --nproc-per-node 2 -m mcugraph prune ...`: exit 0, one report on stdout, a model within budget."""
    _, model, data = files
    out = tmp_path / "p.onnx"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--standalone", "-m", "mcugraph",
           "prune", str(model), "-o", str(out), "--data", str(data), "--ram", str(RAM), "--epochs", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.count(f"wrote {out}") == 1
    assert exact_resources(mcugraph.load(out))["ram"] <= RAM
    assert ir.load(str(out)).graph is not None

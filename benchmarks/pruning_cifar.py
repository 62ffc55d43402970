"""Benchmark: mcugraph pruning vs L1-norm pruning vs uniform width on real CIFAR-10 images.

Data: ``../shared/data/cifar10-subset`` (3,728 real CIFAR-10 images), a fixed-seed 85/15 train/held-out split,
pixels / 255; ``--augment`` adds random horizontal flips and 4-pixel-padded random 32x32 crops to every training
batch (baselines, mcugraph, L1 and uniform alike).

Models: ResNet-8 (the MLPerf Tiny IC shape: ``zoo.ResNetStyle(width=16)``, 16/32/64 channels, 32x32) at 1/2 and 1/4
of its TFLM arena, and a MobileNetV2-style network (``zoo.MobileNetV2Style(width=16, stem_stride=1)``: inverted
residuals, a 16-channel stem as MobileNetV2 at width 0.5, the CIFAR variant's stride-1 stem) at 1/4 of its arena; each with 1/8 of its int8 weight + int32 bias
bytes as the flash budget. Each is trained as a baseline (``--baseline-epochs``), then:

  (a) **mcugraph**: ``mcugraph.prune`` with its defaults (schedule derived from the data and budgets; ``--epochs``
      overrides), the same augmentation;
  (b) **L1**: L1-norm magnitude pruning to the same budgets (every prunable group keeps the same fraction of its
      channels, largest L1 norm first; ``benchmarks/pruning.py``), retrained for as many epochs as mcugraph ran,
      with the same BatchNorm-during-retraining, distillation and learning-rate schedule;
  (c) **uniform**: the same architecture built at the largest single width that meets the budgets (TFLM arena and
      flash measured), trained from scratch for baseline + pruning epochs (what a user does without any tool);
  (d) **from scratch**: ``mcugraph.prune(..., from_scratch=True)`` for baseline + pruning epochs: the seed paper's
      setting, pruning during the one training run from fresh weights (``--no-scratch`` skips it);
  (e) **patch + prune** (``--patch``): what ``mcugraph opt --ram R --prune`` does — patch-based execution first, then
      ``mcugraph.prune`` (defaults, trained baseline) to the layer-by-layer arena that patching relaxes R to, then
      the pruned model patched to fit R in TFLM: the patched .tflite is scored, its MACs include the patches'
      recomputation (at most +30 %).

Accuracy: the exported int8 model in TFLite Micro on the held-out split (calibration on 256 training images), the
mean over ``--seeds`` seeds. Seed ``s`` trains its own baseline (seed ``s``) and prunes it: a pruned model starts
from its baseline's trained weights and its accuracy follows the baseline's (MobileNetV2 baselines of this code
scored 61.6-65.4 %), so one baseline for every seed would measure that draw, not the method. Seeds also vary
pruning, retraining and the uniform network's initialisation. Wall time: prune-while-training (the teacher's
forwards included) against plain training of the unpruned model for the same epochs (no distillation: a plain run
has nothing to distil from), both in the first seed's worker (seed 0 unless ``--first-seed``); next to it their
CPU seconds (``time.process_time``, one torch thread per worker by default): with ``--jobs 2`` the other worker's load differs between the two runs, and CPU time
is what each would take on an idle core. ``--quick``: ResNet-8 at 1/4 SRAM + 1/8 flash only, one seed unless
``--seeds``. Results: a printed table, and JSON with ``--json FILE``. The whole benchmark (``--augment --jobs 2
--no-scratch``, 115 derived epochs, no teacher: the derived distillation is off for these 30-epoch baselines) took
2 h 3 min on 2 cores (2026-12-02, commit 0b84096), before the pool handed the longest ready task to a free worker
first (MobileNetV2's units, then its baselines, then ResNet-8's: in that run a MobileNetV2 unit ran its last ~20
minutes beside a single ResNet-8 unit).

    python benchmarks/pruning_cifar.py --augment --json cifar.json
    python benchmarks/pruning_cifar.py --quick --augment
    python benchmarks/pruning_cifar.py --only resnet8 --first-seed 3 --augment --json more.json   # seeds 3, 4, 5
    python benchmarks/pruning_cifar.py --table cifar.json more.json   # pooled: 6 seeds, paired gains ± SE
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import onnx
import onnx_ir as ir
import torch
from torch import nn

import mcugraph
from mcugraph import zoo
from mcugraph.demo import tflite_accuracy
from mcugraph.prune.api import (
    Dataset,
    apply_keep,
    canonicalize,
    exact_resources,
    prune,
    teacher_for,
    unshare_initializers,
)
from mcugraph.prune.augment import flip_crop
from mcugraph.prune.budgets import Budgets
from mcugraph.prune.probe import tflm_arena_head
from mcugraph.prune.torch_module import GraphModule
from mcugraph.prune.train import TrainConfig, fast_layout, run_epochs

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pruning import l1_keep, train_ir  # noqa: E402  (the digits benchmark's L1 baseline and retraining)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-subset" / "cifar10_subset.npz"
SPLIT_SEED = 0
CALIB_SAMPLES = 256
# The CIFAR MobileNetV2 keeps 32x32 in its stem: with ImageNet's stride-2 stem the input and its padded copy alone
# (6,544 B) exceed 1/4 of the 24,832 B arena, a budget no method can meet.
MODELS = {"resnet8": (zoo.ResNetStyle, 16), "mobilenetv2": (functools.partial(zoo.MobileNetV2Style, stem_stride=1), 16)}
# (model, SRAM fraction, flash fraction)
FULL = (("resnet8", 2, 8), ("resnet8", 4, 8), ("mobilenetv2", 4, 8))
QUICK = (("resnet8", 4, 8),)


def load_split(path: Path, limit: int | None = None) -> tuple[Dataset, Dataset]:
    """Fixed-seed 85/15 split of the CIFAR-10 subset, float32 in [0, 1] (``limit``: the first images of each)."""
    with np.load(path) as archive:
        x, y = archive["x"].astype(np.float32) / 255.0, archive["y"].astype(np.int64)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(y))
    cut = int(0.85 * len(y))
    train, test = order[:cut][:limit], order[cut:][:limit]
    return Dataset(x[train], y[train]), Dataset(x[test], y[test])


def train_torch(module: nn.Module, data: Dataset, epochs: int, seed: int, augment, batch_size: int) -> nn.Module:
    """Adam from mcugraph's retraining rate with a cosine decay to 0, cross-entropy, batch norm as built: the
    baselines and uniform width, trained the way mcugraph retrains (so a learning rate is not what separates them;
    on uniform width 4/16, seed 0: 3e-3 gave 50.9 %, 1.2e-2 51.8 %)."""
    torch.manual_seed(seed)
    x, y = torch.from_numpy(data.x), torch.from_numpy(data.y)
    optimizer = torch.optim.Adam(module.parameters(), lr=TrainConfig.retrain_lr)
    steps = epochs * math.ceil(len(y) / batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * min(1, s / steps))))
    module.train()
    for _ in range(epochs):
        for index in torch.randperm(len(y)).split(batch_size):
            batch = fast_layout(x[index] if augment is None else augment(x[index]))  # as mcugraph's training loop
            optimizer.zero_grad()
            nn.functional.cross_entropy(module(batch), y[index]).backward()
            optimizer.step()
            schedule.step()
    return module.eval()


def to_ir(module: nn.Module):
    return unshare_initializers(canonicalize(mcugraph.load(module.eval(), example_inputs=torch.rand(1, 3, 32, 32))))


def tflm_accuracy(model, train: Dataset, test: Dataset) -> float:
    """Top-1 of the int8 export in TFLite Micro on the held-out split."""
    copy = apply_keep(model, {})
    result = mcugraph.optimize(copy, calib=train.x[:CALIB_SAMPLES], progress=False)
    return tflite_accuracy(result.tflite, test)


def resources(model) -> dict:
    """Exact flash/MACs and TFLM's measured arena head."""
    res = exact_resources(model)
    return {"ram": tflm_arena_head(model), "flash": res["flash"], "macs": res["macs"]}


def uniform_width(name: str, budgets: Budgets) -> tuple[int, dict]:
    """The largest width of the architecture whose TFLM arena and flash meet ``budgets``."""
    ctor, full = MODELS[name]
    for width in range(full, 0, -1):
        torch.manual_seed(0)
        res = resources(to_ir(ctor(width=width)))
        if budgets.met_by(res):
            return width, res
    raise SystemExit(f"{name}: no width meets {budgets}")


def run_unit(name, sram_k, flash_k, base_bytes: bytes, base: dict, seed: int, args, time_plain: bool) -> dict:
    """One budget, one seed: mcugraph, L1 and uniform width (and, with ``time_plain``, plain training's wall time).

    Runs in a worker process of its own (one torch thread), so units of a full run share the cores.
    """
    torch.set_num_threads(args.threads)
    train, test = load_split(args.data, args.limit)
    base_ir = ir.from_proto(onnx.load_from_string(base_bytes))
    budgets = Budgets(ram=base["ram"] // sram_k, flash=base["flash"] // flash_k)
    augment = flip_crop if args.augment else None
    start, cpu = time.perf_counter(), time.process_time()
    result = prune(base_ir, data=(train.x, train.y), ram=budgets.ram, flash=budgets.flash, epochs=args.epochs,
                   seed=seed, augment=augment, progress=args.progress)
    prune_seconds, prune_cpu = time.perf_counter() - start, time.process_time() - cpu
    epochs_used = result.report["schedule"]["epochs"]
    # L1 retrains as mcugraph did, its distillation included: the α prune() derived, read from its report.
    config = TrainConfig(epochs=epochs_used, batch_size=result.report["schedule"]["batch_size"], seed=seed,
                         augment=augment, progress=args.progress, distill=result.report["schedule"]["distill"])
    ours = {"acc": tflm_accuracy(result.model, train, test), **resources(result.model)}
    teacher, config, _ = teacher_for(GraphModule(base_ir), train, config)
    torch.manual_seed(seed)
    l1_model, _ = train_ir(apply_keep(base_ir, l1_keep(base_ir, budgets, train.x[:64])), epochs_used, config, train,
                           teacher)
    l1 = {"acc": tflm_accuracy(l1_model, train, test), **resources(l1_model)}
    scratch = None
    if args.scratch:  # (d): the seed paper's setting, pruning during the main training run from fresh weights
        result_s = prune(base_ir, data=(train.x, train.y), ram=budgets.ram, flash=budgets.flash, seed=seed,
                         epochs=args.baseline_epochs + epochs_used, from_scratch=True, augment=augment,
                         progress=args.progress)
        scratch = {"acc": tflm_accuracy(result_s.model, train, test), **resources(result_s.model)}
    patched = patch_prune(base_ir, budgets, train, test, seed, augment, args.epochs) if args.patch else None
    width, uni_res = uniform_width(name, budgets)
    ctor, _ = MODELS[name]
    torch.manual_seed(seed)
    small = train_torch(ctor(width=width), train, args.baseline_epochs + epochs_used, seed, augment,
                        config.batch_size)
    uni = {"acc": tflm_accuracy(to_ir(small), train, test), "width": width, **uni_res}
    plain_seconds = plain_cpu = None
    if time_plain:
        # Plain training of the unpruned model, same epochs, batches and augmentation, in the same process: what a
        # user's training run costs. No teacher: plain training has no model to distil from; pruning's teacher
        # forwards are part of what pruning costs, so they stay in prune_seconds.
        module = GraphModule(apply_keep(base_ir, {}))
        optimizer = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=config.lr)
        start, cpu = time.perf_counter(), time.process_time()
        run_epochs(module, optimizer, train.x, train.y, epochs_used,
                   dataclasses.replace(config, progress=False, distill=0.0))
        plain_seconds, plain_cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"  {name} 1/{sram_k} SRAM + 1/{flash_k} flash, seed {seed}: mcugraph {ours['acc']:.4f} "
          f"L1 {l1['acc']:.4f} uniform(w={width}) {uni['acc']:.4f}"
          + (f" from-scratch {scratch['acc']:.4f}" if scratch else "")
          + (f" patch+prune {patched['acc']:.4f}" if patched else "") + f" ({prune_seconds:.0f} s)", flush=True)
    return {
        "seed": seed, "epochs": epochs_used, "budgets": dict(budgets.items()), "mcugraph": ours, "l1": l1,
        "uniform": uni, "scratch": scratch, "patch": patched, "prune_seconds": prune_seconds, "plain_seconds": plain_seconds,
        "prune_cpu_seconds": prune_cpu, "plain_cpu_seconds": plain_cpu, "baseline_acc": base["acc"],
        "channels": [(r["before"], r["after"]) for r in result.report["groups"] if r["prunable"]],
    }


def patch_prune(base_ir, budgets: Budgets, train: Dataset, test: Dataset, seed: int, augment, epochs: int | None,
                **options) -> dict:
    """``mcugraph opt --ram R --prune --flash F``: patching first, pruning (``mcugraph.prune``, defaults) only what
    it could not. Accuracy of the patched .tflite in TFLM, its arena head, the pruned weights' flash, its MACs with
    the patches' recomputation, and how the fit went."""
    pruned: list = []

    def prune_to_ram(model, ram: int):
        result = prune(model, data=(train.x, train.y), ram=ram, flash=budgets.flash, seed=seed, augment=augment,
                       epochs=epochs, **options)
        pruned.append(result)
        return result.model

    result = mcugraph.optimize(apply_keep(base_ir, {}), calib=train.x[:CALIB_SAMPLES], ram_bytes=budgets.ram,
                               prune_to_ram=prune_to_ram, progress=False)
    report, last = result.report, (pruned[-1] if pruned else None)
    patch = report.get("patch") or {}
    return {
        "acc": tflite_accuracy(result.tflite, test), "ram": report["arena_head_bytes"],
        "flash": exact_resources(last.model)["flash"] if last else exact_resources(base_ir)["flash"],
        "macs": patch.get("macs_after", report["macs"]), "mac_overhead": patch.get("mac_overhead", 0.0),
        "epochs": last.report["schedule"]["epochs"] if last else 0, "fit": report["fit"]["reason"],
        "channels": [(r["before"], r["after"]) for r in last.report["groups"] if r["prunable"]] if last else None,
    }


def baseline_module(name: str, train: Dataset, epochs: int, seed: int, augment, batch_size: int) -> nn.Module:
    """The unpruned model at full width, initialised and trained from ``seed``: the baseline a seed's units prune
    (``pruning_ablation.py --save --baseline-seed`` trains the same one)."""
    ctor, full = MODELS[name]
    torch.manual_seed(seed)
    return train_torch(ctor(width=full), train, epochs, seed, augment, batch_size)


def train_baseline(name: str, seed: int, args) -> tuple[bytes, dict]:
    """The unpruned model (``seed``, ``--baseline-epochs``): ONNX bytes and its resources, accuracy, wall time."""
    torch.set_num_threads(args.threads)
    train, test = load_split(args.data, args.limit)
    start = time.perf_counter()
    module = baseline_module(name, train, args.baseline_epochs, seed, flip_crop if args.augment else None,
                             args.batch_size)
    base_ir = to_ir(module)
    base = resources(base_ir)
    base["acc"] = tflm_accuracy(base_ir, train, test)
    base["seconds"] = time.perf_counter() - start
    print(f"{name}: baseline seed {seed}, {args.baseline_epochs} epochs, int8 TFLM {base['acc']:.4f}, "
          f"arena {base['ram']} B, "
          f"weights {base['flash']} B ({base['seconds']:.0f} s)", flush=True)
    return ir.serde.serialize_model(base_ir).SerializeToString(), base


def summarise(name, sram_k, flash_k, units: list[dict]) -> dict:
    """One table row: the mean accuracy over seeds of each method, resources of the last seed."""
    row = {"model": name, "sram_fraction": sram_k, "flash_fraction": flash_k, "budgets": units[0]["budgets"],
           "epochs": units[0]["epochs"], "uniform_width": units[0]["uniform"]["width"],
           "uniform_full_width": MODELS[name][1], "seeds": units}
    for method in ("mcugraph", "l1", "uniform", "scratch", "patch"):
        if any(u.get(method) is None for u in units):  # pooled runs: a column only where every seed has it
            continue
        accs = [u[method]["acc"] for u in units]
        row[method] = {**units[-1][method], "acc": float(np.mean(accs)), "accs": accs}
    row["prune_seconds"] = float(np.mean([u["prune_seconds"] for u in units]))
    timed = [u for u in units if u["plain_seconds"] is not None]
    row["plain_seconds"] = timed[0]["plain_seconds"] if timed else None
    row["prune_seconds_timed"] = timed[0]["prune_seconds"] if timed else None
    row["prune_cpu_seconds"] = timed[0]["prune_cpu_seconds"] if timed else None
    row["plain_cpu_seconds"] = timed[0]["plain_cpu_seconds"] if timed else None
    row["baseline_accs"] = [u["baseline_acc"] for u in units]
    row["channels"] = units[-1]["channels"]
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the CIFAR-10 subset .npz (x uint8 NCHW, y)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per budget (default 3; 1 with --quick)")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="seeds FIRST.. (another run's seeds to pool with --table; the first is timed)")
    parser.add_argument("--baseline-epochs", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=None, help="pruning epochs (default: mcugraph's derived)")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size of the baselines")
    parser.add_argument("--augment", action="store_true", help="random flip + crop on every training batch")
    parser.add_argument("--quick", action="store_true",
                        help="ResNet-8 at 1/4 SRAM + 1/8 flash only, one seed unless --seeds is given")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--progress", action="store_true", help="one line per pruning epoch on stderr")
    parser.add_argument("--jobs", type=int, default=1,
                        help="worker processes, one (budget, seed) unit each (default 1; 2 on 2 cores halves the run)")
    parser.add_argument("--only", choices=sorted(MODELS), help="only this model's rows")
    parser.add_argument("--no-scratch", dest="scratch", action="store_false",
                        help="skip (d), mcugraph --from-scratch for baseline + pruning epochs")
    parser.add_argument("--patch", action="store_true",
                        help="also (e), patch + prune: mcugraph opt --ram R --prune, the patched .tflite scored")
    parser.add_argument("--limit", type=int, default=None,
                        help="use only this many training and held-out images (a smoke run, not a result)")
    parser.add_argument("--table", type=Path, nargs="+", metavar="JSON",
                        help="print the table of saved --json runs instead of running (units of the same budget "
                             "from several files are pooled)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads per job (default: the cores shared equally among --jobs)")
    args = parser.parse_args(argv)
    if args.table:
        print(format_table(rows_from_json(args.table)))
        return 0
    if not args.data.is_file():
        print(f"{args.data} not found: this benchmark needs ../shared/data/cifar10-subset", file=sys.stderr)
        return 2
    if args.seeds is None:
        args.seeds = 1 if args.quick else 3
    # Each worker gets an equal share of the cores: units side by side, not threads fighting over them.
    if args.threads is None:
        args.threads = max(1, (os.cpu_count() or 1) // max(1, args.jobs))
    train, test = load_split(args.data, args.limit)
    print(f"CIFAR-10 subset: {len(train.y)} train / {len(test.y)} held-out images, augment={args.augment}, "
          f"{args.jobs} job(s) x {args.threads} thread(s)")
    cases = [c for c in (QUICK if args.quick else FULL) if args.only is None or c[0] == args.only]
    names = list(dict.fromkeys(name for name, _, _ in cases))
    cases_of = {name: [case for case in cases if case[0] == name] for name in names}
    context = multiprocessing.get_context("spawn")  # a forked torch can deadlock on its thread pools
    bases: dict = {}  # model -> its baselines' resources and accuracy, one per seed
    done: list[dict] = []  # finished units, written to --json as they come so a cut-short run keeps them

    def save(rows: list[dict] | None = None) -> None:
        if args.json:
            payload = {"args": {k: str(v) for k, v in vars(args).items()}, "baselines": bases, "units": done}
            if rows is not None:
                payload["rows"] = rows
            tmp = args.json.with_name(args.json.name + ".tmp")
            tmp.write_text(json.dumps(payload, indent=2) + "\n")
            tmp.replace(args.json)

    results: dict = {}
    # Tasks wait in `ready` and go to the pool only when a worker is free, the longest first (MobileNetV2's units,
    # ~25 min, then its baselines, then ResNet-8's, ~10 and ~3 min): a long unit started last would run alone while
    # the other core idles. A seed's units become ready as soon as its baseline is trained.
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    ready = [("baseline", name, seed) for name in names for seed in seeds]
    inputs: dict = {}  # (name, seed) -> the trained baseline's ONNX bytes and measurements

    def priority(task) -> tuple:  # smallest first
        kind, what, _ = task
        name = what if kind == "baseline" else what[0]
        return (name != "mobilenetv2", kind == "baseline")

    with ProcessPoolExecutor(max_workers=max(1, args.jobs), mp_context=context) as pool:
        pending: dict = {}
        while ready or pending:
            while ready and len(pending) < max(1, args.jobs):
                task = min(ready, key=priority)
                ready.remove(task)
                if task[0] == "baseline":
                    pending[pool.submit(train_baseline, task[1], task[2], args)] = task
                else:
                    _, case, seed = task
                    timed = seed == args.first_seed
                    pending[pool.submit(run_unit, *case, *inputs[(case[0], seed)], seed, args, timed)] = task
            future = next(as_completed(pending))
            kind, *key = pending.pop(future)
            if kind == "baseline":
                name, seed = key
                try:
                    base_bytes, base = future.result()
                except Exception as error:
                    print(f"{name} baseline seed {seed}: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
                    results.update({(case, seed): error for case in cases_of[name]})
                    continue
                bases.setdefault(name, {})[seed] = base
                inputs[(name, seed)] = (base_bytes, base)
                ready += [("unit", case, seed) for case in cases_of[name]]
                continue
            case, seed = key
            try:
                results[(case, seed)] = future.result()
                done.append({"model": case[0], "sram_fraction": case[1], "flash_fraction": case[2],
                             **results[(case, seed)]})
            except Exception as error:  # one failed budget must not lose the others' hour of results
                print(f"{case} seed {seed}: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
                results[(case, seed)] = error
            save()
    rows = []
    for case in cases:
        units = [results[(case, seed)] for seed in seeds]
        failed = [u for u in units if isinstance(u, Exception)]
        if failed:
            rows.append({"model": case[0], "sram_fraction": case[1], "flash_fraction": case[2],
                         "error": f"{type(failed[0]).__name__}: {failed[0]}"})
        else:
            rows.append(summarise(*case, units))
    print(format_table(rows))
    save(rows)
    return 0


def rows_from_json(paths: list[Path]) -> list[dict]:
    """The summary rows of saved runs; the units of one budget in several files are pooled (more seeds for a mean)."""
    units: dict = {}
    for path in paths:  # units are saved as they finish: back in seed order, file by file
        for unit in sorted(json.loads(path.read_text())["units"], key=lambda u: u["seed"]):
            units.setdefault((unit["model"], unit["sram_fraction"], unit["flash_fraction"]), []).append(unit)
    cases = [case for case in FULL if case in units] + [case for case in units if case not in FULL]
    return [summarise(*case, units[case]) for case in cases]


def paired_gain(row: dict, method: str, against: str) -> tuple[float, float] | None:
    """Mean and standard error over seeds of ``method``'s accuracy minus ``against``'s, in points. Paired by seed:
    both ran on the same baseline and held-out images, so the pair's difference is what the seeds spread."""
    if method not in row or against not in row:
        return None
    gains = 100 * (np.array(row[method]["accs"]) - np.array(row[against]["accs"]))
    se = float(gains.std(ddof=1) / math.sqrt(len(gains))) if len(gains) > 1 else float("nan")
    return float(gains.mean()), se


def format_gain(gain: tuple[float, float] | None) -> str:
    return "–" if gain is None else f"{gain[0]:+.1f} ± {gain[1]:.1f}"


def format_table(rows: list[dict]) -> str:
    """Markdown: per row the baselines' mean accuracy, each method's mean and resources, the first seed's timing."""
    columns = ["model (baseline)", "budget", "epochs", "mcugraph acc", "SRAM / flash B", "L1 acc", "SRAM / flash B",
               "uniform acc (width)", "SRAM / flash B", "from scratch acc", "SRAM / flash B", "patch + prune acc",
               "SRAM / flash B, MACs", "prune / plain s", "prune / plain CPU s", "seeds", "mcugraph − uniform",
               "mcugraph − L1", "patch + prune − uniform"]
    lines = ["| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | 1/{r['sram_fraction']} SRAM + 1/{r['flash_fraction']} flash | "
                         f"failed: {r['error']} |" + " |" * (len(columns) - 2))
            continue
        m, l1, u = r["mcugraph"], r["l1"], r["uniform"]
        lines.append(
            f"| {r['model']} ({100 * np.mean(r['baseline_accs']):.1f} %) | 1/{r['sram_fraction']} SRAM + "
            f"1/{r['flash_fraction']} flash | {r['epochs']} | {100 * m['acc']:.1f} % | {m['ram']} / {m['flash']} | "
            f"{100 * l1['acc']:.1f} % | {l1['ram']} / {l1['flash']} | {100 * u['acc']:.1f} % "
            f"({r['uniform_width']}/{r['uniform_full_width']}) | {u['ram']} / {u['flash']} | "
            + (f"{100 * r['scratch']['acc']:.1f} % | {r['scratch']['ram']} / {r['scratch']['flash']} | "
               if "scratch" in r else "– | – | ")
            + (f"{100 * r['patch']['acc']:.1f} % | {r['patch']['ram']} / {r['patch']['flash']}, "
               f"+{100 * r['patch']['mac_overhead']:.0f} % | " if "patch" in r else "– | – | ")
            + f"{r['prune_seconds_timed']:.0f} / {r['plain_seconds']:.0f} | "
            f"{r['prune_cpu_seconds']:.0f} / {r['plain_cpu_seconds']:.0f} | {len(m['accs'])} | "
            f"{format_gain(paired_gain(r, 'mcugraph', 'uniform'))} | {format_gain(paired_gain(r, 'mcugraph', 'l1'))} | "
            f"{format_gain(paired_gain(r, 'patch', 'uniform'))} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

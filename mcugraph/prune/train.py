"""Prune while training: gates close under resource pressure, closed channels are cut from the live model.

One loop (:func:`run_epochs`) serves the three phases: *prune* (gates installed, resource penalty on, closed channels
physically removed every ``prune_every`` steps together with their optimizer state, so later epochs run on a smaller
network and get faster), *train* (budgets met: by default the caller restarts the network from the trained
weights at the gates' widths, ``restart.py``, via ``stop_when_met``; with ``restart=False`` the gates are folded
into the weights and plain training continues) and *finetune* (after the channels were cut from the IR). The loss
is

    L = L_task + λ relu(max_r R_r / B_r − 1)

(only the binding resource pulls), where ``R_r`` is straight-through: its value is the exact resource of the model
one would get by cutting every closed channel now (hard counts), its gradient is that of the soft resource model (sums of gate openings). The
penalty's gradient on the width fractions is rescaled so that its largest component is λ, and the step size is
``1 / (prune_share · epochs · steps per epoch)``: the group under most pressure could go from full width to none in
``prune_share`` of the training, whatever the units of the budgets (bytes, MACs). See docs/pruning.md.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from mcugraph.prune import distributed
from mcugraph.prune.budgets import Budgets, format_amount
from mcugraph.prune.config import TrainConfig
from mcugraph.prune.gates import ChannelGates
from mcugraph.prune.renorm import install_batchnorm
from mcugraph.prune.resources import ResourceModel


@dataclasses.dataclass(frozen=True)
class EpochLog:
    epoch: int
    phase: str  # "prune", "train" or "finetune"
    seconds: float
    loss: float
    accuracy: float | None  # training-batch accuracy (classifiers only)
    resources: dict[str, float]  # exact resources of the hard-gated model at the end of the epoch
    channels: int  # channels left in the gated groups


@dataclasses.dataclass
class Pruner:
    """What changes while pruning: the live module, its gates and optimizer, and whether pressure is still on."""

    module: nn.Module
    gates: ChannelGates
    groups: tuple
    rmodel: ResourceModel
    budgets: Budgets
    optimizer: torch.optim.Optimizer
    slice_fn: Callable  # slice_module(module, groups, keep, optimizer)
    pruning: bool = True
    met_at_epoch: int | None = None  # with run_epochs(stop_when_met=True): the epoch (1-based) the budgets were met
    # Set to measure TFLM's arena of the hard-gated model before pruning stops: fn(keep) -> arena head bytes.
    arena_probe: Callable | None = None
    ram_margin: float = 0.0  # bytes TFLM needs beyond the planned tensors (kernel scratch buffers)

    def hard_resources(self) -> dict[str, float]:
        counts = self.gates.hard_counts()
        key = (tuple(sorted(counts.items())), self.ram_margin)
        cache = self.__dict__.setdefault("_hard_cache", {})
        if key not in cache:  # hard counts change a few hundred times per run, steps are thousands
            result = {r: float(v) for r, v in self.rmodel.evaluate({g: float(n) for g, n in counts.items()}).items()}
            result["ram"] += self.ram_margin
            cache.clear()
            cache[key] = result
        return dict(cache[key])

    def budgets_met(self) -> bool:
        return self.budgets.met_by(self.hard_resources())

    def confirmed(self) -> bool:
        """Budgets met per the model, and (with ``arena_probe``) per TFLM; a TFLM excess becomes ``ram_margin``."""
        if not self.budgets_met():
            return False
        if self.arena_probe is None or self.budgets.ram is None:
            return True
        closed = self.gates.closed()
        keep = {}
        for gid, alive in self.gates.alive.items():
            gone = set(closed.get(gid, ()))
            keep[gid] = tuple(c for i, c in enumerate(alive) if i not in gone)
        head = self.arena_probe(keep)
        if head <= self.budgets.ram:
            return True
        self.ram_margin += head - self.hard_resources()["ram"]
        return False

    def penalty(self) -> torch.Tensor:
        """λ-free penalty relu(max_r R_r/B_r − 1) with straight-through resources (exact value, soft gradient).

        Only the binding resource (the most exceeded, relative to its budget) pulls: widths shrink by importance
        per byte of what actually binds, not of a resource another one's cuts will bring under budget anyway.
        """
        soft = self.rmodel.evaluate(self.gates.counts())
        hard = self.hard_resources()
        ratios = [(soft[r] - soft[r].detach() + hard[r]) / limit for r, limit in self.budgets.items()]
        return torch.relu(torch.stack([torch.as_tensor(v, dtype=torch.float64) for v in ratios]).max() - 1.0)

    def cut(self, drop: dict[int, list[int]]) -> None:
        """Remove channels (local indices per group) from the module, its optimizer state and the gates."""
        keep = {}
        for gid, local in drop.items():
            gone = set(local)
            kept_local = [i for i in range(len(self.gates.alive[gid])) if i not in gone]
            keep[gid] = [self.gates.alive[gid][i] for i in kept_local]
            self.gates.keep(gid, kept_local)
        if keep:
            self.slice_fn(self.module, self.groups, keep, self.optimizer)

    def cut_closed(self) -> bool:
        closed = self.gates.closed()
        self.cut(closed)
        return bool(closed)

    def stop_pruning(self, model, x: torch.Tensor | tuple | None = None) -> None:
        """Budgets are met: fold the gates into the producers' weights and train on without them.

        With training inputs ``x``, BatchNorm goes back after every conv for the retraining (``renorm.py``).
        """
        self.cut_closed()
        self.gates.fold_into(self.module, model)
        self.gates.uninstall(self.module)
        self.gates.frozen = True
        self.pruning = False
        self.optimizer.state.clear()  # folding rescaled the weights: their Adam moments no longer fit
        if x is not None:
            install_batchnorm(self.module, model, x, self.optimizer)

    def cut_least_important(self, now: dict | None = None) -> None:
        """One more channel, where it saves most of the violated resources per unit of importance lost.

        ``now``: the resources to compare with the budgets (default: the resource model's, else the exact ones).
        """
        hard = self.gates.hard_counts()
        model_now = self.hard_resources()
        now = model_now if now is None else now
        best, best_score = None, -1.0
        for gid, n in hard.items():
            if n <= 1:
                continue
            after = {g: float(c) for g, c in hard.items()}
            after[gid] = n - 1.0
            res = self.rmodel.evaluate(after)
            saved = sum(
                max(0.0, model_now[r] - float(res[r])) / limit for r, limit in self.budgets.items() if now[r] > limit
            )
            imp = self.gates.importance[gid]
            least = float(imp[self.gates.least_important(gid)])
            score = saved / (least / (float(imp.mean()) + 1e-12) + 0.1)
            if score > best_score:
                best, best_score = gid, score
        if best is None:
            return
        victim = self.gates.least_important(best)
        self.cut({best: [victim]})
        self.gates.width[str(best)].data.fill_(float(len(self.gates.alive[best])))


def first_output(output):
    """The output ``"ce"``/``"mse"``, accuracy and distillation score: the first graph output of several."""
    return output[0] if isinstance(output, tuple) else output


def task_loss(kind: str, output, target: torch.Tensor, teacher: torch.Tensor | None = None,
              distill: float = 0.0, temperature: float = 4.0) -> torch.Tensor:
    """Cross-entropy (or MSE); with ``teacher`` logits, ``(1−α)·CE + α·T²·KL(teacher_T ‖ student_T)``.

    ``output``: the module's output, a tuple for several graph outputs. A callable ``kind`` (the user's own
    ``loss(output, target)``) receives it as is; the built-in losses score the first output only.
    """
    if callable(kind):
        return kind(output, target)
    output = first_output(output)
    if kind == "mse":
        return nn.functional.mse_loss(output, target)
    ce = nn.functional.cross_entropy(output, target)
    if teacher is None or distill <= 0:
        return ce
    kl = nn.functional.kl_div(
        nn.functional.log_softmax(output / temperature, dim=1),
        nn.functional.log_softmax(teacher / temperature, dim=1), log_target=True, reduction="batchmean",
    )
    return (1.0 - distill) * ce + distill * temperature**2 * kl


def run_epochs(
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: np.ndarray | tuple[np.ndarray, ...],
    y: np.ndarray,
    epochs: int,
    config: TrainConfig,
    *,
    phase: str = "train",
    pruner: Pruner | None = None,
    model=None,
    first_epoch: int = 0,
    log: list[EpochLog] | None = None,
    teacher: np.ndarray | nn.Module | None = None,
    stop_when_met: bool = False,
    before_epoch: Callable[[int], None] | None = None,
) -> list[EpochLog]:
    """Train ``module`` for ``epochs`` epochs; with ``pruner`` under resource pressure until budgets are met.

    ``stop_when_met``: return at the step the budgets are met (closed channels cut, ``pruner.met_at_epoch`` set)
    instead of folding the gates and training on; the caller restarts from there (``restart.py``).
    ``before_epoch(epoch)`` (0-based) runs before each epoch's first step: the restart's gradual narrowing
    (``ramp.py``).

    ``x``: the training inputs, a tuple of arrays (one per graph input) for several; every batch takes the same
    samples from each. ``config.augment`` transforms the first input.
    """
    from tqdm.auto import tqdm

    bar_on = config.progress and sys.stderr.isatty()  # a bar on a terminal; in a log file, one line per epoch
    log = [] if log is None else log
    dp = distributed.current()  # under torchrun: each rank trains on its share of every batch (distributed.py)
    device = torch.device(config.device)
    xs = tuple(torch.from_numpy(a).to(device) for a in (x if isinstance(x, tuple) else (x,)))
    ys = torch.from_numpy(y).to(device)
    # Teacher logits: precomputed per sample, or (with augmentation, where every view differs) a frozen module.
    soft = torch.from_numpy(teacher).to(device) if isinstance(teacher, np.ndarray) else None
    generator = torch.Generator().manual_seed(config.seed + first_epoch)
    step = 0
    steps_per_epoch = -(-len(ys) // config.batch_size)
    total_steps = epochs * steps_per_epoch
    # Geometric pace: each step may narrow the gated groups by this share of their current total width, so that
    # 10x fewer channels could be reached within prune_share of the epochs; the last channels go gently.
    pace = math.log(10.0) / max(1.0, config.prune_share * config.epochs * steps_per_epoch)
    decay_from = None if pruner is not None and pruner.pruning else 0
    base_lr = [group["lr"] for group in optimizer.param_groups]
    for epoch in range(first_epoch, first_epoch + epochs):
        if before_epoch is not None:
            before_epoch(epoch)
        module.train()
        current = "prune" if pruner is not None and pruner.pruning else phase
        start = time.perf_counter()
        total_loss = correct = seen = 0.0
        batches = dp.batches(torch.randperm(len(ys), generator=generator).split(config.batch_size))
        bar = tqdm(batches, desc=f"epoch {epoch + 1} {current}", leave=False, disable=not bar_on)
        for index in bar:
            batch = len(index)
            index = dp.shard(index).to(device)
            optimizer.zero_grad(set_to_none=True)
            inputs = [t[index] for t in xs]
            if config.augment is not None:
                inputs[0] = config.augment(inputs[0])
            inputs = [fast_layout(t) for t in inputs]
            output = module(*inputs)
            target = soft[index] if soft is not None else _teacher_batch(teacher, inputs)
            loss = task_loss(config.loss, output, ys[index], target, config.distill)
            loss.backward()
            dp.average_gradients(_synced(module, pruner), len(index), batch)
            if pruner is not None and pruner.pruning:
                width = sum(float(n.detach()) for n in pruner.gates.counts().values())
                _gate_step(pruner, config, pace * width, warm=step >= config.warmup_steps)
            if decay_from is not None:  # cosine decay of the learning rate once the architecture is fixed
                progress = (step - decay_from) / max(1, total_steps - decay_from)
                for group, lr in zip(optimizer.param_groups, base_lr, strict=True):
                    group["lr"] = lr * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
            optimizer.step()
            step += 1
            total_loss += float(loss.detach()) * len(index)
            seen += len(index)
            if config.loss == "ce":
                correct += float((first_output(output).argmax(1) == ys[index]).sum())
            # Drop this step's autograd graph before slicing: it caches the parameters' old shapes.
            del output, loss
            if pruner is not None and pruner.pruning:
                if not pruner.confirmed():
                    if step % config.prune_every == 0:
                        pruner.cut_closed()
                elif stop_when_met:
                    pruner.cut_closed()
                    pruner.met_at_epoch = epoch + 1
                    break
                else:
                    pruner.stop_pruning(model, (xs if len(xs) > 1 else xs[0]) if config.renorm else None)
                    decay_from = step
                    base_lr = [config.retrain_lr for _ in optimizer.param_groups]
            if bar_on:
                bar.set_postfix_str(_postfix(total_loss / seen, correct / seen if config.loss == "ce" else None, pruner))
        total_loss, correct, seen = dp.sum(total_loss, correct, seen)
        resources = pruner.hard_resources() if pruner is not None else {}
        channels = sum(pruner.gates.hard_counts().values()) if pruner is not None else 0
        entry = EpochLog(
            epoch=epoch + 1, phase=current, seconds=time.perf_counter() - start, loss=total_loss / max(seen, 1),
            accuracy=correct / seen if config.loss == "ce" and seen else None, resources=resources, channels=channels,
        )
        log.append(entry)
        if bar_on:
            tqdm.write(_line(entry, pruner, first_epoch + epochs))
        elif config.progress:
            print(_line(entry, pruner, first_epoch + epochs), file=sys.stderr, flush=True)
        if pruner is not None and pruner.met_at_epoch is not None and pruner.pruning:
            break
    return log


def fast_layout(x: torch.Tensor) -> torch.Tensor:
    """A training batch in the memory layout the CPU's convolutions run fastest on: images channels-last.

    oneDNN's convolutions (depthwise above all) run NHWC natively; fed NCHW they reorder every tensor on the way in
    and out (timings: ``python benchmarks/training_step.py``). Weights may stay NCHW: the input's layout decides the
    convolution's. The layout is not the values: results agree to float rounding. Only on CPU (cuDNN's choice is its
    own) and only 4-D float batches.
    """
    if x.device.type == "cpu" and x.dim() == 4 and x.is_floating_point():
        return x.contiguous(memory_format=torch.channels_last)
    return x


def _teacher_batch(teacher, inputs: list[torch.Tensor]) -> torch.Tensor | None:
    if teacher is None:
        return None
    with torch.no_grad():
        return first_output(teacher(*inputs))


def _synced(module: nn.Module, pruner: Pruner | None) -> list[torch.Tensor]:
    """What data-parallel ranks average after each backward pass: the weights and, while pruning, the gate probes
    (their gradients are the Taylor importances every gate decision is made from)."""
    tensors = [p for p in module.parameters() if p.requires_grad]
    if pruner is not None and pruner.pruning:
        tensors += [pruner.gates.probe[gid] for gid in sorted(pruner.gates.probe)]
    return tensors


def _gate_step(pruner: Pruner, config: TrainConfig, rate: float, warm: bool) -> None:
    """Importance from the task gradient; then narrow each group by its penalty saving per unit of importance.

    A first-order trade-off: narrowing group g by δ channels lowers the penalty by ``δ·∂P/∂n_g`` and raises the
    task loss by about ``δ·I_g`` (Taylor importance of its next channel to close). Groups shrink in proportion to
    ``(∂P/∂n_g) / I_g``, together by ``rate`` channels per step.
    """
    gates = pruner.gates
    gates.accumulate_importance()
    gates.zero_grad()
    if not warm:
        return
    penalty = pruner.penalty()
    if not penalty.requires_grad or float(penalty.detach()) <= 0:
        return
    ids = list(gates.groups)
    grads = torch.autograd.grad(penalty, [gates.width[str(gid)] for gid in ids], allow_unused=True)
    floor = 1e-3
    ratios = {  # a group at its floor (gates.floors) takes no share: the others keep the pace
        gid: max(0.0, float(g)) / (gates.boundary_importance(gid) + floor)
        for gid, g in zip(ids, grads, strict=True) if g is not None and not gates.at_floor(gid)
    }
    total = sum(ratios.values())
    if total <= 0:
        return
    for gid, ratio in ratios.items():
        gates.shrink(gid, rate * ratio / total)


def _postfix(loss: float, accuracy: float | None, pruner: Pruner | None) -> str:
    parts = [f"loss {loss:.3f}"]
    if accuracy is not None:
        parts.append(f"acc {accuracy:.3f}")
    if pruner is not None:
        now = pruner.hard_resources()
        parts += [f"{r} {format_amount(r, now[r])}/{format_amount(r, limit)}" for r, limit in pruner.budgets.items()]
    return " ".join(parts)


def _line(entry: EpochLog, pruner: Pruner | None, last_epoch: int) -> str:
    """``epoch 12/60 prune 1.31s loss 0.4210 acc 0.962 ram 928B/640B flash 6.7KiB/4.9KiB channels 69/208``."""
    text = f"epoch {entry.epoch:>3}/{last_epoch} {entry.phase:<8} {entry.seconds:6.2f}s loss {entry.loss:.4f}"
    if entry.accuracy is not None:
        text += f" acc {entry.accuracy:.3f}"
    if pruner is not None:
        for r, limit in pruner.budgets.items():
            text += f" {r} {format_amount(r, entry.resources[r])}/{format_amount(r, limit)}"
        total = sum(g.size for g in pruner.gates.groups.values())
        text += f" channels {entry.channels}/{total}"
    return text

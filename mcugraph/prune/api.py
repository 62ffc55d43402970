"""``mcugraph.prune``: differentiable resource-aware pruning of an ONNX model to SRAM / flash / MACs budgets.

The method of Liberis & Lane, *Differentiable Network Pruning for Microcontrollers*: gates on every prunable channel
group (``gates.py``), a differentiable model of the resources (``resources.py``), prune-while-training with physical
removal (``train.py``); then ``remove-channels`` applies the surviving channels to the IR and the budgets are
checked with the exact analyses (arena plan of the kernel view, flash and MACs of the pruned IR) — if those still
exceed a budget, more channels go, least important first, until they do not.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx_ir as ir

from mcugraph.arguments import check_train_config
from mcugraph.errors import BudgetError, MCUGraphError
from mcugraph.prune.budgets import Budgets, parse_budgets
from mcugraph.prune.data import Dataset, as_inputs, load_dataset, parse_scale, sample_count
from mcugraph.prune.probe import tflm_arena_head
from mcugraph.prune.train import EpochLog, TrainConfig

if TYPE_CHECKING:
    from mcugraph.memory.min_peak import MinPeakPlan

MAX_EXTRA_CUTS = 10_000


@dataclasses.dataclass(frozen=True)
class PruneResult:
    """The pruned, trained IR (same inputs/outputs, fewer channels) and a JSON-ready report."""

    model: ir.Model
    report: dict


def prune(
    model: Any,
    *,
    data: Any,
    val: Any = None,
    ram: str | int | None = None,
    flash: str | int | None = None,
    macs: str | int | None = None,
    epochs: int | None = None,
    finetune_epochs: int = 0,
    config: TrainConfig | None = None,
    data_scale: str | float | None = None,
    data_offset: float = 0.0,
    **options: Any,
) -> PruneResult:
    """Prune ``model`` to the given budgets while training it on ``data``.

    ``data``/``val``: ``"digits"``, a path to an .npz with ``x`` and ``y``, an ``(x, y)`` pair, anything with
    ``.x``/``.y``, a torch ``Dataset`` or ``DataLoader`` or any iterable of ``(x, y)`` batches
    (:mod:`mcugraph.prune.data`); integer inputs (uint8 images) need ``data_scale`` (``x * data_scale +
    data_offset``, e.g. ``"1/255"``). Budgets accept ``"48KiB"``-style strings or ints (bytes, MACs). ``options`` are
    :class:`TrainConfig` fields (``lr``, ``batch_size``, ``loss``, ``device``, ``progress``, ...); ``loss`` is
    ``"ce"`` (default), ``"mse"`` or a callable ``loss(output, target) -> scalar tensor``. A model with several
    inputs takes ``x`` as a tuple of arrays in graph-input order (.npz: ``x0``, ``x1``, ...); with several outputs,
    ``"ce"``/``"mse"``, accuracy and distillation use the first output, a callable loss gets the tuple of outputs.
    ``epochs`` and ``batch_size`` left out are derived from the data size and how far the budgets are
    (``recipe.py``).
    """
    from mcugraph.load import load
    from mcugraph.prune.allocation import floors
    from mcugraph.prune.channel_groups import channel_groups
    from mcugraph.prune.distributed import setup as setup_distributed
    from mcugraph.prune.gates import ChannelGates, gateable_groups
    from mcugraph.prune.preflight import check_exportable, frozen_summary, refuse_unprunable
    from mcugraph.prune.recipe import derive, pressure
    from mcugraph.prune.renorm import fold_batchnorm, install_batchnorm
    from mcugraph.prune.resources import resource_model
    from mcugraph.prune.restart import restart_at_widths
    from mcugraph.prune.scratch import reinitialise
    from mcugraph.prune.slicing import slice_module
    from mcugraph.prune.torch_module import GraphModule
    from mcugraph.prune.train import Pruner, run_epochs

    config = config or TrainConfig()
    config = dataclasses.replace(config, epochs=config.epochs if epochs is None else epochs,
                                 finetune_epochs=finetune_epochs, **options)
    _check_config(config)
    dp, device = setup_distributed(config.device)  # torchrun: join the process group, one device per rank
    config = dataclasses.replace(config, device=device)
    budgets = parse_budgets(ram, flash, macs)
    if not budgets:
        raise BudgetError("no budget given; pass at least one of ram=, flash=, macs= (--ram, --flash, --macs)")
    model = unshare_initializers(canonicalize(load(model)))
    check_exportable(model)  # before the data is read and long before training: the kernel view decides
    scale = parse_scale(data_scale)
    train_set = load_dataset(data, model, config.loss, "data", scale, data_offset)
    val_set = (load_dataset(val, model, config.loss, "val", scale, data_offset) if val is not None
               else _default_val(data, model, config))
    start = time.perf_counter()

    groups = channel_groups(model)
    gated = gateable_groups(model, groups)
    before = exact_resources(model)
    config, schedule = derive(config, sample_count(train_set.x), pressure(before, budgets))
    rmodel = resource_model(model, groups, before["order"])
    refuse_unprunable(model, groups, gated)
    _check_reachable(rmodel, gated, budgets, frozen_summary(model, groups, gated))

    import torch

    torch.manual_seed(config.seed)
    module = GraphModule(model).to(config.device)
    if config.from_scratch:  # no trained model: nothing to distil from or to restart from (scratch.py)
        reinitialise(module, model, config.seed)
        config = dataclasses.replace(config, distill=0.0, restart=False, restart_weights="fresh", restart_ramp=0.0)
    gates = ChannelGates(gated).to(config.device)
    gates.floors = floors(rmodel, gated, budgets, config.floor)
    gates.install(module, model)
    optimizer = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=config.lr)
    pruner = Pruner(module, gates, tuple(groups), rmodel, budgets, optimizer, slice_module)
    if config.tflm_check and budgets.ram is not None:
        # Measured on rank 0 and broadcast under torchrun, so every rank stops pruning at the same step.
        pruner.arena_probe = dp.from_main(lambda keep: tflm_arena_head(apply_keep(model, _changed(keep, gates))))
    teacher, config, why = teacher_for(module, train_set, config)
    schedule.update(why)
    forced = 0  # channels cut by importance outside the gates' steps (a budget the gates' end point misses)
    if pruner.budgets_met():
        pruner.stop_pruning(model, _inputs(train_set, config) if config.renorm else None)
    elif (config.restart or config.from_scratch) and _floors_are_the_end(rmodel, gates, budgets):
        # The gates can only end at their floors, and the restart takes its channels by the L1 norm of the input
        # model's weights, not from the gates or the weights they trained: a gate phase would spend epochs of
        # full-width training to reach a known point. Restart there now (from scratch too: every epoch then trains
        # the final network from fresh weights).
        gates.start_at_floors()
        pruner.cut_closed()
        while not pruner.confirmed() and forced < MAX_EXTRA_CUTS:  # TFLM's arena above the plan: cut on
            pruner.cut_least_important()
            forced += 1
        pruner.met_at_epoch = 0
    log: list[EpochLog] = []
    if pruner.met_at_epoch is None:
        log = run_epochs(module, optimizer, train_set.x, train_set.y, config.epochs, config, pruner=pruner,
                         model=model, teacher=teacher, stop_when_met=config.restart)
    if pruner.met_at_epoch is not None:  # the gates found the widths: restart the network at them (restart.py)
        left = config.epochs - pruner.met_at_epoch
        ramp = restart_at_widths(model, pruner, _inputs(train_set, config), config, left)
        module, optimizer = pruner.module, pruner.optimizer
        run_epochs(module, optimizer, train_set.x, train_set.y, left, config, pruner=pruner,
                   first_epoch=pruner.met_at_epoch, log=log, teacher=teacher, before_epoch=ramp)
    while pruner.pruning and not pruner.budgets_met() and forced < MAX_EXTRA_CUTS:
        pruner.cut_closed()
        pruner.cut_least_important()
        forced += 1
    if pruner.pruning:
        pruner.stop_pruning(model)
    fold_batchnorm(module, model, optimizer)

    check = config.tflm_check and budgets.ram is not None
    pruned, after = _apply(model, module, gates, check)
    while not budgets.met_by(after) and forced < MAX_EXTRA_CUTS:
        # The differentiable model used one schedule; the exact check may plan a different one, and TFLM's own
        # arena may exceed the planner's prediction: prune on.
        pruner.cut_least_important(now=after)
        forced += 1
        pruned, after = _apply(model, module, gates, check)
    if not budgets.met_by(after):
        raise BudgetError(f"budgets {dict(budgets.items())} not met after pruning: {_summary(after)}")
    if config.finetune_epochs:
        if config.renorm:
            install_batchnorm(module, pruned, _inputs(train_set, config), optimizer)
        run_epochs(module, optimizer, train_set.x, train_set.y, config.finetune_epochs, config, phase="finetune",
                   first_epoch=config.epochs, log=log, teacher=teacher)
        fold_batchnorm(module, pruned, optimizer)
    module.write_back(pruned)
    report = _report(model, groups, gates, budgets, before, after, log, forced, time.perf_counter() - start)
    report["schedule"] = {**schedule, "restart_ramp": config.restart_ramp}
    report["restarted_at_epoch"] = pruner.met_at_epoch  # set only when restarting (stop_when_met=config.restart)
    if val_set is not None and config.loss == "ce":
        report["val_accuracy"] = {"before": onnx_accuracy(model, val_set), "after": onnx_accuracy(pruned, val_set)}
    return PruneResult(pruned, report)


def _inputs(data: Dataset, config: TrainConfig):
    import torch

    xs = tuple(torch.from_numpy(a).to(config.device) for a in as_inputs(data.x))
    return xs if len(xs) > 1 else xs[0]


def teacher_for(module, data: Dataset, config: TrainConfig):
    """Distillation from the unpruned ``module`` (gates all open now): ``(teacher, config, why)`` with ``config.distill``
    resolved (``recipe.distill_weight``: the user's α, or derived from the module's accuracy on the training set)
    and ``teacher`` ``None`` when α is 0 or the loss is not ``"ce"``; else the logits (its first output) on the
    training set, computed once, or with ``config.augment`` (every batch a new view) a frozen copy of the module run
    per batch (``teacher.py``: traced and frozen where that is measured to be faster). ``why`` is for the report.

    Every rank of a data-parallel run holds the whole training set and the same weights, so every rank derives the
    same α.
    """
    from mcugraph.prune.recipe import distill_weight

    logits = accuracy = None
    if config.loss == "ce" and config.distill != 0:
        logits = _training_logits(module, data, config.device)
        accuracy = float(np.mean(logits.argmax(axis=1) == np.asarray(data.y)))
    alpha = distill_weight(config, accuracy)
    why = {"distill": alpha, "distill_derived": config.distill is None,
           "teacher_train_accuracy": None if accuracy is None else round(accuracy, 4)}
    config = dataclasses.replace(config, distill=alpha)
    if alpha <= 0 or config.loss != "ce":
        return None, config, why
    if config.augment is not None:
        import copy

        from mcugraph.prune.teacher import Teacher

        teacher = copy.deepcopy(module)
        teacher.gate_hooks.clear()  # the copied hooks would still read the live (closing) gates
        return Teacher(teacher), config, why
    return logits, config, why


def _training_logits(module, data: Dataset, device: str) -> np.ndarray:
    """``module``'s first output on every training sample, in eval mode, 256 at a time."""
    import torch

    from mcugraph.prune.train import fast_layout, first_output

    with torch.no_grad():
        module.eval()
        xs = [torch.from_numpy(a).to(device).split(256) for a in as_inputs(data.x)]
        batches = (map(fast_layout, b) for b in zip(*xs, strict=True))
        return torch.cat([first_output(module(*b)) for b in batches]).float().cpu().numpy()


def canonicalize(model: ir.Model) -> ir.Model:
    """Run ``mcugraph.CANONICALIZE`` (the passes registered in this build) so BN is folded and Gemm normalised."""
    from mcugraph.pipeline import CANONICALIZE, run_pipeline
    from mcugraph.registry import known_passes

    known = known_passes()
    spec = ",".join(p for p in CANONICALIZE.split(",") if p in known)
    return run_pipeline(model, spec).model if spec else model


def unshare_initializers(model: ir.Model) -> ir.Model:
    """Give every node its own copy of a float initializer it shares with another node.

    Exporters deduplicate equal tensors (e.g. two all-zero biases after folding an untrained BatchNorm); a shared
    tensor ties unrelated channel groups together and would make both unprunable.
    """
    for name, value in list(model.graph.initializers.items()):
        if value.const_value is None or not value.dtype.is_floating_point():
            continue
        uses = list(value.uses())
        for n, (node, index) in enumerate(uses[1:], start=1):
            copy = ir.Value(name=f"{name}__{n}", shape=value.shape, type=value.type,
                            const_value=ir.tensor(value.const_value.numpy().copy(), name=f"{name}__{n}"))
            model.graph.register_initializer(copy)
            node.replace_input_with(index, copy)
    return model


def exact_resources(model: ir.Model, planned: MinPeakPlan | None = None) -> dict:
    """What the exporter will deploy: TFLM arena bytes of the min-peak schedule, flash (bytes of the int8 .tflite
    ``mcugraph opt`` writes), MACs, and ``weights`` (int8 weight + int32 bias bytes, part of the flash).
    ``planned``: ``plan_min_peak(model)`` when the caller already has it."""
    from mcugraph.analysis.costs import node_costs
    from mcugraph.analysis.flash import predicted_flash_bytes
    from mcugraph.memory.min_peak import plan_min_peak

    planned = plan_min_peak(model) if planned is None else planned
    order = planned.schedule.order
    costs = node_costs(model)
    return {
        "ram": planned.plan.arena_bytes,
        "flash": predicted_flash_bytes(model, order=order),
        "macs": sum(c.macs for c in costs),
        "weights": sum(c.weight_bytes for c in costs),
        "order": tuple(order),
    }


def apply_keep(model: ir.Model, keep: dict[int, tuple[int, ...]]) -> ir.Model:
    """A pruned copy of ``model``: the ``remove-channels`` pass with ``keep`` (original channel indices)."""
    from mcugraph.passes.remove_channels import RemoveChannelsPass

    copy = ir.serde.deserialize_model(ir.serde.serialize_model(model))
    if keep:
        copy = RemoveChannelsPass(keep={g: tuple(k) for g, k in keep.items()})(copy).model
    return copy


def _apply(model: ir.Model, module, gates, check: bool = False) -> tuple[ir.Model, dict]:
    """The pruned IR and its exact resources; with ``check``, ``ram`` is TFLM's measured arena head."""
    from mcugraph.memory.min_peak import plan_min_peak

    keep = {gid: tuple(alive) for gid, alive in gates.alive.items() if len(alive) < gates.groups[gid].size}
    pruned = apply_keep(model, keep)
    planned = plan_min_peak(pruned)  # once: the exact resources and the TFLM probe use the same order and plan
    resources = exact_resources(pruned, planned)
    if check:
        resources["predicted_ram"] = resources["ram"]
        resources["ram"] = max(resources["ram"], tflm_arena_head(pruned, planned))
    return pruned, resources


def _floors_are_the_end(rmodel, gates, budgets: Budgets) -> bool:
    """Whether the gates' floors (whole channels) are a maximal allocation: then every point the gates can stop at
    is the floors themselves (``allocation.is_maximal``), as with the balanced floors at ``floor`` 1."""
    from mcugraph.prune.allocation import is_maximal

    sizes = {gid: len(alive) for gid, alive in gates.alive.items()}
    floors = {gid: min(sizes[gid], max(1, math.ceil(f - 1e-6))) for gid, f in gates.floors.items()}
    return is_maximal(rmodel, budgets, floors, sizes)


def _changed(keep: dict, gates) -> dict:
    return {gid: k for gid, k in keep.items() if len(k) < gates.groups[gid].size}


def _check_reachable(rmodel, gated, budgets: Budgets, frozen: str = "") -> None:
    """Fail before training when even one channel per prunable group exceeds a budget (``frozen``: the widest
    groups that keep their width and why, from :func:`mcugraph.prune.preflight.frozen_summary`)."""
    floor = {r: float(v) for r, v in rmodel.evaluate({g.id: 1.0 for g in gated}).items()}
    missed = [(r, limit) for r, limit in budgets.items() if floor[r] > limit]
    if missed:
        parts = ", ".join(f"{r} budget {limit} < minimum {floor[r]:.0f}" for r, limit in missed)
        raise BudgetError(
            f"budget cannot be met even with one channel per prunable group ({parts}); raise the budget or use "
            "a smaller architecture" + (f" (groups that keep their width: {frozen})" if frozen else "")
        )


def _check_config(config: TrainConfig) -> None:
    check_train_config(config)  # the numbers: finite rates, positive counts, a known device (mcugraph.arguments)
    if not callable(config.loss) and config.loss not in ("ce", "mse"):
        raise MCUGraphError(f"loss {config.loss!r} is not supported; use 'ce' (classifier), 'mse' (autoencoder) or "
                            "a callable loss(output, target)")
    if config.restart_weights not in ("fresh", "trained"):
        raise MCUGraphError(f"restart_weights {config.restart_weights!r} is not supported; use 'fresh' or 'trained'")
    if config.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise MCUGraphError(f"device {config.device!r} requested but CUDA is not available; use --device cpu")


def _default_val(data: Any, model: ir.Model, config: TrainConfig) -> Dataset | None:
    return load_dataset("digits", model, config.loss, "val") if data == "digits" else None


def onnx_accuracy(model: ir.Model, data: Dataset) -> float:
    """Top-1 accuracy of the first output in onnxruntime, one sample at a time as on the device (batch 1)."""
    from mcugraph.runtime import run_onnx

    names = [v.name for v in model.graph.inputs]
    xs = as_inputs(data.x)
    hits = [int(run_onnx(model, {n: a[i][None] for n, a in zip(names, xs, strict=True)})[0].argmax()) == int(y)
            for i, y in enumerate(data.y)]
    return float(np.mean(hits))


def _summary(resources: dict) -> str:
    return ", ".join(f"{r} {resources[r]}" for r in ("ram", "flash", "macs"))


def _report(model, groups, gates, budgets, before, after, log, forced, seconds) -> dict:
    from mcugraph.prune.preflight import gate_blockers

    why = gate_blockers(model, groups, list(gates.groups.values()))  # node and reason for each ungated group
    rows = []
    for group in groups:
        alive = gates.alive.get(group.id)
        rows.append({
            "id": group.id, "producers": list(group.producers), "prunable": group.id in gates.groups,
            "before": group.size, "after": len(alive) if alive is not None else group.size,
            **({"reason": why[group.id]} if group.id in why else {}),
        })
    return {
        "budgets": dict(budgets.items()),
        "before": {r: before[r] for r in ("ram", "flash", "macs", "weights")},
        "after": {r: after[r] for r in ("ram", "flash", "macs", "weights", "predicted_ram") if r in after},
        "met": budgets.met_by(after),
        "groups": rows,
        "keep": {str(gid): list(alive) for gid, alive in gates.alive.items()},
        "extra_cuts": forced,
        "seconds": round(seconds, 3),
        "epochs": [dataclasses.asdict(e) for e in log],
    }

"""Patch a planned .tflite model, plan its arena, and prove it in TFLM: the one door both CLI commands use.

:func:`patch_tflite` takes an int8 (or float) model already scheduled layer by layer (``mcugraph opt``'s output or
``mcugraph schedule``'s), finds or applies a tiling (:mod:`mcugraph.patch.search`), plans the patched model's arena
(:func:`mcugraph.memory.planner.plan_arena`, stored order: the tiles, then the rest as it was) and writes it as the
offline plan. It returns a model only if TFLM, running it, reports an arena head equal to the prediction byte for
byte and gives outputs bit-exact with the input model on random inputs; else :class:`ExportError`. With
``tiling="auto"`` a tiling that does not lower TFLM's arena is not applied: the input model comes back unchanged.
"""

from __future__ import annotations

import dataclasses
import time

from mcugraph.errors import BudgetError, ExportError, InvalidModelError
from mcugraph.kernel_graph import KernelGraph
from mcugraph.memory.planner import ArenaPlan, check_plan, plan_arena
from mcugraph.memory.tflite_graph import read_model, tensor_names
from mcugraph.patch.cost import model_macs
from mcugraph.patch.rewrite import Tile
from mcugraph.patch.search import Candidate, evaluate, search
from mcugraph.patch.stage import even_bands, stage_for
from mcugraph.tflite import schema as tfl
from mcugraph.tflite.offline_plan import ONLINE, write_offline_plan
from mcugraph.tflite.schedule import VERIFY_SAMPLES, random_inputs
from mcugraph.tflite.tflm import arena_head, run_tflm_batch

PLANNED_CANDIDATES = 3  # the best few by peak are planned exactly; first-fit nearly always reaches the peak


class ArenaBudgetError(BudgetError):
    """``ram_bytes`` cannot be met without pruning. ``layer_by_layer_bytes``: TFLM's head of the unpatched model;
    ``smallest_bytes``: the smallest arena patching reaches within the MAC cap (what ``opt --prune`` relaxes
    pruning's budget by)."""

    def __init__(self, message: str, layer_by_layer_bytes: int, smallest_bytes: int):
        super().__init__(message)
        self.layer_by_layer_bytes, self.smallest_bytes = layer_by_layer_bytes, smallest_bytes


@dataclasses.dataclass(frozen=True)
class PatchReport:
    applied: bool
    reason: str  # one line: what was done, or why the input model was kept
    head_before_bytes: int  # TFLM's arena head for the input (layer-by-layer) model
    head_after_bytes: int  # TFLM's arena head for the returned model (== predicted_bytes when applied)
    predicted_bytes: int
    lower_bound_bytes: int  # peak live bytes of the patched order
    macs_before: int
    macs_after: int
    stage_output: str = ""  # the cut tensor (of the last stage, when two run one after the other)
    stage_operators: int = 0  # of all stages
    stages: int = 0  # how many stages run in tiles (1, or 2: a second one starting at the first one's cut)
    bands: tuple[tuple[int, int], ...] = ()  # of all stages, one per tile
    tiles: tuple[Tile, ...] = ()
    tile_stages: tuple[int, ...] = ()  # the stage (0, 1) each tile belongs to
    plan: ArenaPlan | None = None
    graph: KernelGraph | None = None
    seconds: float = 0.0
    verify_seconds: float = 0.0

    @property
    def mac_overhead(self) -> float:
        return self.macs_after / self.macs_before - 1 if self.macs_before else 0.0


def parse_tiling(text: str) -> str | tuple[int | None, int]:
    """``"auto"``, ``"N"`` (N bands, best stage) or ``"OP:N"`` (cut after operator OP, N bands)."""
    if text == "auto":
        return "auto"
    op, _, count = text.rpartition(":")
    try:
        result = (int(op) if op else None, int(count))
    except ValueError:
        result = (None, 0)
    if result[1] < 2 or (result[0] is not None and result[0] < 0):
        raise InvalidModelError(f"--patch {text!r}: give 'auto', a band count N >= 2, or OP:N (operator index:bands)")
    return result


def _candidates(model, tiling, max_mac_overhead: float) -> list[Candidate]:
    if tiling == "auto":
        return search(model, max_mac_overhead)
    op, count = tiling
    if op is None:
        return search(model, float("inf"), band_counts=[count])
    operators = model.subgraphs[0].operators
    if op >= len(operators):
        raise InvalidModelError(f"--patch {op}:{count}: the model has {len(operators)} operators (0..{len(operators) - 1})")
    stage = stage_for(model, int(operators[op].outputs[0]))  # raises with the reason a stage cannot be tiled
    bands = even_bands(model, stage, count)
    if bands is None:
        raise InvalidModelError(
            f"--patch {op}:{count}: the stage output's {stage.output} rows cannot be cut into {count} aligned bands"
        )
    return [evaluate(model, stage, bands)]


def _fitting(found: list[Candidate], ram_bytes: int, time_limit_s: float, source: str, head_before: int):
    """(plan, candidate) with the fewest MACs whose arena fits ``ram_bytes``; BudgetError naming the smallest arena."""
    for candidate in sorted((c for c in found if c.peak_bytes <= ram_bytes), key=lambda c: (c.macs, c.peak_bytes)):
        plan = plan_arena(candidate.graph, time_limit_s=time_limit_s)
        if plan.arena_bytes <= ram_bytes:
            return plan, candidate
    smallest = min((plan_arena(c.graph, time_limit_s=time_limit_s).arena_bytes for c in found[:PLANNED_CANDIDATES]),
                   default=None)
    reach = f"{smallest} B with patching" if smallest is not None else "no tiling applies"
    raise ArenaBudgetError(
        f"{source}: the arena cannot fit {ram_bytes} B without pruning: the smallest reachable is {reach}; "
        "raise --ram or add --prune", head_before, min(head_before, smallest or head_before),
    )


def patch_tflite(
    data: bytes, tiling="auto", max_mac_overhead: float = 0.3, source: str = "model", time_limit_s: float = 1.0,
    ram_bytes: int | None = None,
) -> tuple[bytes, PatchReport]:
    """The model ``data`` with a leading stage run in row tiles (verified in TFLM), and a report.

    ``tiling``: ``"auto"`` (search, keep ``data`` when nothing lowers the arena) or what :func:`parse_tiling`
    returns. ``ram_bytes``: fit this arena instead of minimising it: ``data`` unchanged when it fits, else the
    tiling with the fewest MACs that fits. Raises ``UnsupportedOpError``/``InvalidModelError`` for a tiling that
    does not apply (with the reason), ``BudgetError`` when no tiling fits the MAC cap or ``ram_bytes``,
    ``ExportError`` when verification fails.
    """
    start = time.perf_counter()
    model = read_model(data, source)
    head_before = arena_head(data)
    macs_before = model_macs(model)
    unchanged = PatchReport(False, "", head_before, head_before, head_before, head_before, macs_before, macs_before)
    if ram_bytes is not None and head_before <= ram_bytes:
        return data, dataclasses.replace(unchanged, reason=f"fits {ram_bytes} B layer by layer: not patched")
    found = _candidates(model, tiling, max_mac_overhead)
    if not found:
        if tiling == "auto" and ram_bytes is None:
            return data, dataclasses.replace(unchanged, reason="no tileable stage within the MAC cap: kept layer by layer")
        if ram_bytes is not None:
            raise ArenaBudgetError(
                f"{source}: the arena cannot fit {ram_bytes} B without pruning: the smallest reachable is "
                f"{head_before} B (no tiling applies within {max_mac_overhead:.0%} extra MACs); add --prune",
                head_before, head_before,
            )
        raise BudgetError(f"{source}: no tiling within {max_mac_overhead:.0%} extra MACs; raise --patch-max-mac-overhead")
    if ram_bytes is not None:
        plan, best = _fitting(found, ram_bytes, time_limit_s, source, head_before)
    else:
        plans = [(plan_arena(c.graph, time_limit_s=time_limit_s), c) for c in found[:PLANNED_CANDIDATES]]
        plan, best = min(plans, key=lambda pc: (pc[0].arena_bytes, pc[1].macs))
    if tiling == "auto" and ram_bytes is None and plan.arena_bytes >= head_before:
        return data, dataclasses.replace(
            unchanged, reason=f"patching does not pay: best tiling needs {plan.arena_bytes} B, layer by layer "
            f"{head_before} B: kept layer by layer")
    check_plan(plan, best.graph)
    write_offline_plan(best.model, [plan.offsets.get(name, ONLINE) for name in tensor_names(best.model)])
    patched = tfl.pack(best.model)
    seconds = time.perf_counter() - start

    start = time.perf_counter()
    head_after = arena_head(patched)
    if head_after != plan.arena_bytes:
        raise ExportError(
            f"{source}: TFLM plans {head_after} B of arena for the patched model but mcugraph predicted "
            f"{plan.arena_bytes} B: a bug in mcugraph's memory model; nothing written, report this model"
        )
    samples = [random_inputs(model, seed) for seed in range(VERIFY_SAMPLES)]
    for i, (want, got) in enumerate(zip(run_tflm_batch(data, samples), run_tflm_batch(patched, samples), strict=True)):
        for j, (a, b) in enumerate(zip(want, got, strict=True)):
            if a.shape != b.shape or a.dtype != b.dtype or a.tobytes() != b.tobytes():
                raise ExportError(
                    f"{source}: output {j} of the patched model differs from the unpatched model on random sample "
                    f"{i}; nothing written, report this model"
                )
    names = tensor_names(model)
    return patched, PatchReport(
        applied=True,
        reason="; then ".join(f"stage of {len(st.ops)} operators ending at '{names[st.output]}' in {len(b)} row bands"
                              for st, b in best.stages),
        head_before_bytes=head_before,
        head_after_bytes=head_after,
        predicted_bytes=plan.arena_bytes,
        lower_bound_bytes=plan.lower_bound_bytes,
        macs_before=macs_before,
        macs_after=best.macs,
        stage_output=names[best.stages[-1][0].output],
        stage_operators=sum(len(st.ops) for st, _ in best.stages),
        stages=len(best.stages),
        tile_stages=tuple(i for i, (_, bands) in enumerate(best.stages) for _ in bands),
        bands=tuple(band for _, bands in best.stages for band in bands),
        tiles=best.tiles,
        plan=plan,
        graph=best.graph,
        seconds=seconds,
        verify_seconds=time.perf_counter() - start,
    )


def report_dict(report: PatchReport) -> dict:
    """The report as plain JSON types (``opt --json``/``schedule --json``): arena before/after, MACs, tiles."""
    return {
        "applied": report.applied,
        "reason": report.reason,
        "head_before_bytes": report.head_before_bytes,
        "head_after_bytes": report.head_after_bytes,
        "predicted_bytes": report.predicted_bytes,
        "lower_bound_bytes": report.lower_bound_bytes,
        "macs_before": report.macs_before,
        "macs_after": report.macs_after,
        "mac_overhead": round(report.mac_overhead, 4),
        "stage_output": report.stage_output,
        "stage_operators": report.stage_operators,
        "stages": report.stages,
        "tiles": tiles_json(report),
    }


def tiles_json(report: PatchReport) -> list[dict]:
    """One entry per tile: its stage, the rows of the stage output it computes, the rows of the stage input (the
    image, or the first stage's output) it reads, its kernels in the plan's names."""
    names = {int(k.name.split(":", 1)[0]): k.name for k in report.graph.kernels} if report.graph else {}
    stages = report.tile_stages or (0,) * len(report.tiles)
    return [
        {"stage": stage, "rows": list(t.rows), "input_rows": list(t.input_rows),
         "kernels": [names.get(i, str(i)) for i in t.operators]}
        for stage, t in zip(stages, report.tiles, strict=True)
    ]

"""``mcugraph.optimize``: ONNX in, a verified int8 (or float32) .tflite for TFLite Micro out.

The default pipeline, one small function per step so that a step can be added (pruning) without reading the rest:

1. load (static shapes), remember the model as the verification reference;
2. canonicalise (``mcugraph.CANONICALIZE``); a QDQ model then loses its activation Q/DQ pairs and keeps their scales;
3. kernel view -> memory-optimal schedule -> arena plan (``mcugraph.memory``), written as TFLM's offline plan;
4. calibrate (onnxruntime calibrators) unless the model brought its own scales or float32 was asked for;
5. export (``mcugraph.export.writer``);
6. verify in TFLM and LiteRT on held-out samples against onnxruntime; below the SQNR threshold -> ``ExportError``.

Nothing is written to disk here: the caller gets bytes only after verification passed.

``mcugraph.optimize`` (the package attribute) is the function :func:`optimize`, which hides this module's name:
reach the rest with ``from mcugraph.optimize import Options, run``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import onnx
import onnx_ir as ir

from mcugraph.errors import BudgetError, DataError, ExportError
from mcugraph.pipeline import CANONICALIZE
from mcugraph.registry import pipeline_changes_outputs

VERIFY_RANDOM_SAMPLES = 8


@dataclasses.dataclass(frozen=True)
class OptimizeResult:
    tflite: bytes
    report: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Options:
    calib: Any = None  # see mcugraph.export.calib_data; None is allowed for float32 and QDQ models
    calib_method: str = "minmax"
    quantize: bool = True  # False: float32 model, no calibration
    io_dtype: str = "int8"  # "float32": float inputs/outputs around an int8 model
    input_layout: str = "nhwc"
    keep_names: bool = False  # write tensor names into the .tflite (TFLM and LiteRT read none: off, smaller file)
    verify: bool = True
    min_sqnr_db: float | None = None  # None: mcugraph.export.verify.DEFAULT_MIN_SQNR_DB for the dtype
    inplace: bool = True
    pipeline: str = CANONICALIZE
    input_shapes: Mapping[str, Sequence[int]] | None = None
    print_between_passes: bool = False
    time_passes: bool = False
    progress: bool | None = None  # tqdm bar while calibrating; None: only on a terminal
    # Model-to-model steps run after canonicalisation (pruning plugs in here). With any, verification compares
    # against the model they return instead of the loaded one, since they change what the model computes.
    transforms: Sequence[Callable[[ir.Model], ir.Model]] = ()
    warn: Callable[[str], None] | None = None  # where warnings go (stderr by default)
    # Patch-based execution of the exported model (mcugraph.patch): None (off), "auto", "N" or "OP:N"; checked
    # bit-exact in TFLM against the verified unpatched model. ram_bytes: fit this arena by tiling (without pruning).
    patch: str | None = None
    patch_max_mac_overhead: float = 0.3
    ram_bytes: int | None = None
    # --prune with --ram: pruning to a given layer-by-layer arena budget (bytes). With ram_bytes, the model is first
    # fitted by order + plan + patching; pruning then removes only what they could not (see _fit_ram).
    prune_to_ram: Callable[[ir.Model, int], ir.Model] | None = None


def optimize(model: Any, **options: Any) -> OptimizeResult:
    """Optimise ``model`` (anything :func:`mcugraph.load` takes) for TFLM; options are the fields of :class:`Options`.

    ``report`` holds ``flash_bytes`` (the file's length), ``weight_bytes`` (its weights + biases), ``arena_head_bytes`` (TFLM), ``predicted_arena_bytes``, ``macs``,
    ``verification`` (SQNR dB, max abs error, top-1 agreement), ``calibration`` and ``seconds`` per step.
    """
    return run(model, Options(**options))


def run(model: Any, opts: Options) -> OptimizeResult:
    from mcugraph.arguments import check_optimize_options

    check_optimize_options(opts)
    from mcugraph.tflite.tflm import prestart

    prestart()  # TFLM's child process imports while we canonicalise and calibrate
    timer = _Timer()
    with timer("load"):
        ir_model = _load(model, opts)
        check_io_dtypes(ir_model)
        reference = ir.serde.serialize_model(ir_model)
    with timer("canonicalize"):
        ir_model, qdq_params = _canonicalize(ir_model, opts)
    if opts.pipeline and pipeline_changes_outputs(opts.pipeline):
        reference = ir.serde.serialize_model(ir_model)
    if opts.prune_to_ram is not None and opts.ram_bytes is not None:
        return _fit_ram(ir_model, reference, qdq_params, opts, timer)
    for transform in opts.transforms:
        with timer(getattr(transform, "__name__", "transform")):
            ir_model = transform(ir_model)
        reference = ir.serde.serialize_model(ir_model)
    return _build(ir_model, reference, qdq_params, opts, timer)


def _build(ir_model: ir.Model, reference: onnx.ModelProto, qdq_params: dict | None, opts: Options, timer: _Timer
           ) -> OptimizeResult:
    """Schedule, calibrate, export, verify, then patch (``--patch``/``--ram``): steps 3-6 of the module docstring."""
    with timer("schedule"):
        memory = _schedule(ir_model, opts)
    with timer("calibrate"):
        data = _samples(ir_model, opts, qdq_params)
        activations = _activations(ir_model, opts, qdq_params, data)
    with timer("export"):
        exported = _export(ir_model, opts, activations, memory)
        _check_flash(ir_model, exported.data, opts, memory)
        head = _check_arena(exported.data, memory)
    with timer("verify"):
        verification = _verify(exported, reference, opts, data, memory, head)
    result = exported.data
    patch = None
    if opts.patch is not None or opts.ram_bytes is not None:
        with timer("patch"):
            result, patch = _patch(exported.data, opts)
    report = _report(ir_model, exported.data, opts, memory, data, qdq_params, verification, timer.seconds)
    if patch is not None:
        report["patch"] = patch
        report["arena_head_bytes"], report["predicted_arena_bytes"] = patch["head_after_bytes"], patch["predicted_bytes"]
        report["flash_bytes"] = len(result)
    return OptimizeResult(result, report)


def _fit_ram(model: ir.Model, reference: onnx.ModelProto, qdq_params: dict | None, opts: Options, timer: _Timer
             ) -> OptimizeResult:
    """``--ram`` with ``--prune``: pruning removes only what order, plan and patching could not.

    1. The unpruned model with order + plan + patching (within the MAC cap): when it fits ``ram_bytes``, it is the
       result and nothing is pruned.
    2. Else prune to a layer-by-layer budget relaxed by the ratio patching reached on the unpruned model (its
       layer-by-layer arena / its smallest patched arena), then patch the pruned model to fit ``ram_bytes``.
    3. If it misses, the budget is tightened once (to the ratio patching reached on the pruned model, or by the
       factor it missed by, whichever is lower); if that misses too (or the tightened budget is no longer above
       ``ram_bytes``), prune to ``ram_bytes`` itself, which needs no patching.

    Each pruning starts from the unpruned model. ``report["fit"]`` says what was done.
    """
    from mcugraph.patch.apply import ArenaBudgetError

    ram = opts.ram_bytes
    try:
        result = _build(model, reference, qdq_params, opts, timer)
        result.report["fit"] = {"ram_bytes": ram, "pruned": False, "attempts": [],
                                "reason": f"order, plan and patching fit {ram} B: not pruned"}
        return result
    except ArenaBudgetError as e:
        layer_by_layer, smallest = e.layer_by_layer_bytes, e.smallest_bytes
    attempts: list[dict[str, Any]] = []
    budget = ram * layer_by_layer // smallest  # patching's ratio on the unpruned model
    while True:
        with timer("prune"):
            try:
                pruned = opts.prune_to_ram(model, budget)
            except BudgetError as e:
                raise BudgetError(f"--ram {ram} B: order, plan and patching reach {smallest} B at best; pruning to "
                                  f"{budget} B layer by layer: {e}") from e
        try:
            result = _build(pruned, ir.serde.serialize_model(pruned), qdq_params, opts, timer)
        except ArenaBudgetError as e:
            if budget <= ram:
                raise
            attempts.append({"prune_ram_bytes": budget, "smallest_bytes": e.smallest_bytes})
            # The ratio patching reached on the pruned model itself, or the factor this attempt missed by.
            tightened = min(ram * e.layer_by_layer_bytes // e.smallest_bytes, budget * ram // e.smallest_bytes)
            budget = tightened if len(attempts) == 1 and tightened > ram else ram
            continue
        attempts.append({"prune_ram_bytes": budget, "head_bytes": result.report["arena_head_bytes"]})
        result.report["fit"] = {
            "ram_bytes": ram, "pruned": True, "attempts": attempts,
            "reason": f"unpruned: {layer_by_layer} B layer by layer, {smallest} B at best with patching; pruned for a "
                      "layer-by-layer budget of " + ", then ".join(f"{a['prune_ram_bytes']} B" for a in attempts)
                      + f" ({_patched_or_not(result.report)}): TFLM head "
                      f"{result.report['arena_head_bytes']} B",
        }
        return result


def _patched_or_not(report: dict[str, Any]) -> str:
    patch = report.get("patch") or {}
    return f"then patched in {len(patch['tiles'])} row tiles" if patch.get("applied") else "fits without patching"


def _patch(data: bytes, opts: Options) -> tuple[bytes, dict[str, Any]]:
    """The exported model with its leading stage tiled (``mcugraph.patch``), bit-exact with ``data`` in TFLM."""
    from mcugraph.patch.apply import parse_tiling, patch_tflite, report_dict

    patched, report = patch_tflite(
        data, parse_tiling(opts.patch or "auto"), opts.patch_max_mac_overhead, ram_bytes=opts.ram_bytes,
    )
    return patched, report_dict(report)


def _load(model: Any, opts: Options) -> ir.Model:
    from mcugraph.load import load

    return load(model, input_shapes=opts.input_shapes)


def check_io_dtypes(model: ir.Model) -> None:
    """:class:`ExportError` for a graph input or output that is not float32 (the exported model is int8 or float32
    end to end, so an integer, float16 or double tensor at its edge cannot be what the ONNX model states), for a
    model without inputs and for an empty (zero-size) value."""
    hints = {
        ir.DataType.FLOAT16: "re-export the model in float32 (TFLite Micro's kernels run float32 and int8)",
        ir.DataType.DOUBLE: "re-export the model in float32 (TFLite Micro has no float64 kernels)",
    }
    if not model.graph.inputs:
        raise ExportError("the model has no inputs: its outputs are constants, nothing for TFLite Micro to compute; "
                          "give the model an input")
    for node in model.graph:
        for value in node.outputs:
            if value is not None and value.shape is not None and 0 in tuple(value.shape):
                raise ExportError(
                    f"value '{value.name}' of node '{node.name}' ({node.op_type}) has no elements (shape "
                    f"{tuple(value.shape)}); TFLite Micro cannot allocate an empty tensor: remove what computes it")
    for kind, values in (("input", model.graph.inputs), ("output", model.graph.outputs)):
        for value in values:
            if value.dtype == ir.DataType.FLOAT:
                continue
            uses = list(value.uses()) if kind == "input" else []
            if uses and all(use.idx >= 1 for use in uses):
                use = uses[0]
                raise ExportError(
                    f"graph input '{value.name}' ({value.dtype}) is input {use.idx} of node '{use.node.name}' "
                    f"({use.node.op_type}), a parameter TFLite needs as a constant; make it an initializer")
            hint = hints.get(value.dtype, "integer-typed models are out of scope: mcugraph exports float models (as "
                             f"int8 or float32); make it a float {kind}" + (" or a constant" if kind == "input" else
                                                                           " or drop it"))
            raise ExportError(f"model {kind} '{value.name}' is {value.dtype}; {hint}")


def _canonicalize(model: ir.Model, opts: Options) -> tuple[ir.Model, dict | None]:
    from mcugraph.export.qdq import is_qdq_model, strip_activation_qdq
    from mcugraph.pipeline import run_pipeline

    qdq = is_qdq_model(model)
    if opts.pipeline:
        model = run_pipeline(
            model, opts.pipeline, print_between=opts.print_between_passes, time_passes=opts.time_passes
        ).model
    # After canonicalisation, so the weights' DequantizeLinear nodes are already folded and names are final.
    params = strip_activation_qdq(model) if qdq else None
    return model, params


@dataclasses.dataclass(frozen=True)
class _Memory:
    order: tuple[str, ...] | None
    offsets: dict[str, int] | None
    arena_bytes: int | None
    peak_bytes: int | None
    given_peak_bytes: int | None
    note: str = ""


def _schedule(model: ir.Model, opts: Options) -> _Memory:
    """Memory-optimal kernel order and arena plan; empty when ``mcugraph.memory`` is not part of this build."""
    try:
        from mcugraph.memory.min_peak import plan_min_peak
    except ImportError as e:
        return _Memory(None, None, None, None, None, note=f"no schedule/plan: {e}")
    dtype = "int8" if opts.quantize else "float32"
    planned = plan_min_peak(model, dtype, io_dtype=opts.io_dtype if opts.quantize else "float32", inplace=opts.inplace)
    schedule, plan = planned.schedule, planned.plan
    return _Memory(
        tuple(schedule.order), dict(plan.offsets), plan.arena_bytes, schedule.peak_bytes, schedule.given_peak_bytes
    )


def _samples(model: ir.Model, opts: Options, qdq_params: dict | None):
    """Calibration + hold-out samples; without ``calib``, random verification samples where that is allowed."""
    from mcugraph.export.calib_data import load_calib

    if opts.calib is not None:
        return load_calib(opts.calib, model, warn=opts.warn)
    if opts.quantize and qdq_params is None:
        raise DataError(
            "int8 export needs calibration data: --calib FILE.npz|FILE.npy|digits|random:LO,HI "
            "(or --float32, or a QDQ model that carries its own scales)"
        )
    # load_calib holds out the last fifth: ask for five times the verification samples wanted.
    arrays = _verify_inputs(model, qdq_params, 5 * VERIFY_RANDOM_SAMPLES)
    data = load_calib(arrays, model, warn=lambda _: None)  # only used to verify: no misleading calibration warning
    return dataclasses.replace(data, source="random", representative=False)


def _verify_inputs(model: ir.Model, qdq_params: dict | None, count: int) -> dict[str, np.ndarray]:
    """Random verification inputs, each uniform in its own QDQ input range when it has one, else in [-1, 1].

    Per input: a second input drawn in the first one's range (a vector in [-20, 20] fed values in [0, 1]) fills
    few of its int8 codes and reports a far lower SQNR than the model has on its real inputs.
    """
    from mcugraph.export.calib_data import sample_shape

    rng = np.random.default_rng(0)
    arrays = {}
    for value in model.graph.inputs:
        low, high = qdq_params[value.name].range if qdq_params and value.name in qdq_params else (-1.0, 1.0)
        shape = (count, *sample_shape(tuple(int(d) for d in value.shape)))
        arrays[value.name] = rng.uniform(low, high, size=shape).astype(np.float32)
    return arrays


def _activations(model: ir.Model, opts: Options, qdq_params: dict | None, data) -> dict | None:
    from mcugraph.export.calibrate import calibrate

    if not opts.quantize:
        return None
    if qdq_params is not None:
        return qdq_params
    return calibrate(model, data.calib, opts.calib_method, progress=opts.progress)


def _export(model: ir.Model, opts: Options, activations: dict | None, memory: _Memory):
    from mcugraph.export.writer import export_tflite

    return export_tflite(
        model, activations=activations, order=memory.order, offline_offsets=memory.offsets,
        io_dtype=opts.io_dtype if opts.quantize else "float32", input_layout=opts.input_layout,
        keep_names=opts.keep_names,
    )


def _check_flash(model: ir.Model, data: bytes, opts: Options, memory: _Memory) -> None:
    """:class:`ExportError` unless the file is exactly the flash ``analyze`` and ``prune`` predict for the model.

    The prediction exports the model's structure with placeholder ranges (``mcugraph.analysis.flash``); a file
    whose size depends on the calibrated ranges would make every flash budget wrong, so it is not written.
    """
    from mcugraph.analysis.flash import check_flash_prediction, predicted_flash_bytes

    predicted = predicted_flash_bytes(
        model, quantize=opts.quantize, io_dtype=opts.io_dtype, input_layout=opts.input_layout, order=memory.order,
        plan=memory.offsets is not None, keep_names=opts.keep_names,
    )
    check_flash_prediction(predicted, data)


def _check_arena(data: bytes, memory: _Memory) -> int | None:
    """TFLM's measured arena head; :class:`ExportError` unless it is the predicted arena, byte for byte.

    The offline plan is written blind (TFLM never checks it), so a mismatch means the memory model is wrong about
    this model: a wrong prediction, or worse a plan that overlaps live tensors. Never let it pass silently.
    """
    from mcugraph.tflite.tflm import arena_head

    if memory.arena_bytes is None:
        return None
    head = arena_head(data)
    if head != memory.arena_bytes:
        raise ExportError(
            f"TFLM's arena head for the exported model is {head} B but mcugraph predicted {memory.arena_bytes} B: "
            "this is a bug in mcugraph's memory model (mcugraph.memory); nothing was written; please report it "
            "with the model (retrying with --no-inplace may avoid it)"
        )
    return head


def _verify(exported, reference: onnx.ModelProto, opts: Options, samples, memory: _Memory, head: int | None):
    from mcugraph.export.verify import DEFAULT_MIN_SQNR_DB, check, measure

    if not opts.verify:
        return None
    threshold = opts.min_sqnr_db
    if threshold is None:
        threshold = DEFAULT_MIN_SQNR_DB["int8" if opts.quantize else "float32"]
    result = measure(
        exported.data, reference, samples.holdout, min_sqnr_db=threshold,
        predicted_arena_bytes=memory.arena_bytes, input_perms=exported.input_perms, arena_head_bytes=head,
    )
    check(result)
    return result


def _report(model, data, opts, memory, samples, qdq_params, verification, seconds) -> dict[str, Any]:
    from mcugraph.analysis.report import analyze
    from mcugraph.tflite.tflm import arena_head

    quantized = "int8" if opts.quantize else "float32"
    costs = analyze(model, dtype=quantized, flash=False)
    return {
        "model": model.graph.name or "model",
        "dtype": quantized,
        "io_dtype": opts.io_dtype if opts.quantize else "float32",
        "input_layout": opts.input_layout,
        "flash_bytes": len(data),
        "arena_head_bytes": verification.arena_head_bytes if verification else arena_head(data),
        "predicted_arena_bytes": memory.arena_bytes,
        "peak_bytes": memory.peak_bytes,
        "given_order_peak_bytes": memory.given_peak_bytes,
        "schedule_note": memory.note or None,
        "macs": costs.macs,
        "weight_bytes": costs.weight_bytes,
        "calibration": {
            "source": "QDQ scales" if qdq_params is not None else (samples.source if opts.quantize else None),
            "method": opts.calib_method if opts.quantize and qdq_params is None else None,
            "samples": samples.calib_count if opts.quantize and qdq_params is None else 0,
            "representative": samples.representative,
        },
        "verification": verification.as_dict() if verification else None,
        "seconds": seconds,
    }


class _Timer:
    """Wall-clock seconds per pipeline step, for the report and the summary table."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, step: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[step] = round(self.seconds.get(step, 0.0) + time.perf_counter() - start, 4)  # steps may repeat

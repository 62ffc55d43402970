"""TFLM arena layer by layer vs patch-based (the first stage in row tiles), per model, measured in TFLM.

Run: ``python benchmarks/patch.py [--max-mac-overhead 0.3] [--no-onnx] [--sizes 96 128] [--json FILE]``. One row per model:

- ``no PAD in place``: the layer-by-layer arena with the in-place PAD rule switched off (what mcugraph planned
  before it; for the exporter's explicit PADs this is where the copy set the peak);
- ``layer by layer``: TFLM's measured head of the scheduled, planned, unpatched model (``mcugraph schedule``/
  ``opt``) and its lower bound (peak live bytes of its order: no plan of layer-by-layer execution is smaller);
- ``patched``: TFLM's measured head of ``--patch auto``, which equals the prediction byte for byte and is bit-exact
  with the layer-by-layer model on random inputs (``patch_tflite`` refuses anything else);
- the ratio, the extra MACs of halo recomputation, how many stages run in tiles (one, or a stage then another
  starting at its cut) and how many tiles in all, the time ``patch_tflite`` took to search and plan, and the
  invoke time ratio patched / layer by layer in the TFLM Python interpreter on this machine (reference kernels;
  wall times are inflated when other jobs share the CPU). The notes name each stage and its bands.

Models: the MLPerf Tiny VWW and IC int8 .tflite (TF converter) and their ONNX (exported by ``mcugraph opt``, random
calibration: the numbers are about memory, not accuracy), the zoo's MobileNetV2-style network with expansion
6 at each ``--sizes`` resolution, and a 1-D model: the keyword-spotting Conv1d net of ``mcugraph.zoo_coverage``
(``kws_cnn1d``, loaded from the torch module by ``mcugraph.load``). ``--only NAME`` runs the rows whose name
contains NAME. ``--json FILE`` keeps the rows and the commit measured; ``benchmarks/results_pages.py`` renders a
kept file into its docs/results page with :func:`format_table`, the table this prints.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "models" / "mlperf-tiny"


def _exported(source) -> bytes:
    from mcugraph.optimize import optimize

    return optimize(source, calib="random:0,1,16", warn=lambda message: None).tflite


def _mobilenet_v2(size: int) -> bytes:
    import torch

    from mcugraph import zoo

    torch.manual_seed(0)
    module = zoo.MobileNetV2Style(expand=6).eval()
    return _exported(zoo.export(module, torch.rand(1, 3, size, size), keep_batchnorm=False))


def _kws_cnn1d() -> bytes:
    from mcugraph import load, zoo_coverage

    module, examples = zoo_coverage.build("kws_cnn1d")
    return _exported(load(module, example_inputs=examples))


def _not_tileable(data: bytes) -> str | None:
    """Why no stage of ``data`` can run in row tiles (``None`` when one can): the refusal for the first operator
    and the heights of the convolution outputs (a Conv1d runs as a 2-D convolution with H=1: one band)."""
    from mcugraph.errors import MCUGraphError
    from mcugraph.memory.tflite_graph import read_model
    from mcugraph.patch.geometry import shape
    from mcugraph.patch.stage import candidate_stages, stage_for
    from mcugraph.tflite import schema as tfl

    model = read_model(data, "model")
    if candidate_stages(model):
        return None
    operators = model.subgraphs[0].operators
    try:
        stage_for(model, int(operators[0].outputs[0]))
        first = "the first operator starts a stage"
    except MCUGraphError as e:
        first = str(e)
    convs = (tfl.schema.BuiltinOperator.CONV_2D, tfl.schema.BuiltinOperator.DEPTHWISE_CONV_2D)
    heights = sorted({int(shape(model, int(op.outputs[0]))[1]) for op in operators
                      if model.operatorCodes[op.opcodeIndex].builtinCode in convs})
    return f"not tileable: {first}; convolution outputs have H in {heights} (row bands need H > 1)"


def _without_pad_in_place(data: bytes) -> int:
    """The layer-by-layer arena mcugraph plans for ``data``'s order with the in-place PAD rule switched off."""
    from mcugraph.memory import peak
    from mcugraph.memory.planner import plan_arena
    from mcugraph.memory.tflite_graph import kernel_graph_from_tflite

    original = peak.inplace_pads
    peak.inplace_pads = lambda graph, order=None: {}
    try:
        return plan_arena(kernel_graph_from_tflite(data)).arena_bytes
    finally:
        peak.inplace_pads = original


def _invoke_seconds(data: bytes, samples) -> float:
    from mcugraph.tflite.tflm import run_tflm_batch

    start = time.perf_counter()
    run_tflm_batch(data, samples)
    return time.perf_counter() - start


def _row(name: str, layer_by_layer: bytes, cap: float, lower_bound: int) -> dict:
    from mcugraph.patch.apply import patch_tflite
    from mcugraph.tflite import schema as tfl
    from mcugraph.tflite.schedule import random_inputs

    patched, report = patch_tflite(layer_by_layer, "auto", cap, source=name)
    samples = [random_inputs(tfl.read(layer_by_layer), seed) for seed in range(10)]
    ratio = _invoke_seconds(patched, samples) / _invoke_seconds(layer_by_layer, samples)
    return {
        "model": name,
        "no_pad_in_place": _without_pad_in_place(layer_by_layer),
        "layer_by_layer": report.head_before_bytes,
        "lower_bound": lower_bound,
        "patched": report.head_after_bytes,
        "predicted": report.predicted_bytes,
        "ratio": report.head_before_bytes / report.head_after_bytes,
        "extra_macs": report.mac_overhead,
        "tiles": len(report.bands),
        "stages": report.reason.count("stage of"),
        "search_s": report.seconds,
        "time_ratio": ratio,
        "bit_exact": report.applied or "not patched",
        "note": report.reason if report.applied else (_not_tileable(layer_by_layer) or report.reason),
    }


def _from_tflite(name: str, path: Path, cap: float) -> dict:
    from mcugraph.tflite.schedule import schedule_tflite

    scheduled, report = schedule_tflite(path.read_bytes(), source=name)
    return _row(name, scheduled, cap, report.lower_bound_bytes)


def _from_onnx(name: str, data: bytes, cap: float) -> dict:
    from mcugraph.memory.peak import peak_memory
    from mcugraph.memory.tflite_graph import kernel_graph_from_tflite

    return _row(name, data, cap, peak_memory(kernel_graph_from_tflite(data)).peak_bytes)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-mac-overhead", type=float, default=0.3)
    parser.add_argument("--sizes", type=int, nargs="*", default=[96, 128])
    parser.add_argument("--no-onnx", action="store_true", help="skip the MLPerf Tiny ONNX exports")
    parser.add_argument("--only", metavar="NAME", help="run only the rows whose model name contains NAME")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also keep the rows as JSON (for docs/results)")
    args = parser.parse_args(argv)
    rows = []
    jobs = []
    if SHARED.exists():
        for model in ("vww_mobilenetv1", "ic_resnet8"):
            jobs.append((f"{model}.int8.tflite", lambda m=model: _from_tflite(
                f"{m}.int8.tflite", SHARED / f"{m}.int8.tflite", args.max_mac_overhead)))
            if not args.no_onnx:
                jobs.append((f"{model}.onnx", lambda m=model: _from_onnx(
                    f"{m}.onnx", _exported(str(SHARED / f"{m}.onnx")), args.max_mac_overhead)))
    else:
        print(f"({SHARED} absent: MLPerf Tiny rows skipped)", file=sys.stderr)
    for size in args.sizes:
        jobs.append((f"mobilenetv2-e6@{size}", lambda s=size: _from_onnx(
            f"mobilenetv2-e6@{s}", _mobilenet_v2(s), args.max_mac_overhead)))
    jobs.append(("kws_cnn1d", lambda: _from_onnx("kws_cnn1d", _kws_cnn1d(), args.max_mac_overhead)))
    for name, job in [(n, j) for n, j in jobs if not args.only or args.only in n]:
        with contextlib.redirect_stderr(io.StringIO()):
            try:
                rows.append(job())
            except Exception as e:  # a row that fails is reported, the others still run
                rows.append({"model": name, "note": f"failed: {e}"})
        print(f"done {name}", file=sys.stderr)
    print(format_table(rows))
    if args.json:
        from memory import measured_commit

        payload = {"args": {k: str(v) for k, v in vars(args).items() if k != "json"}, "commit": measured_commit(),
                   "rows": rows}
        args.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return 0


def format_table(rows) -> str:
    """The fixed-width table this benchmark prints, one line per row (``-`` where a row has no value)."""
    columns = [("model", "model", "{}"), ("no PAD in place B", "no_pad_in_place", "{:,}"),
               ("layer by layer B", "layer_by_layer", "{:,}"), ("lower bound B", "lower_bound", "{:,}"),
               ("patched B", "patched", "{:,}"), ("predicted B", "predicted", "{:,}"), ("lbl/patched", "ratio", "{:.2f}x"),
               ("extra MACs", "extra_macs", "{:+.1%}"), ("stages", "stages", "{}"), ("tiles", "tiles", "{}"),
               ("search s", "search_s", "{:.0f}"), ("invoke time", "time_ratio", "{:.2f}x"),
               ("bit-exact", "bit_exact", "{}")]
    cells = [[fmt.format(row[key]) if key in row else "-" for _, key, fmt in columns] for row in rows]
    header = [title for title, _, _ in columns]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.rjust(w) for v, w in zip(c, widths, strict=True)) for c in cells]
    lines += [f"{row['model']}: {row['note']}" for row in rows if row.get("note")]
    return "\n".join(lines)


if __name__ == "__main__":
    np.set_printoptions(linewidth=200)
    sys.exit(main())

"""Export benchmark: ``mcugraph opt`` against the TensorFlow converter's reference int8 files (and onnx2tf if present).

Run: ``python benchmarks/export.py [--no-zoo] [--repeat N] [--json FILE]``. One row per model (the four MLPerf Tiny ONNX files from
``../shared`` and the zoo models):

- ``opt s``: wall time of ``mcugraph.optimize`` in this process (load, canonicalise, schedule, plan, calibrate,
  export, verify), best of ``--repeat``; imports are paid once before timing.
- ``onnx2tf s``: the same ONNX through onnx2tf (float32 SavedModel/.tflite), only when onnx2tf is importable; it is
  not installed in the project environment, so the column is usually left out.
- ``head ours / ref``: TFLM's measured arena head of our int8 file and of the reference ``*.int8.tflite``.
- ``SQNR ours / ref``: TFLM output vs onnxruntime float output of the ONNX model, dB, on the same held-out samples
  (random in the model's documented input range; calibration used the other samples of that range).
- ``flash ours / ref``: .tflite bytes.

Calibration is ``random:LO,HI`` in the range of the reference int8 input quantisation, so SQNR compares both
converters on equal, non-representative data; no MLPerf dataset is available here.

``--json FILE`` keeps the rows and the commit measured; ``benchmarks/results_pages.py`` renders a kept file into its
docs/results page with :func:`format_report`, the same text this prints.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "models" / "mlperf-tiny"
# Input ranges from the reference *.int8.tflite input quantisation: scale * (q - zero_point), q in [-128, 127].
MLPERF_RANGES = {
    "kws_dscnn": "-123,26",
    "vww_mobilenetv1": "0,1",
    "ic_resnet8": "0,255",
    "ad_autoencoder": "-85,15",
}
ZOO_RANGE = "0,1"
SAMPLES = 40  # 32 calibrate, 8 verify


def _models(zoo: bool):
    for name, lo_hi in MLPERF_RANGES.items():
        path = SHARED / f"{name}.onnx"
        if path.exists():
            reference = SHARED / f"{name}.int8.tflite"
            yield name, str(path), lo_hi, reference.read_bytes() if reference.exists() else None
    if zoo:
        from mcugraph import zoo as zoo_models

        for name in zoo_models.MODELS:
            if name != "digits_cnn":
                yield name, zoo_models.onnx_model(name), ZOO_RANGE, None


def _onnx2tf_seconds(source) -> float | None:
    if importlib.util.find_spec("onnx2tf") is None or not isinstance(source, str):
        return None
    import tempfile

    import onnx2tf

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        onnx2tf.convert(input_onnx_file_path=source, output_folder_path=tmp, non_verbose=True)
        return time.perf_counter() - start


def _row(name: str, source, lo_hi: str, reference: bytes | None, repeat: int) -> dict:
    import onnx_ir as ir

    import mcugraph
    from mcugraph.export.calib_data import load_calib
    from mcugraph.export.verify import measure

    calib = f"random:{lo_hi},{SAMPLES}"
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = mcugraph.optimize(source, calib=calib, progress=False, warn=lambda _: None)
        seconds.append(time.perf_counter() - start)
    row = {
        "model": name,
        "opt_s": min(seconds),
        "onnx2tf_s": _onnx2tf_seconds(source),
        "head": result.report["arena_head_bytes"],
        "sqnr": result.report["verification"]["sqnr_db"],
        "flash": result.report["flash_bytes"],
        "ref_head": None, "ref_sqnr": None, "ref_flash": None,
    }
    if reference is not None:
        model = mcugraph.load(source)
        holdout = load_calib(calib, model, warn=lambda _: None).holdout  # the very samples ours was verified on
        ref = measure(reference, ir.serde.serialize_model(model), holdout, min_sqnr_db=0.0)
        row.update(ref_head=ref.arena_head_bytes, ref_sqnr=ref.sqnr_db, ref_flash=len(reference))
    return row


def _cell(value, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-zoo", action="store_true", help="only the MLPerf Tiny models")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per model (best is reported)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also keep the rows as JSON (for docs/results)")
    args = parser.parse_args()

    import mcugraph  # noqa: F401  (imports paid before timing)
    from mcugraph import zoo  # noqa: F401

    rows = [_row(*model, args.repeat) for model in _models(not args.no_zoo)]
    print(format_report(rows))
    if args.json:
        from memory import measured_commit

        payload = {"args": {k: str(v) for k, v in vars(args).items() if k != "json"}, "commit": measured_commit(),
                   "rows": rows}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")


def format_report(rows: list[dict]) -> str:
    """The table this benchmark prints (the onnx2tf column only when some row has it)."""
    with_onnx2tf = any(r["onnx2tf_s"] is not None for r in rows)
    header = f"{'model':<18} {'opt s':>7}" + (f" {'onnx2tf s':>9}" if with_onnx2tf else "")
    header += f" {'head ours':>10} {'head ref':>9} {'SQNR ours':>9} {'SQNR ref':>9} {'flash ours':>10} {'flash ref':>10}"
    lines = [header, "-" * len(header)]
    for r in rows:
        line = f"{r['model']:<18} {r['opt_s']:>7.2f}"
        if with_onnx2tf:
            line += f" {_cell(r['onnx2tf_s'], '.2f'):>9}"
        line += (
            f" {r['head']:>10,} {_cell(r['ref_head'], ','):>9} {r['sqnr']:>9.1f} {_cell(r['ref_sqnr'], '.1f'):>9}"
            f" {r['flash']:>10,} {_cell(r['ref_flash'], ','):>10}"
        )
        lines.append(line)
    if not with_onnx2tf:
        lines.append("(onnx2tf is not installed: its column is left out)")
    return "\n".join(lines)


if __name__ == "__main__":
    main()

"""Flash benchmark: the bytes of mcugraph's .tflite beside the TF converter's file for the same model.

Run: ``python benchmarks/flash.py [--json FILE] [--page FILE]``; ``--from FILE`` renders a kept JSON instead of
measuring (``python benchmarks/flash.py --from benchmarks/results/flash.json --page docs/results/flash.md`` writes
the results page; ``tests/test_flash_page.py`` checks the committed page against the committed JSON).

One row per model: the four MLPerf Tiny models of ``../shared/models/mlperf-tiny`` (our file: ``mcugraph opt`` of
the ``.onnx`` with ``--calib random:LO,HI`` in the reference's input range; the converter's: the ``.int8.tflite``
published beside it) and the digits CNN of ``mcugraph.zoo`` (no converter file: TensorFlow is not installed here).
For every file (``mcugraph.analysis.flash.file_breakdown``):

- ``file``: its bytes, what the model occupies in flash; ``weights``: the data of its constant tensors;
  ``overhead``: the rest — quantisation arrays, tensor/operator tables, names, metadata, padding;
- ``names``: ``opt --keep-names``'s file (tensor names written, as the converter does) — its overhead;
- ``predicted``: ``mcugraph analyze``'s ``flash_bytes`` of the ONNX model; ``= file`` says it is our file's length.

The second table splits the overhead: quantisation arrays (payload of scale/zero-point vectors), names (strings and
their terminators), metadata buffers (the offline plan; the converter's version strings), other (tables, shapes,
operator lists, vector lengths, alignment).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "models" / "mlperf-tiny"
# Input ranges of the reference *.int8.tflite input quantisation, as benchmarks/export.py calibrates.
MLPERF_RANGES = {"kws_dscnn": "-123,26", "vww_mobilenetv1": "0,1", "ic_resnet8": "0,255", "ad_autoencoder": "-85,15"}


def _sources():
    for name, lo_hi in MLPERF_RANGES.items():
        path = SHARED / f"{name}.onnx"
        if path.exists():
            reference = SHARED / f"{name}.int8.tflite"
            yield name, str(path), f"random:{lo_hi}", reference.read_bytes() if reference.exists() else None
    from mcugraph import zoo

    yield "digits_cnn (zoo)", zoo.onnx_model("digits_cnn"), "digits", None


def measure() -> list[dict]:
    import mcugraph
    from mcugraph.analysis.flash import file_breakdown

    rows = []
    for name, source, calib, reference in _sources():
        quiet = {"calib": calib, "progress": False, "warn": lambda message: None}
        ours = mcugraph.optimize(source, **quiet).tflite
        named = mcugraph.optimize(source, keep_names=True, verify=False, **quiet).tflite
        canonical = mcugraph.run_pipeline(mcugraph.load(source), mcugraph.CANONICALIZE).model
        rows.append({
            "model": name,
            "ours": file_breakdown(ours),
            "keep_names": file_breakdown(named),
            "converter": file_breakdown(reference) if reference is not None else None,
            "predicted_bytes": mcugraph.analyze(canonical).flash_bytes,
        })
    return rows


def _n(value) -> str:
    return "–" if value is None else f"{value:,}"


def format_table(rows: list[dict]) -> str:
    """Both tables, from the rows of :func:`measure` (or a kept JSON)."""
    lines = [
        "| model | file ours | weights ours | overhead ours | overhead with names | file converter | "
        "weights converter | overhead converter | predicted = file |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        ours, named, ref = r["ours"], r["keep_names"], r["converter"] or {}
        same = "yes" if r["predicted_bytes"] == ours["file_bytes"] else f"no ({r['predicted_bytes']:,})"
        lines.append(
            f"| {r['model']} | {ours['file_bytes']:,} | {ours['weight_bytes']:,} | **{ours['overhead_bytes']:,}** | "
            f"{named['overhead_bytes']:,} | {_n(ref.get('file_bytes'))} | {_n(ref.get('weight_bytes'))} | "
            f"{_n(ref.get('overhead_bytes'))} | {same} |"
        )
    lines += [
        "",
        "| model | file | overhead | quantisation arrays | names | metadata | other |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        for label, part in (("ours", r["ours"]), ("converter", r["converter"])):
            if part is None:
                continue
            lines.append(
                f"| {r['model']} | {label} | {part['overhead_bytes']:,} | {part['quantization_bytes']:,} | "
                f"{part['name_bytes']:,} | {part['metadata_bytes']:,} | {part['other_bytes']:,} |"
            )
    return "\n".join(lines)


def results_page(data: dict) -> str:
    """docs/results/flash.md from a kept JSON (``--json``): the command, the commit, both tables."""
    return "\n".join([
        "# Flash: mcugraph's .tflite beside the TF converter's",
        "",
        f"`python benchmarks/flash.py --json benchmarks/results/flash.json` at commit {data['commit']} (this page: "
        "`python benchmarks/flash.py --from benchmarks/results/flash.json --page docs/results/flash.md`). Bytes. "
        "*Flash* is what the model occupies in flash, the .tflite file; *weights* the data of its constant tensors; "
        "*overhead* the rest. Our file leaves out tensor names (`opt --keep-names` writes them: *overhead with "
        "names*), writes no unused buffers and one zero-point array per layer for its weights and bias. The "
        "converter's files are the MLPerf Tiny references (`../shared/models/mlperf-tiny/*.int8.tflite`); ours come "
        "from the `.onnx` beside them with `--calib random:LO,HI` in the reference's input range. *predicted = file*: "
        "`mcugraph analyze`'s `flash_bytes` of the ONNX model is our file's length.",
        "",
        format_table(data["rows"]),
        "",
        "Quantisation arrays are the payload of the scale and zero-point vectors (each vector once); names the "
        "strings with their terminating zeros; metadata the metadata buffers (our offline arena plan; the "
        "converter's `min_runtime_version` and conversion metadata); other the tables, shapes, operator lists, "
        "vector lengths and alignment padding. The code of TFLM and its kernels is not in the file and not counted.",
        "",
        "Where ours is larger (the AD autoencoder): mcugraph quantises fully connected weights per output channel, "
        "so each of its output channels carries a float32 scale for the weights and one for the bias and an int64 "
        "zero point (shared by both); the reference quantises them per tensor. Per-channel zero points are always "
        "0 and TFLM reads one, but LiteRT, which verifies every export, needs as many as there are scales.",
        "",
    ])


def _commit() -> str:
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    return result.stdout.strip() or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--json", help="write the rows and the commit measured to this file")
    parser.add_argument("--from", dest="source", help="render this kept JSON instead of measuring")
    parser.add_argument("--page", help="write the results page (docs/results/flash.md) to this file")
    args = parser.parse_args(argv)
    if args.source:
        data = json.loads(Path(args.source).read_text())
    else:
        if not SHARED.exists():
            print(f"note: {SHARED} is absent: only the zoo model is measured", file=sys.stderr)
        data = {"commit": _commit(), "rows": measure()}
    print(format_table(data["rows"]))
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n")
    if args.page:
        Path(args.page).write_text(results_page(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

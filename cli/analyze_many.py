"""``mcugraph analyze A.onnx B.tflite DIR/``: several models (a folder: its .onnx and .tflite files) in one table.

Each model is analysed exactly as ``mcugraph analyze MODEL`` with the same options would; the table has one row per
model (``mcugraph.analysis.compare``), ``--json`` gives the list of their reports. Options that write one file per
model or belong to one (``--plot``, ``--plan-json``, ``--plan-header``, ``--html``, ``--groups``, ``--bench``) are
refused: run those one model at a time.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from mcugraph.errors import ModelLoadError, PipelineError

SUFFIXES = (".onnx", ".tflite")
PER_MODEL = ("plot", "plan_json", "plan_header", "groups", "html", "bench")


def expand_models(paths: list[str]) -> list[str]:
    """The model files ``paths`` names: files as given, a folder's .onnx/.tflite files sorted by name (not recursive)."""
    models = []
    for path in paths:
        folder = Path(path)
        if not folder.is_dir():
            models.append(path)
            continue
        found = sorted(str(p) for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
        if not found:
            raise ModelLoadError(f"{path}: the folder holds no .onnx or .tflite file; name the models or another folder")
        models += found
    return models


def is_many(paths: list[str]) -> bool:
    return len(paths) > 1 or any(Path(p).is_dir() for p in paths)


def run_many(args: argparse.Namespace, report_for: Callable[[argparse.Namespace], object]) -> int:
    """Analyse every model ``args.model`` names with ``report_for`` (one model's Report) and print one table."""
    from mcugraph.analysis.compare import format_comparison

    given = [f"--{name.replace('_', '-')}" for name in PER_MODEL if getattr(args, name, None)]
    if given:
        raise PipelineError(f"{given[0]} is for one model: analyse one model at a time with it "
                            f"(several models give one comparison table, and --json a list)")
    paths = expand_models(args.model)
    reports = [report_for(argparse.Namespace(**{**vars(args), "model": path})) for path in paths]
    listing = json.dumps([report.to_json() for report in reports], indent=2)
    if args.json == "-":
        print(listing)
        return 0
    print(format_comparison(reports, [Path(p).name for p in paths]))
    if args.json:
        from mcugraph.atomic import atomic_write_text

        atomic_write_text(args.json, listing + "\n")
    return 0

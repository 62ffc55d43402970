"""Arguments shared by several subcommands: model loading, input shapes, pipelines and their debugging aids."""

from __future__ import annotations

import argparse

import onnx_ir as ir

from mcugraph.errors import ShapeError


def parse_input_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """``"input=1x3x96x96"`` -> ``("input", (1, 3, 96, 96))``."""
    name, eq, dims = text.rpartition("=")
    try:
        if not eq or not name:
            raise ValueError
        shape = tuple(int(d) for d in dims.lower().split("x"))
        if any(d <= 0 for d in shape):
            raise ValueError
    except ValueError:
        raise ShapeError(
            f"--input-shape {text!r}: expected NAME=DxDx..., positive integers, e.g. input=1x3x96x96"
        ) from None
    return name, shape


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input-shape", action="append", default=[], metavar="NAME=1xCxHxW",
        help="fix the shape of a model input (repeatable); a symbolic batch becomes 1 without it",
    )


def add_pipeline_arguments(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument("--pipeline", default=default, help=f"comma-separated passes (default: {default})")
    parser.add_argument("--print-between-passes", action="store_true", help="print the IR after every pass")
    parser.add_argument("--time-passes", action="store_true", help="print the time each pass took")


def load_model(args: argparse.Namespace, path: str | None = None) -> ir.Model:
    """Load the model named by ``args.model`` (or ``path``) with the ``--input-shape`` overrides."""
    from mcugraph.load import load

    shapes = dict(parse_input_shape(s) for s in getattr(args, "input_shape", []))
    return load(path or args.model, input_shapes=shapes)


def run_pipeline_from_args(model: ir.Model, args: argparse.Namespace) -> ir.Model:
    from mcugraph.pipeline import run_pipeline

    if not args.pipeline:
        return model
    return run_pipeline(
        model, args.pipeline, print_between=args.print_between_passes, time_passes=args.time_passes
    ).model

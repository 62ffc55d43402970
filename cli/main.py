"""Entry point of the ``mcugraph`` command (also ``python -m mcugraph``).

Each subcommand lives in its own module of this package with two functions: ``add_parser(subparsers)`` and
``run(args) -> int``. A :class:`~mcugraph.errors.MCUGraphError` becomes one line on stderr and exit code 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from mcugraph.errors import MCUGraphError

COMMANDS = ("demo", "analyze", "schedule", "opt", "prune", "firmware", "bench", "report", "passes", "ops")


# Every path option a command writes, and every path option it reads (an output may never replace an input).
OUTPUT_OPTIONS = ("output", "json", "plot", "plan_json", "plan_header", "html")
INPUT_OPTIONS = ("model", "calib", "data", "val", "prune_report", "bench")

EXIT_CODES = """exit status:
  0    success
  2    bad input or a failed check (unreadable model, unsupported op, bad option or data, unmet budget, failed
       verification): one line on stderr saying what, where and what to do, and no output file
  130  interrupted (Ctrl-C); no half-written output file
  141  stdout closed before the output was printed (e.g. piped into head), as for other shell tools
  1    anything else is a bug in mcugraph: it keeps its traceback, please report it
"""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``mcugraph opt: error: ...; see --help``), like every other error."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


def check_output_paths(args: argparse.Namespace) -> None:
    """Refuse unwritable outputs and outputs that are an input before any work starts (mcugraph.atomic)."""
    from mcugraph.atomic import check_output_path

    inputs = []
    for name in INPUT_OPTIONS:
        value = getattr(args, name, None)
        inputs += value if isinstance(value, list) else [value]  # analyze takes several models
    for name in OUTPUT_OPTIONS:
        value = getattr(args, name, None)
        if isinstance(value, str) and value != "-":
            check_output_path(value, [i for i in inputs if isinstance(i, str)])


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="mcugraph",
        description="Fit neural networks on microcontrollers: analyse, prune, schedule and export int8 TFLite.",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = _command_module(name)
        if module is not None:
            module.add_parser(sub)
    return parser


def _command_module(name: str):
    try:
        return importlib.import_module(f"mcugraph.cli.{name}")
    except ModuleNotFoundError as e:
        if e.name == f"mcugraph.cli.{name}":
            return None  # that command is not part of this build
        raise


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mcugraph")
    except PackageNotFoundError:
        return "unknown"




def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_output_paths(args)
        return int(args.func(args) or 0)
    except MCUGraphError as e:
        message = " ".join(str(e).split("\n"))
        print(f"mcugraph {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mcugraph: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # stdout closed early (`| head`): stop quietly, as a shell tool killed by SIGPIPE
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit-time flush cannot fail again
        return 141


if __name__ == "__main__":
    sys.exit(main())

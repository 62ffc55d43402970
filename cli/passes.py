"""``mcugraph passes``: list the registered passes and their options."""

from __future__ import annotations

import argparse
import dataclasses


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("passes", help="list the passes a pipeline string may name")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mcugraph.registry import known_passes

    for name, cls in known_passes().items():
        doc = (cls.__doc__ or "").strip().splitlines()
        options = ", ".join(f"{f.name}={f.default!r}" for f in dataclasses.fields(cls) if f.init)
        print(f"{name:<28} {doc[0] if doc else ''}" + (f"  [{options}]" if options else ""))
    return 0

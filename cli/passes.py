"""``mcugraph passes``: list the registered passes and their options (``--json``: the same as a JSON list)."""

from __future__ import annotations

import argparse
import dataclasses
import json


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("passes", help="list the passes a pipeline string may name")
    parser.add_argument(
        "--json", nargs="?", const="-", default=None, metavar="FILE",
        help="write the list as JSON (name, summary, options with their defaults) to FILE (stdout, without the "
             "table, when FILE is omitted or -)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mcugraph.registry import known_passes

    rows = []
    for name, cls in known_passes().items():
        doc = (cls.__doc__ or "").strip().splitlines()
        options = {f.name: f.default for f in dataclasses.fields(cls) if f.init}
        rows.append({"name": name, "summary": doc[0] if doc else "", "options": options})
    listing = json.dumps(rows, indent=2, default=repr)
    if args.json == "-":
        print(listing)
        return 0
    for row in rows:
        options = ", ".join(f"{k}={v!r}" for k, v in row["options"].items())
        print(f"{row['name']:<28} {row['summary']}" + (f"  [{options}]" if options else ""))
    if args.json:
        from mcugraph.atomic import atomic_write_text

        atomic_write_text(args.json, listing + "\n")
    return 0

"""``mcugraph ops``: the operator table (what is exported, as which TFLite builtins, with which limits).

The same generator writes the table in docs/ops.md (``--markdown``); ``--reasons`` prints each refusal key of the
limits column with the error line it stands for.
"""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("ops", help="print the operator table: what is exported, how, with which limits")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--markdown", action="store_true", help="print it as the Markdown table of docs/ops.md")
    what.add_argument("--reasons", action="store_true",
                      help="print each refusal key of the limits column and the error line it stands for")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mcugraph.ops import listing

    if args.reasons:
        print(listing.reasons(), end="")
    elif args.markdown:
        print(listing.markdown(), end="")
    else:
        print(listing.text(), end="")
    return 0

"""`quantai kb`: the knowledge base."""

from __future__ import annotations

import argparse

from quantai_tui.commands.base import Context, not_built

HELP = "manage the AI's knowledge base: add, search, list, remove documents"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="kb_command", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="add a file (md, txt, html, pdf, py), a directory or a URL")
    add.add_argument("source", nargs="+")
    s = sub.add_parser("search", help="search the knowledge base")
    s.add_argument("query")
    s.add_argument("-k", type=int, default=5)
    sub.add_parser("list", help="list documents")
    rm = sub.add_parser("remove", help="remove a document by id or source")
    rm.add_argument("document")


def run(args: argparse.Namespace, ctx: Context) -> int:
    return not_built(f"kb {args.kb_command}", 7)

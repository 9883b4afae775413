"""`quantai record`: market data to Parquet."""

from __future__ import annotations

import argparse

from quantai_tui.commands.base import Context, add_venue_arguments, not_built

HELP = "record market data (trades, book, quotes, bars) to Parquet"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_venue_arguments(p, multi_symbol=True)
    p.add_argument("--kinds", default="trades,book,quotes,bars", help="comma-separated: trades,book,quotes,bars")
    p.add_argument("--duration", help="stop after this long, e.g. 10s, 1h (default: until Ctrl-C)")
    p.add_argument("--out", help="output directory (default: <data dir>/recordings)")


def run(args: argparse.Namespace, ctx: Context) -> int:
    return not_built("record", 3)

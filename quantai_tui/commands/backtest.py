"""`quantai backtest`: replay data through a strategy and the full engine."""

from __future__ import annotations

import argparse

from quantai_tui.commands.base import Context, not_built

HELP = "backtest a strategy on recorded, imported or downloaded data"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--strategy", required=True, help="built-in name, module in strategies/, or path/to/file.py[:Class]")
    p.add_argument("--data", action="append", metavar="FILE", help="Parquet file (repeatable; merged in time order)")
    p.add_argument("--symbol", help="with --timeframe/--start/--end: find the data in the local catalog")
    p.add_argument("--exchange", help="catalog query: venue of the data")
    p.add_argument("--timeframe", help="catalog query: bar timeframe, e.g. 1m")
    p.add_argument("--start", help="catalog query: start date/time (UTC)")
    p.add_argument("--end", help="catalog query: end date/time (UTC)")
    p.add_argument("--initial-capital", help="starting cash (default 10000)")
    p.add_argument("--param", action="append", default=[], metavar="K=V", help="strategy parameter (repeatable)")
    p.add_argument("--fee-bps", help="fee in basis points (default: the venue's taker fee, else 10)")
    p.add_argument("--slippage-bps", help="slippage on market fills in basis points")
    p.add_argument("--speed", help="replay at recorded timing times this factor (default: as fast as possible)")
    p.add_argument("--json", action="store_true", help="print one JSON object with the results")
    p.add_argument("--trades-out", metavar="CSV", help="write one row per fill")
    p.add_argument("--report", metavar="HTML", help="write a self-contained HTML report")
    p.add_argument("--seed", type=int, help="random seed (fill model, strategies)")


def run(args: argparse.Namespace, ctx: Context) -> int:
    return not_built("backtest", 5)

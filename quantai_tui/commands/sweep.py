"""`quantai sweep`: a parameter grid in a process pool."""

from __future__ import annotations

import argparse

from quantai_tui.commands.base import Context, not_built

HELP = "run a strategy over a parameter grid and rank the results"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--strategy", required=True, help="built-in name, module in strategies/, or path/to/file.py[:Class]")
    p.add_argument("--data", action="append", metavar="FILE", help="Parquet file (repeatable)")
    p.add_argument("--symbol", help="catalog query instead of --data")
    p.add_argument("--exchange", help="catalog query: venue of the data")
    p.add_argument("--timeframe", help="catalog query: bar timeframe")
    p.add_argument("--start", help="catalog query: start")
    p.add_argument("--end", help="catalog query: end")
    p.add_argument("--grid", action="append", default=[], metavar="K=A:B:STEP", help="parameter range (repeatable)")
    p.add_argument("--param", action="append", default=[], metavar="K=V", help="fixed parameter (repeatable)")
    p.add_argument("--jobs", type=int, help="worker processes (default: CPU count)")
    p.add_argument("--sort", default="sharpe", help="metric to rank by (default sharpe)")
    p.add_argument("--initial-capital", help="starting cash")
    p.add_argument("--fee-bps", help="fee in basis points")
    p.add_argument("--columnar", choices=["auto", "on", "off"], default="auto", help="use the vectorised fast path")
    p.add_argument("--json", action="store_true", help="print the results as JSON")


def run(args: argparse.Namespace, ctx: Context) -> int:
    return not_built("sweep", 5)

"""`quantai data`: import, download and list market data."""

from __future__ import annotations

import argparse

from quantai_tui.commands.base import Context, not_built

HELP = "import Binance CSV dumps, download bars, list the local catalog"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    imp = sub.add_parser("import", help="import a Binance public data dump (CSV, zipped or plain)")
    imp.add_argument("file")
    imp.add_argument("--format", required=True, choices=["binance-trades", "binance-aggtrades", "binance-klines"])
    imp.add_argument("--symbol", required=True)
    imp.add_argument("--exchange", default="binance")
    imp.add_argument("--timeframe", help="bar timeframe of a klines file (default: from the file name, else 1m)")
    imp.add_argument("--out", help="output Parquet file (default: into the catalog)")
    dl = sub.add_parser("download", help="download OHLCV bars through ccxt (paginated, resumable)")
    dl.add_argument("--exchange", required=True)
    dl.add_argument("--symbol", required=True)
    dl.add_argument("--timeframe", default="1m")
    dl.add_argument("--start", required=True)
    dl.add_argument("--end", required=True)
    dl.add_argument("--rest-url", help="REST base URL override")
    dl.add_argument("--testnet", action="store_true", default=None)
    ls = sub.add_parser("list", help="list the local catalog")
    ls.add_argument("--symbol")
    ls.add_argument("--exchange")
    ls.add_argument("--kind")


def run(args: argparse.Namespace, ctx: Context) -> int:
    return not_built(f"data {args.data_command}", 3)

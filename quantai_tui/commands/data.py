"""`quantai data`: import, download and list market data."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from quantai_tui.commands.base import Context

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
    dl.add_argument("--start", required=True, help="first bar's open time, e.g. 2024-01-01 (UTC)")
    dl.add_argument("--end", required=True, help="end (exclusive), e.g. 2024-11-13 (UTC)")
    dl.add_argument("--rest-url", help="REST base URL override")
    dl.add_argument("--testnet", action="store_true", default=None)
    dl.add_argument("--limit", type=int, default=1000, help="bars per request (the venue may send fewer)")
    ls = sub.add_parser("list", help="list the local catalog")
    ls.add_argument("--symbol")
    ls.add_argument("--exchange")
    ls.add_argument("--kind", choices=["trades", "quotes", "bars", "book", "book_snapshots"])


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.data_command == "import":
        return _import(args, ctx)
    if args.data_command == "download":
        import asyncio

        return asyncio.run(_download(args, ctx))
    return _list(args, ctx)


def _import(args: argparse.Namespace, ctx: Context) -> int:
    from pathlib import Path

    from quantai_tui.core.symbols import file_token, normalize_symbol
    from quantai_tui.data.binance_csv import import_binance_csv
    from quantai_tui.data.progress import Progress

    path = Path(args.file).expanduser()
    symbol = normalize_symbol(args.symbol)
    exchange = args.exchange.lower()
    size = path.stat().st_size if path.is_file() else 0
    bar = Progress(f"importing {path.name}", total=size, enabled=size > 8 << 20)
    result = import_binance_csv(
        path, args.format, symbol, exchange=exchange, timeframe=args.timeframe,
        out=Path(args.out).expanduser() if args.out else None,
        out_dir=ctx.paths.catalog_dir / exchange / file_token(symbol),
        progress=lambda done, total, rows: bar.update(done, f"{rows:,} rows"),
    )
    bar.done(f"{result.rows:,} rows")
    print(f"imported {result.rows:,} rows, {_when(result.ts_min)} to {_when(result.ts_max)} UTC", file=sys.stderr)
    print(result.path)
    return 0


async def _download(args: argparse.Namespace, ctx: Context) -> int:
    from quantai_tui.connectors.market_cache import load_markets_cached, new_exchange
    from quantai_tui.core.errors import DataError, VenueError
    from quantai_tui.core.symbols import file_token, parse_symbol
    from quantai_tui.data.catalog import Catalog, to_ns
    from quantai_tui.data.download import download_ohlcv
    from quantai_tui.data.progress import Progress

    exchange = args.exchange.lower()
    info = parse_symbol(args.symbol)
    symbol = info.unified
    start, end = to_ns(args.start), to_ns(args.end)
    assert start is not None and end is not None
    ex_settings = ctx.settings.exchange(exchange)
    rest_url = args.rest_url or ex_settings.rest_url
    testnet = bool(args.testnet if args.testnet is not None else ex_settings.testnet)
    import ccxt.async_support as ccxt_async

    if exchange not in ccxt_async.exchanges:
        raise DataError(f"unknown exchange {exchange!r} (ccxt ids such as binance, okx, bybit, kraken)")
    options: dict[str, Any] | None = None
    cache = ctx.paths.markets_cache_dir / f"{exchange}.json"
    if exchange == "binance":  # one exchangeInfo call, not three (FACTS.md)
        kind = "spot" if info.settle is None else ("inverse" if info.is_inverse else "linear")
        options = {"fetchMarkets": {"types": [kind]}}
        cache = ctx.paths.markets_cache_dir / f"{exchange}-{kind}.json"
    try:
        markets = await load_markets_cached(exchange, cache, ctx.settings.data.markets_max_age_h * 3600,
                                            rest_url=rest_url, testnet=testnet, options=options)
    except VenueError as exc:
        raise DataError(str(exc).splitlines()[0][:240]) from None
    if symbol not in markets:
        raise DataError(f"{exchange} has no market {symbol}")
    ex = new_exchange(exchange, rest_url=rest_url, testnet=testnet, options=options, markets=markets)
    out_dir = ctx.paths.catalog_dir / exchange / file_token(symbol)
    bar = Progress(f"downloading {exchange} {symbol} {args.timeframe}", every_s=5.0)
    try:
        result = await download_ohlcv(
            ex, venue=exchange, symbol=symbol, timeframe=args.timeframe, start_ns=start, end_ns=end,
            out_dir=out_dir, catalog=Catalog(ctx.paths), limit=args.limit,
            progress=lambda done, total: _dl_progress(bar, done, total),
        )
    finally:
        await ex.close()
    bar.done(f"{result.bars:,} bars")
    print(f"downloaded {result.bars:,} bars in {result.requests} requests"
          + (f"; {result.already:,} were already in the catalog" if result.already else ""), file=sys.stderr)
    for f in result.files:
        print(f)
    return 0


def _dl_progress(bar: Any, done: int, total: int) -> None:
    bar.total = total
    bar.update(done, f"{done:,}/{total:,} bars")


def _list(args: argparse.Namespace, ctx: Context) -> int:
    from quantai_tui.data.catalog import Catalog

    cat = Catalog(ctx.paths)
    entries = cat.find(symbol=args.symbol, kind=args.kind, exchange=args.exchange)
    for err in cat.errors:
        print(f"quantai data list: skipped {err}", file=sys.stderr)
    if not entries:
        print("no market data yet: `quantai record`, `quantai data import` or `quantai data download` add some",
              file=sys.stderr)
        return 0
    rows = [("EXCHANGE", "SYMBOL", "KIND", "FROM (UTC)", "TO (UTC)", "ROWS", "SIZE", "PATH")]
    for e in entries:
        kind = f"bars {e.timeframe}" if e.kind == "bars" else e.kind
        rows.append((e.exchange, e.symbol, kind, _when(e.open_start_ns), _when(e.open_end_ns), f"{e.rows:,}",
                     _size(e.bytes), str(e.path)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join(c.ljust(w) if i not in (5, 6) else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
              + "  " + r[-1])
    return 0


def _when(ns: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"

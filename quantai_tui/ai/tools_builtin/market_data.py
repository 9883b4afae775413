"""load_crypto_binance_data: bars from the local catalog, downloading what is missing through ccxt."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from quantai_tui.ai.context import ToolContext
from quantai_tui.ai.tools import tool
from quantai_tui.core.errors import DataError, SymbolError, ToolError, VenueError

Timeframe = Literal["1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w"]
MAX_DOWNLOAD_BARS = 600_000  # ~14 months of 1m bars; more belongs to `quantai data download`
VENUE = "binance"


@tool
async def load_crypto_binance_data(sdate: str, edate: str, instrument: str, ctx: ToolContext,
                                   timeframe: Timeframe = "1m") -> dict[str, Any]:
    """Make Binance OHLCV bars available locally and summarise them. The local catalog is used
    first; only missing bars are downloaded (through ccxt, which needs the internet).

    Args:
        sdate: first day, ISO date such as 2025-03-01 (UTC)
        edate: end, exclusive, ISO date such as 2025-03-10 (UTC)
        instrument: ccxt unified symbol, e.g. BTC/USDT (spot) or BTC/USDT:USDT (perpetual)
        timeframe: bar length
    """
    from quantai_tui.ai.tools_builtin._common import model_symbol
    from quantai_tui.data.catalog import to_ns
    from quantai_tui.data.download import missing_ranges
    from quantai_tui.data.schema import timeframe_ns

    try:
        symbol = model_symbol(instrument)
        lo, hi = to_ns(sdate), to_ns(edate)
    except (DataError, SymbolError) as e:
        raise ToolError(str(e)) from None
    if lo is None or hi is None or hi <= lo:
        raise ToolError("edate must be after sdate")
    tf = timeframe_ns(timeframe)
    lo -= lo % tf
    catalog = ctx.catalog
    covered = await asyncio.to_thread(catalog.bar_coverage, VENUE, symbol, timeframe, lo, hi)
    gaps = missing_ranges(covered, lo, hi, tf)
    missing = sum((b - a + tf - 1) // tf for a, b in gaps)
    source = "local catalog"
    note = ""
    if missing:
        if missing > MAX_DOWNLOAD_BARS:
            raise ToolError(f"{missing:,} bars are missing, more than a tool call downloads ({MAX_DOWNLOAD_BARS:,}); "
                            f"run `quantai data download --exchange binance --symbol {symbol} --timeframe {timeframe} "
                            f"--start {sdate} --end {edate}` instead")
        have = sum((min(b, hi - tf) - max(a, lo)) // tf + 1 for a, b in covered if min(b, hi - tf) >= max(a, lo))
        try:
            fetched = await _download(ctx, symbol, timeframe, lo, hi)
        except (DataError, VenueError, OSError, ImportError) as e:
            detail = " ".join(str(e).split())[:240]
            local = f"the local catalog has {have:,} of the bars" if have else "the local catalog has none of them"
            raise ToolError(f"could not download {symbol} {timeframe} bars from binance ({detail}); are we offline? "
                            f"{local}. Import data with `quantai data import` or download it when online.") from None
        source = "downloaded" if not covered else "local catalog + download"
        note = f"downloaded {fetched:,} bars"
    summary = await asyncio.to_thread(_summarise, ctx, symbol, timeframe, lo, hi)
    if not summary.get("bars"):
        raise ToolError(f"no {timeframe} bars for {symbol} between {sdate} and {edate} (binance has none there)")
    summary.update(source=source, exchange=VENUE, symbol=symbol, timeframe=timeframe, start=sdate, end=edate)
    if note:
        summary["note"] = note
    summary["use_with"] = {"run_backtest": {"instrument": symbol, "start": sdate, "end": edate,
                                            "timeframe": timeframe, "exchange": VENUE}}
    return summary


async def _download(ctx: ToolContext, symbol: str, timeframe: str, lo: int, hi: int) -> int:
    from quantai_tui.connectors.market_cache import load_markets_cached, new_exchange
    from quantai_tui.core.symbols import file_token, parse_symbol
    from quantai_tui.data.download import download_ohlcv

    if ctx.paths is None:
        raise DataError("no data directory to download into")
    info = parse_symbol(symbol)
    kind = "spot" if info.settle is None else ("inverse" if info.is_inverse else "linear")
    options = {"fetchMarkets": {"types": [kind]}}
    ex_settings = ctx.settings.exchange(VENUE)
    cache = ctx.paths.markets_cache_dir / f"{VENUE}-{kind}.json"
    markets = await load_markets_cached(VENUE, cache, ctx.settings.data.markets_max_age_h * 3600,
                                        rest_url=ex_settings.rest_url, testnet=ex_settings.testnet, options=options)
    if symbol not in markets:
        raise DataError(f"binance has no market {symbol}")
    ex = new_exchange(VENUE, rest_url=ex_settings.rest_url, testnet=ex_settings.testnet, options=options,
                      markets=markets)
    try:
        result = await download_ohlcv(ex, venue=VENUE, symbol=symbol, timeframe=timeframe, start_ns=lo, end_ns=hi,
                                      out_dir=ctx.paths.catalog_dir / VENUE / file_token(symbol), catalog=ctx.catalog)
    finally:
        await ex.close()
    return result.bars


def _summarise(ctx: ToolContext, symbol: str, timeframe: str, lo: int, hi: int) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.compute as pc

    from quantai_tui.core.clock import ns_to_datetime

    entries = ctx.catalog.find(symbol=symbol, kind="bars", timeframe=timeframe, start=lo, end=hi, exchange=VENUE)
    batches = [b for b in ctx.catalog.scan(entries, start=lo, end=hi,
                                           columns=["ts_event", "open", "high", "low", "close", "volume"])
               if b.num_rows]
    if not batches:
        return {"bars": 0}
    t = pa.Table.from_batches(batches).sort_by("ts_event")
    first_open, last_close = t["open"][0].as_py(), t["close"][-1].as_py()

    def iso(ns: int) -> str:
        return ns_to_datetime(ns).isoformat().replace("+00:00", "Z")

    return {
        "bars": t.num_rows,
        "first_bar_close": iso(t["ts_event"][0].as_py()),
        "last_bar_close": iso(t["ts_event"][-1].as_py()),
        "open": first_open, "close": last_close,
        "high": pc.max(t["high"]).as_py(), "low": pc.min(t["low"]).as_py(),
        "return_pct": round((last_close / first_open - 1) * 100, 4) if first_open else None,
        "volume": round(pc.sum(t["volume"]).as_py() or 0.0, 6),
        "files": [str(e.path) for e in entries[:5]] + ([f"... {len(entries) - 5} more"] if len(entries) > 5 else []),
    }

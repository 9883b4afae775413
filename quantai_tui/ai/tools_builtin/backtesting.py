"""run_backtest: a real backtest through backtest/api.py, on local data, in a worker thread."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from quantai_tui.ai.context import ToolContext
from quantai_tui.ai.tools import tool
from quantai_tui.core.errors import DataError, QuantAIError, SymbolError, ToolError

_METRIC_KEYS = ("return_pct", "cagr_pct", "sharpe", "sortino", "max_drawdown_pct", "win_rate", "profit_factor",
                "exposure_pct", "trades", "orders", "fills", "final_equity", "fees")


@tool
async def run_backtest(
    strategy: str,
    ctx: ToolContext,
    instrument: str | None = None,
    start: str | None = None,
    end: str | None = None,
    params: dict[str, Any] | None = None,
    initial_capital: float | None = None,
    timeframe: str | None = None,
    exchange: str | None = None,
    data: str | None = None,
) -> dict[str, Any]:
    """Run a backtest of a strategy on local market data and return its metrics (return,
    Sharpe, Sortino, max drawdown, win rate, profit factor, exposure, trades). The result gets
    an id that analyze_strategy_performance accepts.

    Args:
        strategy: strategy name from list_strategies, e.g. ma_crossover
        instrument: ccxt unified symbol whose data is taken from the local catalog, e.g. BTC/USDT
        start: first day, ISO date such as 2025-03-01 (UTC)
        end: end, exclusive, ISO date such as 2025-03-10 (UTC)
        params: strategy parameters, e.g. {"fast": 10, "slow": 30}
        initial_capital: starting cash in the quote currency (default from config, 10000)
        timeframe: bar timeframe to use, e.g. 1m (default: the finest bars in the catalog)
        exchange: venue whose data to use, e.g. binance (default: any)
        data: a data file (Parquet or CSV) instead of the catalog
    """
    if not data and not instrument:
        raise ToolError("give an instrument (data from the local catalog) or a data file")
    data_input, label = await asyncio.to_thread(_resolve_data, ctx, instrument, start, end, timeframe, exchange, data)
    bt = ctx.settings.backtest
    capital = initial_capital if initial_capital is not None else bt.initial_capital
    if float(capital) <= 0:
        raise ToolError("initial_capital must be positive")
    from quantai_tui.backtest.api import run_backtest as run

    dirs = [ctx.paths.data_dir / "strategies"] if ctx.paths is not None else None
    kwargs: dict[str, Any] = dict(initial_capital=str(capital), fee_bps=bt.fee_bps, slippage_bps=bt.slippage_bps,
                                  strategy_dirs=dirs)
    if data:
        kwargs.update(symbol=instrument, timeframe=timeframe, venue=exchange, start=start, end=end)
    try:
        result = await asyncio.to_thread(run, strategy, data_input, params or {}, **kwargs)
    except QuantAIError as e:
        raise ToolError(f"backtest failed: {e}") from None
    rid = ctx.keep_result(result)
    return summarise(result, rid, label)


def _resolve_data(ctx: ToolContext, instrument: str | None, start: str | None, end: str | None,
                  timeframe: str | None, exchange: str | None, data: str | None) -> tuple[Any, str]:
    """A file path, or a Recording of the catalog files that cover the window (the catalog of
    this profile: the same files `quantai backtest --symbol` finds)."""
    if data:
        path = Path(data).expanduser()
        if not path.exists():
            raise ToolError(f"no such data file: {path}")
        return str(path), str(path)
    from quantai_tui.backtest.api import recording_from_files
    from quantai_tui.ai.tools_builtin._common import model_symbol

    try:
        symbol = model_symbol(instrument or "")
        entries = ctx.catalog.find(symbol=symbol, start=start, end=end, exchange=exchange)
    except (DataError, SymbolError) as e:
        raise ToolError(str(e)) from None
    span = f" from {start or 'the start'} to {end or 'the end'}"
    bars = [e for e in entries if e.kind == "bars"]
    if timeframe:
        chosen = [e for e in bars if e.timeframe == timeframe]
    elif bars:
        from quantai_tui.data.schema import timeframe_ns

        finest = min({e.timeframe or "" for e in bars}, key=lambda tf: timeframe_ns(tf) if tf else 0)
        chosen = [e for e in bars if e.timeframe == finest]
    else:
        chosen = [e for e in entries if e.kind == "trades"]
    if not chosen:
        what = f"{timeframe} bars" if timeframe else "bars or trades"
        raise ToolError(f"no {what} for {symbol}{span} in the local catalog; call load_crypto_binance_data "
                        "to download them, or import data with `quantai data import`")
    venues = {e.exchange for e in chosen}
    if len(venues) > 1:
        raise ToolError(f"{symbol} data from several venues ({', '.join(sorted(venues))}): pass exchange")
    kind = f"{chosen[0].timeframe} bars" if chosen[0].kind == "bars" else chosen[0].kind
    label = f"{chosen[0].exchange} {symbol} {kind}{span}"
    return recording_from_files([e.path for e in chosen], start, end), label


def summarise(result: Any, rid: str, data_label: str = "") -> dict[str, Any]:
    """What the model needs of a BacktestResult: metrics and context, a few trades, no curves."""
    d = result.to_dict()
    metrics = {k: d.get(k) for k in _METRIC_KEYS}
    for k, v in list(metrics.items()):
        if isinstance(v, float):
            metrics[k] = round(v, 4)
    fills = [{"time": _iso(f.ts), "side": f.side, "qty": str(f.qty), "price": str(f.price)} for f in result.fills]
    out: dict[str, Any] = {
        "backtest_id": rid,
        "strategy": d["strategy"], "params": d["params"], "symbols": d["symbols"], "venue": d["venue"],
        "timeframe": d["timeframe"], "start": d["start"], "end": d["end"], "data": data_label,
        "initial_capital": d["initial_capital"], "metrics": metrics, "events": d["ticks"],
        "first_fills": fills[:5], "last_fills": fills[-5:] if len(fills) > 5 else [],
    }
    return out


def _iso(ns: int) -> str:
    from quantai_tui.core.clock import ns_to_datetime

    return ns_to_datetime(ns).isoformat().replace("+00:00", "Z")

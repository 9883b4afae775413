"""analyze_strategy_performance: metrics plus plain-language diagnostics of a backtest."""

from __future__ import annotations

import asyncio
from typing import Any

from quantai_tui.ai.context import ToolContext
from quantai_tui.ai.tools import tool
from quantai_tui.ai.tools_builtin.backtesting import run_backtest, summarise
from quantai_tui.core.errors import ToolError


@tool
async def analyze_strategy_performance(
    ctx: ToolContext,
    backtest_id: str | None = None,
    strategy: str | None = None,
    instrument: str | None = None,
    start: str | None = None,
    end: str | None = None,
    params: dict[str, Any] | None = None,
    timeframe: str | None = None,
    exchange: str | None = None,
) -> dict[str, Any]:
    """Diagnose a backtest: its metrics plus signs of overfitting, the worst drawdown periods,
    trade clustering, fee drag, stability across the two halves of the period, and suggestions.
    Pass the backtest_id that run_backtest returned, or the same arguments as run_backtest to
    run one first.

    Args:
        backtest_id: id from an earlier run_backtest in this conversation, e.g. bt1
        strategy: strategy name (when no backtest_id)
        instrument: ccxt unified symbol (when no backtest_id)
        start: first day, ISO date (when no backtest_id)
        end: end, exclusive, ISO date (when no backtest_id)
        params: strategy parameters (when no backtest_id)
        timeframe: bar timeframe (when no backtest_id)
        exchange: venue of the data (when no backtest_id)
    """
    if backtest_id:
        rid = backtest_id
        result = ctx.result(backtest_id)
    else:
        if not strategy or not instrument:
            raise ToolError("give backtest_id, or strategy and instrument to run a backtest first")
        summary = await run_backtest(strategy, ctx, instrument=instrument, start=start, end=end, params=params,
                                     timeframe=timeframe, exchange=exchange)
        rid = summary["backtest_id"]
        result = ctx.result(rid)
    from quantai_tui.ai.diagnostics import diagnose

    report = await asyncio.to_thread(diagnose, result)
    head = summarise(result, rid)
    return {"backtest_id": rid, "strategy": head["strategy"], "params": head["params"], "symbols": head["symbols"],
            "start": head["start"], "end": head["end"], "metrics": head["metrics"], **report}

"""Backtesting: replay recorded or imported market data through the same strategy code, order
flow and accounting that paper and live trading use. Heavy imports (pyarrow) happen on use.

    from quantai_tui.backtest import run_backtest
    result = run_backtest("ma_crossover", "data.parquet", {"fast": 10, "slow": 30})
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quantai_tui.backtest.api import CatalogQuery, Recording, run_backtest
    from quantai_tui.backtest.engine import BacktestResult
    from quantai_tui.backtest.sweep import SweepResult, run_sweep

__all__ = ["BacktestResult", "CatalogQuery", "Recording", "SweepResult", "run_backtest", "run_sweep"]

_WHERE = {
    "run_backtest": "api", "CatalogQuery": "api", "Recording": "api", "BacktestResult": "engine",
    "run_sweep": "sweep", "SweepResult": "sweep",
}


def __getattr__(name: str) -> Any:
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(f"quantai_tui.backtest.{mod}"), name)

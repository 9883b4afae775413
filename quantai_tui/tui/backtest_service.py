"""What the backtest and replay screens ask of the backtest library, as plain data.

No textual import. `run` is blocking and CPU-bound: the screen calls it from a worker thread.
Named data sources (e.g. the seeded sim market) are given by the CLI face, which may import
connectors; the TUI itself never does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

DataProvider = Callable[[], Any]  # -> a file path, a Recording, or anything run_backtest takes
Progress = Callable[[float], None]  # fraction done, 0..1 (or -1 when the total is unknown)

_METRICS = (
    ("return_pct", "Return", "{:+.2f}%"),
    ("cagr_pct", "CAGR", "{:+.2f}%"),
    ("sharpe", "Sharpe", "{:.2f}"),
    ("sortino", "Sortino", "{:.2f}"),
    ("max_drawdown_pct", "Max drawdown", "{:.2f}%"),
    ("win_rate", "Win rate", "{:.1f}%"),
    ("profit_factor", "Profit factor", "{:.2f}"),
    ("exposure_pct", "Exposure", "{:.1f}%"),
    ("trades", "Round trips", "{}"),
)


@dataclass(frozen=True)
class BacktestRequest:
    strategy: str
    data: str  # a named source or a file path
    params: dict[str, str] = field(default_factory=dict)
    initial_capital: Decimal = Decimal("10000")


@dataclass(frozen=True)
class BacktestSummary:
    title: str
    metrics: list[tuple[str, str]]
    equity: list[float]
    trades: list[tuple[str, str, str, str, str, str]]  # time, symbol, side, qty, price, fee
    final_equity: str = ""


def parse_params(text: str) -> dict[str, str]:
    """'fast=10 slow=50' (commas also separate) -> {'fast': '10', 'slow': '50'}."""
    out: dict[str, str] = {}
    for tok in text.replace(",", " ").split():
        k, sep, v = tok.partition("=")
        if not sep or not k or not v:
            raise ValueError(f"parameter {tok!r} must be key=value")
        out[k] = v
    return out


def _fmt(value: Any, pattern: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return pattern.format(value)


def summarize(result: Any, limit_trades: int = 500) -> BacktestSummary:
    """A BacktestResult as rows for the screen."""
    m = result.metrics
    rows = [(label, _fmt(m.get(key), pat)) for key, label, pat in _METRICS]
    rows += [
        ("Final equity", f"{float(result.final_equity):,.2f}"),
        ("Fees", f"{float(result.fees):,.2f}"),
        ("Orders / fills", f"{result.orders} / {len(result.fills)}"),
        ("Events", f"{result.ticks:,}"),
    ]
    trades = []
    for f in result.fills[-limit_trades:]:
        t = datetime.fromtimestamp(f.ts / 1e9, tz=UTC).strftime("%m-%d %H:%M:%S")
        trades.append((t, f.symbol, f.side, f"{f.qty}", f"{f.price}", f"{f.fee:.4f}"))
    params = " ".join(f"{k}={v}" for k, v in result.params.items())
    symbols = ", ".join(result.symbols[:3]) + (" …" if len(result.symbols) > 3 else "")
    title = f"{result.strategy} {params} · {symbols} {result.timeframe}".strip()
    return BacktestSummary(title, rows, [e for _, e in result.equity_curve], trades,
                           f"{float(result.final_equity):,.2f}")


class BacktestService:
    def __init__(self, data_sources: Mapping[str, DataProvider] | None = None,
                 data_dirs: list[Path] | None = None, strategy_dirs: list[Path] | None = None) -> None:
        self.data_sources = dict(data_sources or {})
        self.data_dirs = data_dirs or []
        self.strategy_dirs = strategy_dirs

    def strategies(self) -> list[str]:
        from quantai_tui.engine.strategy_loader import list_strategies

        return sorted(list_strategies(self.strategy_dirs))

    def data_choices(self) -> list[str]:
        files: list[str] = []
        for d in self.data_dirs:
            if d.is_dir():
                files += sorted(str(p) for p in d.rglob("*.parquet"))
        return [*self.data_sources, *files]

    def resolve(self, data: str) -> Any:
        provider = self.data_sources.get(data)
        return provider() if provider is not None else data

    def run(self, req: BacktestRequest, progress: Progress | None = None) -> BacktestSummary:
        from quantai_tui.backtest import run_backtest

        def report(done: int, total: int | None) -> None:
            if progress is not None:
                progress(done / total if total else -1.0)

        result = run_backtest(req.strategy, self.resolve(req.data), req.params,
                              initial_capital=req.initial_capital, progress=report,
                              strategy_dirs=self.strategy_dirs)
        if progress is not None:
            progress(1.0)
        return summarize(result)

"""Parameter sweeps: every combination of a grid, in a local process pool, ranked by a metric.

    result = run_sweep("ma_crossover", "btc-1m.parquet", {"fast": [5, 10, 20], "slow": [50, 100]},
                       jobs=2, sort="sharpe", progress=lambda done, total: ...)
    result.rows[0]  # {"fast": 10, "slow": 50, "sharpe": ..., "return_pct": ..., ...}

Each worker process loads the data once and runs its share of the grid. Strategies that declare
a columnar kernel (and single-file trade or bar data) take the vectorised path (columnar.py);
everything else runs the event-driven replay. Combinations the strategy rejects (fast >= slow)
are skipped and counted. Workers start with forkserver, so a sweep is safe to start from a
program that runs threads (the TUI).
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from quantai_tui.core.errors import StrategyError

METRIC_KEYS = ("return_pct", "cagr_pct", "sharpe", "sortino", "max_drawdown_pct", "win_rate", "profit_factor",
               "exposure_pct")
LOWER_IS_BETTER = {"max_drawdown_pct"}


@dataclass
class SweepResult:
    rows: list[dict[str, Any]]  # params + metrics + orders/fills/final_equity, best first
    sort: str
    skipped: list[tuple[dict[str, Any], str]] = field(default_factory=list)  # (params, reason)
    elapsed_s: float = 0.0
    columnar: bool = False
    jobs: int = 1


def expand_grid(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


def run_sweep(
    strategy: str,
    data: Any,
    grid: Mapping[str, Sequence[Any]],
    fixed: Mapping[str, Any] | None = None,
    *,
    jobs: int | None = None,
    columnar: str = "auto",
    sort: str = "sharpe",
    progress: Callable[[int, int], None] | None = None,
    strategy_dirs: list[Path] | None = None,
    **backtest_kwargs: Any,
) -> SweepResult:
    """Run `strategy` (a name or path: workers load it themselves) for every grid point.

    columnar: "auto" (the fast path when the strategy has one), "on" (required) or "off".
    backtest_kwargs: as run_backtest (initial_capital, fee_bps, slippage_bps, symbol, ...).
    """
    from quantai_tui.backtest.api import resolve_data, resolve_strategy
    from quantai_tui.backtest.columnar import supports
    from quantai_tui.engine.strategy import resolve_params

    t0 = time.perf_counter()
    if sort not in METRIC_KEYS and sort not in ("final_equity", "orders", "fills"):
        raise StrategyError(f"--sort {sort!r}: one of {', '.join(METRIC_KEYS)}, final_equity")
    cls = type(resolve_strategy(strategy, fixed, strategy_dirs))
    points, skipped = [], []
    for p in expand_grid(grid):
        combined = {**(fixed or {}), **p}
        try:
            resolve_params(cls, combined)
        except StrategyError as exc:
            skipped.append((p, str(exc)))
            continue
        points.append(combined)
    sources = resolve_data(data, symbol=backtest_kwargs.get("symbol"), timeframe=backtest_kwargs.get("timeframe"),
                           venue=backtest_kwargs.get("venue"))
    use_columnar = columnar != "off" and isinstance(sources, list) and supports(cls, sources)
    if columnar == "on" and not use_columnar:
        raise StrategyError(f"{cls.strategy_name()}: no columnar path for this strategy or data")
    job = _Job(strategy, data, dict(backtest_kwargs), use_columnar, strategy_dirs)
    n_jobs = max(1, min(jobs or os.cpu_count() or 1, len(points) or 1))
    rows: list[dict[str, Any]] = []
    if n_jobs == 1:
        for i, p in enumerate(points):
            rows.append(job(p))
            if progress:
                progress(i + 1, len(points))
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        ctx = mp.get_context("forkserver")
        with ProcessPoolExecutor(max_workers=n_jobs, mp_context=ctx) as pool:
            futures = {pool.submit(job, p): i for i, p in enumerate(points)}
            by_index: dict[int, dict[str, Any]] = {}
            for done, fut in enumerate(as_completed(futures), 1):
                by_index[futures[fut]] = fut.result()
                if progress:
                    progress(done, len(points))
            rows = [by_index[i] for i in range(len(points))]
    rows.sort(key=lambda r: _sort_key(r, sort))
    return SweepResult(rows, sort, skipped, time.perf_counter() - t0, use_columnar, n_jobs)


def _sort_key(row: Mapping[str, Any], sort: str) -> tuple[int, float]:
    v = row.get(sort)
    if v is None:
        return (1, 0.0)
    return (0, float(v) if sort in LOWER_IS_BETTER else -float(v))


@dataclass
class _Job:
    """One grid point, picklable: workers rebuild everything from names and paths."""

    strategy: str
    data: Any
    kwargs: dict[str, Any]
    columnar: bool
    strategy_dirs: list[Path] | None

    def __call__(self, params: dict[str, Any]) -> dict[str, Any]:
        from quantai_tui.backtest.api import run_backtest

        if self.columnar:
            res = _columnar(self, params)
        else:
            res = run_backtest(self.strategy, self.data, params, strategy_dirs=self.strategy_dirs, **self.kwargs)
        row: dict[str, Any] = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in params.items()}
        for k in METRIC_KEYS:
            row[k] = res.metrics.get(k)
        row.update(final_equity=float(res.final_equity), orders=res.orders, fills=len(res.fills), trades=res.metrics.get("trades"),
                   ticks=res.ticks, elapsed_s=res.elapsed_s)
        return row


_SOURCES: dict[str, Any] = {}


def _columnar(job: _Job, params: dict[str, Any]) -> Any:
    from quantai_tui.backtest.api import DEFAULT_FEE_BPS, infer_instrument, resolve_data, resolve_strategy
    from quantai_tui.backtest.columnar import run_columnar
    from quantai_tui.backtest.sources import VENUE_TAKER_BPS
    from quantai_tui.core.values import to_decimal

    key = repr((job.data, job.kwargs.get("symbol"), job.kwargs.get("timeframe")))
    cached = _SOURCES.get(key)
    if cached is None:  # once per worker process
        src = resolve_data(job.data, symbol=job.kwargs.get("symbol"), timeframe=job.kwargs.get("timeframe"),
                           venue=job.kwargs.get("venue"))[0]  # type: ignore[index]
        cached = _SOURCES[key] = (src, infer_instrument(src))
    src, inst = cached
    kw = job.kwargs
    fee = kw.get("fee_bps")
    return run_columnar(
        resolve_strategy(job.strategy, params, job.strategy_dirs), src, inst,
        initial_capital=to_decimal(kw.get("initial_capital", Decimal(10_000))),
        fee_bps=to_decimal(fee) if fee is not None else Decimal(VENUE_TAKER_BPS.get(src.venue, DEFAULT_FEE_BPS)),
        slippage_bps=to_decimal(kw.get("slippage_bps", 0)), check_balance=kw.get("check_balance", True),
    )

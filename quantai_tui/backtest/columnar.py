"""The columnar fast path for vectorisable strategies (parameter sweeps).

Signals are computed over whole numpy columns; Python runs only where an order happens, and
there it goes through the same account and venue code as the event-driven replay (same order
ids, same fill prices and fees, same ledger), so the fills are identical by construction as
long as the vectorised signal equals the strategy's streaming one. For the SMA crossover that
holds bit for bit: the streaming SMA is a difference of prefix sums, exactly numpy's cumsum.

A strategy opts in with a class attribute `columnar = "<kernel name>"` naming one of
`KERNELS` below; the kernel must implement the strategy's documented rules exactly (the test
suite compares both paths on sampled grid points). Whole columns are loaded once per process
(8 bytes per tick and column) and shared by every parameter set of a sweep.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from quantai_tui.backtest.engine import BacktestEngine, BacktestResult
from quantai_tui.backtest.sources import DataSource, np_view
from quantai_tui.core.enums import AggressorSide
from quantai_tui.core.events import Bar, TradeTick
from quantai_tui.core.instruments import Instrument
from quantai_tui.engine.strategy import Strategy, drive_sync


@dataclass
class Columns:
    """One source as numpy columns. For bars, `price` is the close, `fill` the open and `ts`
    the close time; for trades both are the trade price."""

    source: DataSource
    ts: np.ndarray
    price: np.ndarray
    fill: np.ndarray
    extra: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.ts)


_CACHE: dict[tuple[str, str, str], Columns] = {}


def load_columns(src: DataSource) -> Columns:
    key = (str(src.path), src.symbol, src.kind)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    parts: dict[str, list[np.ndarray]] = {}
    import pyarrow as pa
    import pyarrow.compute as pc

    from quantai_tui.backtest.sources import _record_batches, _to_ns

    for rb in _record_batches(src.path, src.headerless):
        for role, col in src.columns.items():
            if role in ("side", "trade_id"):
                continue
            arr = rb.column(col)
            if role == "ts":
                parts.setdefault(role, []).append(np.asarray(_to_ns(arr), dtype=np.int64))
            else:
                if not pa.types.is_floating(arr.type):
                    arr = pc.cast(arr, pa.float64())
                parts.setdefault(role, []).append(np_view(arr, "float64").copy())
    cols = {k: np.concatenate(v) if v else np.empty(0) for k, v in parts.items()}
    if src.kind == "bars":
        out = Columns(src, cols["ts"] + src.timeframe_ns, cols["close"], cols["open"], cols)
    elif src.kind == "trades":
        out = Columns(src, cols["ts"], cols["price"], cols["price"], cols)
    else:
        raise ValueError(f"no columnar path for {src.kind}")
    _CACHE[key] = out
    return out


# --- kernels: parameters + columns -> crossing events -------------------------------------------------
def sma(x: np.ndarray, n: int) -> np.ndarray:
    """SMA with the streaming indicator's exact float operations (nan before the n-th value)."""
    c = np.cumsum(x)
    out = np.full(len(x), np.nan)
    if len(x) >= n:
        out[n - 1:] = (c[n - 1:] - np.concatenate(([0.0], c[:-n]))) / n
    return out


def sma_cross_events(price: np.ndarray, fast: int, slow: int, eps: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """Indices where the sign of fast - slow goes from <= 0 to > 0 (up) and >= 0 to < 0 (down),
    the first known sign (index slow - 1) excluded, exactly as strategies/ma_crossover.py."""
    f, s = sma(price, fast), sma(price, slow)
    d = f - s
    e = eps * s
    sign = np.where(d > e, 1, np.where(d < -e, -1, 0)).astype(np.int8)
    start = slow  # sign[slow - 1] is the first known; crosses need a previous sign
    if len(price) <= start:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    cur, prev = sign[start:], sign[start - 1:-1]
    up = np.flatnonzero((cur > 0) & (prev <= 0)) + start
    down = np.flatnonzero((cur < 0) & (prev >= 0)) + start
    return up, down


def _sma_cross(params: Mapping[str, Any], cols: Columns) -> list[tuple[int, str]]:
    up, down = sma_cross_events(cols.price, int(params["fast"]), int(params["slow"]))
    ev = [(int(i), "up") for i in up] + [(int(i), "down") for i in down]
    ev.sort()
    return ev


KERNELS: dict[str, Callable[[Mapping[str, Any], Columns], list[tuple[int, str]]]] = {"sma_cross": _sma_cross}


def supports(cls: type[Strategy], sources: list[DataSource]) -> bool:
    name = getattr(cls, "columnar", None)
    return bool(name in KERNELS and len(sources) == 1 and sources[0].kind in ("trades", "bars"))


# --- the run -----------------------------------------------------------------------------------------
def run_columnar(strategy: Strategy, src: DataSource, instrument: Instrument, *, initial_capital: Decimal,
                 fee_bps: Decimal, slippage_bps: Decimal = Decimal(0), check_balance: bool = True,
                 metrics_period_ns: int | None = None, settings: Any = None) -> BacktestResult:
    """The strategy over whole columns; the engine (the same kernel as the event path) sees
    only the market events around orders and period samples."""
    import time

    t0 = time.perf_counter()
    cols = load_columns(src)
    kernel = KERNELS[type(strategy).columnar]  # type: ignore[attr-defined]
    bar_ns = {src.symbol: src.timeframe_ns} if src.kind == "bars" else {}
    eng = BacktestEngine(venue=src.venue, instruments={src.symbol: instrument}, initial_capital=initial_capital,
                         fee_bps=fee_bps, slippage_bps=slippage_bps, bar_ns=bar_ns,
                         metrics_period_ns=metrics_period_ns, check_balance=check_balance, data_kinds={src.kind},
                         settings=settings)
    ctx = eng.kernel.context(strategy.id, src.venue)
    ctx.pre_submit = strategy._own_orders.add  # noqa: SLF001
    strategy.bind(ctx, venue=src.venue, symbols=[src.symbol], data_kinds={src.kind})
    n = len(cols)
    if n == 0:
        eng.ticks = 0
        return eng.result(strategy, src.timeframe, time.perf_counter() - t0, columnar=True)
    ts, price = cols.ts, cols.price
    feed = _Feed(eng, cols, src)
    eng.clock.set_time(int(ts[0]))
    eng.metrics.first_ts = int(ts[0])
    drive_sync(strategy.on_start())
    qty = strategy._qty  # type: ignore[attr-defined]  # what on_start prepared, as on the event path
    period = eng.period_ns
    buckets = ts // period
    sample_at = np.flatnonzero(buckets[1:] > buckets[:-1]) + 1  # events that close a period
    si = 0
    m = eng.metrics
    for i, kind in kernel(strategy.params, cols):
        # samples up to the one taken before event i + 1 (an order placed at i fills during i + 1)
        while si < len(sample_at) and sample_at[si] <= i + 1:
            k = int(sample_at[si])
            feed.to(k - 1)
            m.sample(int(ts[k - 1]), eng.equity_float(), eng.exposed(), eng.marks())
            si += 1
        feed.to(i)  # the market as the strategy saw it at event i
        pos = strategy.position()
        if kind == "up" and not pos:
            drive_sync(strategy.buy(qty))
        elif kind == "down" and pos > 0:
            drive_sync(strategy.sell(pos))
        else:
            continue
        if i + 1 < n:
            feed.to(i + 1)  # the next event fills it, exactly as on the event path
    while si < len(sample_at):
        k = int(sample_at[si])
        feed.to(k - 1)
        m.sample(int(ts[k - 1]), eng.equity_float(), eng.exposed(), eng.marks())
        si += 1
    feed.to(n - 1)
    eng.ticks = n
    m.last_ts = int(ts[-1])
    drive_sync(strategy.on_stop())
    m.sample(int(ts[-1]), eng.equity_float(), eng.exposed(), eng.marks())
    return eng.result(strategy, src.timeframe, time.perf_counter() - t0, columnar=True)


class _Feed:
    """Publishes chosen rows of the columns on the engine's bus (each at most once, in order):
    the cache and the paper venue see exactly the events the event path would show them
    around an order; nothing subscribes the strategy itself."""

    def __init__(self, eng: BacktestEngine, cols: Columns, src: DataSource) -> None:
        self.eng = eng
        self.cols = cols
        self.kind = src.kind
        self.topic = src.topic
        self.venue, self.symbol = src.venue, src.symbol
        self.tf = src.timeframe
        self.last = -1

    def to(self, i: int) -> None:
        if i <= self.last:
            return
        self.last = i
        c = self.cols
        t = int(c.ts[i])
        clock = self.eng.clock
        if t >= clock.next_due:
            clock.advance_to(t)
        else:
            clock.set_time(t)
        if self.kind == "bars":
            x = c.extra
            ev: Any = Bar.make(self.venue, self.symbol, self.tf, float(x["open"][i]), float(x["high"][i]),
                               float(x["low"][i]), float(x["close"][i]),
                               float(x["volume"][i]) if "volume" in x else 0.0, True, t, t)
        else:
            ev = TradeTick.make(self.venue, self.symbol, float(c.price[i]), float(c.extra["qty"][i]),
                                AggressorSide.NONE, "", t, t)
        self.eng.bus.publish(self.topic, ev)


__all__ = ["Columns", "KERNELS", "load_columns", "run_columnar", "sma", "sma_cross_events", "supports"]

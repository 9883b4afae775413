"""The columnar fast path for vectorisable strategies (parameter sweeps).

Signals are computed over whole numpy columns, and from them the orders, fills, ledger and
metrics (columnar_fills.py: the paper venue's fill prices and fees, the exact ledger, the float
equity the metrics sample, each with the event path's own operations), so no Python runs per
tick or per order. When a pre-trade check could deny one of the orders, the run falls back to
sending every order through the same kernel as the event-driven replay (same order ids, fill
prices, fees and ledger), with the market events around it. Both give the event path's fills as
long as the vectorised signal equals the strategy's streaming one. For the SMA crossover that
holds bit for bit: the streaming SMA is a difference of prefix sums, exactly numpy's cumsum.

A strategy opts in with a class attribute `columnar = "<kernel name>"` naming one of
`KERNELS` below; the kernel must implement the strategy's documented rules exactly (the test
suite compares both paths on sampled grid points). Whole columns are loaded once per process
(8 bytes per tick and column) and shared by every parameter set of a sweep.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from quantai_tui.backtest.columnar_fills import run_direct
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
    sorted: bool = True  # times never go back
    finite: bool = True  # no nan or inf among prices
    _starts: dict[int, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ts)

    def period_starts(self, period_ns: int) -> np.ndarray:
        """Indices of the events that open a new metrics period (the replay samples the equity
        just before each), computed once per period length (they depend on the data alone)."""
        out = self._starts.get(period_ns)
        if out is None:
            buckets = self.ts // period_ns
            out = self._starts[period_ns] = np.flatnonzero(buckets[1:] > buckets[:-1]) + 1
        return out


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
    if len(out):
        out.sorted = bool(np.all(out.ts[1:] >= out.ts[:-1]))
        out.finite = bool(np.isfinite(out.price).all() and np.isfinite(out.fill).all())
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
    idx, kind = sma_cross_signals(price, fast, slow, eps)
    return idx[kind > 0], idx[kind < 0]


_CHUNK = 1 << 15  # rows per step of the signal pipeline: its temporaries stay in the CPU cache


def _window_sums(c: np.ndarray, w: int, a: int, b: int, out: np.ndarray) -> None:
    """out[i - a] = c[i] - c[i - w] for a <= i < b, with 0.0 for c[i - w] before the start:
    the terms of sma()."""
    if a >= w:
        np.subtract(c[a:b], c[a - w:b - w], out=out)
        return
    k0 = max(0, min(w - 1, b) - a)
    out[:k0] = np.nan  # fewer than w values yet (only when w > slow: sma() gives nan there)
    k = min(w, b) - a
    out[k0:k] = c[a + k0:a + k]  # i == w - 1: c[i] - 0.0 == c[i]
    if b > w:
        np.subtract(c[w:b], c[:b - w], out=out[k:])


def sma_cross_signals(price: np.ndarray, fast: int, slow: int, eps: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """The crossings of the SMA crossover as one sorted array of event indices with their kinds
    (+1 up, -1 down): the sign of fast - slow (0 within eps * slow) goes to +1 from 0 or -1, or
    to -1 from 0 or +1. The SMAs are sma()'s, with the same float operations, computed from the
    first index where the slow one is known, a cache-sized block of rows at a time."""
    n = len(price)
    if n <= slow:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int8)
    c = np.cumsum(price)
    lo = slow - 1  # the first index with a slow SMA
    sign = np.empty(n - lo, dtype=np.int8)
    size = min(_CHUNK, n - lo)
    d_buf, s_buf = np.empty(size), np.empty(size)
    up_buf, down_buf, tmp_buf = np.empty(size, dtype=bool), np.empty(size, dtype=bool), np.empty(size, dtype=bool)
    for a in range(lo, n, size):
        b = min(a + size, n)
        k = b - a
        d, s, up, down, tmp = d_buf[:k], s_buf[:k], up_buf[:k], down_buf[:k], tmp_buf[:k]
        _window_sums(c, fast, a, b, d)
        d /= fast  # the fast SMA
        _window_sums(c, slow, a, b, s)
        s /= slow  # the slow SMA
        d -= s  # fast - slow
        s *= eps  # e
        np.greater(d, s, out=up)
        np.negative(s, out=s)
        np.less(d, s, out=down)
        np.logical_not(up, out=tmp)
        down &= tmp  # sma_cross_events' np.where gives +1 when both hold
        np.subtract(up.view(np.int8), down.view(np.int8), out=sign[a - lo:b - lo])
    cur = sign[1:]
    ev = cur != sign[:-1]
    ev &= cur != 0
    idx = np.flatnonzero(ev)
    return idx + slow, cur[idx]


def _sma_cross(params: Mapping[str, Any], cols: Columns) -> tuple[np.ndarray, np.ndarray]:
    return sma_cross_signals(cols.price, int(params["fast"]), int(params["slow"]))


#: kernel name -> (parameters, columns) -> (sorted event indices, kinds: +1 up / -1 down)
KERNELS: dict[str, Callable[[Mapping[str, Any], Columns], tuple[np.ndarray, np.ndarray]]] = {"sma_cross": _sma_cross}


def supports(cls: type[Strategy], sources: list[DataSource]) -> bool:
    name = getattr(cls, "columnar", None)
    return bool(name in KERNELS and len(sources) == 1 and sources[0].kind in ("trades", "bars"))


# --- the run -----------------------------------------------------------------------------------------
def run_columnar(strategy: Strategy, src: DataSource, instrument: Instrument, *, initial_capital: Decimal,
                 fee_bps: Decimal, slippage_bps: Decimal = Decimal(0), check_balance: bool = True,
                 metrics_period_ns: int | None = None, settings: Any = None, direct: bool = True) -> BacktestResult:
    """The strategy over whole columns. Fills, ledger and metrics are computed in columns when
    nothing the columns do not model can happen (columnar_fills.py; `direct=False` never does);
    otherwise the engine (the same kernel as the event path) sees the market events around
    orders and period samples, and every order goes through it."""
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
    ctx.pre_submit = strategy.order_id_sink()
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
    idx, kinds = kernel(strategy.params, cols)
    if direct:
        done = run_direct(eng, strategy, cols, src, idx, kinds, t0)
        if done is not None:
            return done
    # the kernel path: every order (and the market events around it) through the engine
    sample_at = cols.period_starts(eng.period_ns)  # events that open a new period
    si = 0
    m = eng.metrics
    for i, kind in zip(idx.tolist(), kinds.tolist()):
        # samples up to the one taken before event i + 1 (an order placed at i fills during i + 1)
        while si < len(sample_at) and sample_at[si] <= i + 1:
            k = int(sample_at[si])
            feed.to(k - 1)
            m.sample(int(ts[k - 1]), eng.equity_float(), eng.exposed(), eng.marks())
            si += 1
        feed.to(i)  # the market as the strategy saw it at event i
        pos = strategy.position()
        if kind > 0 and not pos:
            drive_sync(strategy.buy(qty))
        elif kind < 0 and pos > 0:
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


__all__ = ["Columns", "KERNELS", "load_columns", "run_columnar", "sma", "sma_cross_events", "sma_cross_signals",
           "supports"]

"""The replay: market events from files (or a recording) through the engine with a test clock.

One event at a time, in timestamp order (several files are merged; ties keep file order): the
clock moves to the event's time and fires due timers, then the event is published on the bus
synchronously. The venue's handler runs first (fills of orders placed on earlier events), then
the strategies' handlers, driven without an event loop. Nothing is queued; nothing is kept per
tick: equity is sampled once per period into running metrics and a bounded curve.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from quantai_tui.backtest.account import BacktestAccount, FillRecord
from quantai_tui.backtest.execution import ReplayVenue
from quantai_tui.backtest.metrics import BoundedCurve, MetricsAccumulator
from quantai_tui.backtest.sources import DataSource
from quantai_tui.core.clock import TestClock, TimerCallback
from quantai_tui.core.events import Bar, Event, OrderBookDeltas, QuoteTick, TradeTick
from quantai_tui.core.instruments import Instrument
from quantai_tui.engine.bus import MessageBus
from quantai_tui.engine.strategy import Strategy

INF = 1 << 62
MINUTE_NS = 60_000_000_000
Progress = Callable[[int, "int | None"], None]
Tagged = tuple[str, Event]  # (topic, event), as the bus and the sim generator use them


class ReplayClock(TestClock):
    """A TestClock that keeps its next due time in an attribute, so the replay checks one int
    per event instead of calling into the timer heap."""

    __test__ = False

    def __init__(self, start_ns: int = 0) -> None:
        super().__init__(start_ns)
        self.next_due = INF

    def _refresh(self) -> None:
        due = self.next_due_ns
        self.next_due = INF if due is None else due

    def set_timer(self, name: str, interval_ns: int, callback: TimerCallback, start_ns: int | None = None,
                  stop_ns: int | None = None) -> None:
        super().set_timer(name, interval_ns, callback, start_ns, stop_ns)
        self._refresh()

    def set_alert(self, name: str, at_ns: int, callback: TimerCallback) -> None:
        super().set_alert(name, at_ns, callback)
        self._refresh()

    def cancel_timer(self, name: str) -> None:
        super().cancel_timer(name)
        self._refresh()

    def advance_to(self, ns: int) -> list[Any]:
        fired = super().advance_to(ns)
        self._refresh()
        return fired


@dataclass
class BacktestResult:
    """What a backtest returns: metrics, the (bounded) equity curve and every fill."""

    strategy: str
    params: dict[str, Any]
    symbols: list[str]
    venue: str
    timeframe: str
    initial_capital: Decimal
    final_equity: Decimal
    metrics: dict[str, Any]
    equity_curve: list[tuple[int, float]]  # (ts ns, equity) per sample, at most a few thousand
    price_curve: list[tuple[int, tuple[float, ...]]]  # (ts ns, mark per symbol) at the same samples
    fills: list[FillRecord]
    ticks: int
    orders: int
    elapsed_s: float
    start_ns: int | None
    end_ns: int | None
    fees: Decimal = Decimal(0)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The --json object: the keys issue 5 lists first, then context."""
        m = self.metrics
        out: dict[str, Any] = {
            "ticks": self.ticks,
            "elapsed_s": round(self.elapsed_s, 6),
            "orders": self.orders,
            "fills": len(self.fills),
            "final_equity": float(self.final_equity),
        }
        for k in ("return_pct", "cagr_pct", "sharpe", "sortino", "max_drawdown_pct", "win_rate", "profit_factor",
                  "exposure_pct"):
            out[k] = _clean(m.get(k))
        out.update(
            strategy=self.strategy, params={k: _jsonable(v) for k, v in self.params.items()}, symbols=self.symbols,
            venue=self.venue, timeframe=self.timeframe, initial_capital=float(self.initial_capital),
            final_equity_exact=str(self.final_equity), fees=float(self.fees), trades=m.get("trades"),
            period_s=m.get("period_s"), start=_iso(self.start_ns), end=_iso(self.end_ns),
            ticks_per_s=round(self.ticks / self.elapsed_s) if self.elapsed_s > 0 else None,
        )
        return out

    @property
    def drawdown_curve(self) -> list[tuple[int, float]]:
        out, peak = [], float("-inf")
        for ts, eq in self.equity_curve:
            peak = max(peak, eq)
            out.append((ts, (eq / peak - 1.0) * 100.0 if peak > 0 else 0.0))
        return out


def _clean(v: Any) -> Any:
    if isinstance(v, float) and v != v:
        return None
    return round(v, 10) if isinstance(v, float) else v


def _jsonable(v: Any) -> Any:
    return str(v) if isinstance(v, Decimal) else v


def _iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    from quantai_tui.core.clock import ns_to_datetime

    return ns_to_datetime(ns).isoformat().replace("+00:00", "Z")


_KINDS = {TradeTick: "trades", QuoteTick: "quotes", Bar: "bars", OrderBookDeltas: "book"}
_HANDLERS = {"trades": "on_tick", "quotes": "on_quote", "bars": "on_bar", "book": "on_book"}


class BacktestEngine:
    """Bus, replay clock, trading core and venue for one run. `add_strategy`, then `run`."""

    def __init__(self, *, venue: str, instruments: Mapping[str, Instrument], initial_capital: Decimal,
                 fee_bps: Decimal, slippage_bps: Decimal = Decimal(0), bar_ns: Mapping[str, int] | None = None,
                 metrics_period_ns: int | None = None, check_balance: bool = True, curve_points: int = 4000,
                 data_kinds: set[str] | None = None) -> None:
        self.bus = MessageBus()
        self.clock = ReplayClock()
        self.venue_name = venue
        self.instruments = dict(instruments)
        self.symbols = list(instruments)
        self.data_kinds = data_kinds or set()
        self.account = self._build_core(initial_capital, fee_bps, check_balance)
        self.venue = ReplayVenue(self.account, self.bus.publish, slippage_bps=slippage_bps,
                                 bar_open_offset_ns=dict(bar_ns or {}))
        self.venue._has_trades = "trades" in self.data_kinds
        self.account.venue = self.venue
        bar_period = min((bar_ns or {}).values(), default=0)
        self.period_ns = metrics_period_ns or bar_period or MINUTE_NS
        self.metrics = MetricsAccumulator(float(initial_capital), self.period_ns, curve_points)
        self.account.fill_listeners.append(self._on_fill)
        # the venue sees every market event before any strategy (fills of earlier orders first)
        self.bus.subscribe("bars.>", self.venue.on_bar, priority=100, name="venue.on_bar")
        self.bus.subscribe("trades.>", self.venue.on_trade, priority=100, name="venue.on_trade")
        self.bus.subscribe("quotes.>", self.venue.on_quote, priority=100, name="venue.on_quote")
        self.strategies: list[Strategy] = []
        self.ticks = 0

    def _build_core(self, initial_capital: Decimal, fee_bps: Decimal, check_balance: bool) -> BacktestAccount:
        # The one place to swap in issue 4's kernel (OMS + risk + portfolio) when it lands.
        return BacktestAccount(clock=self.clock, publish=self.bus.publish, venue=self.venue_name,
                               instruments=self.instruments, initial_capital=initial_capital, fee_bps=fee_bps,
                               check_balance=check_balance)

    def _on_fill(self, _rec: FillRecord) -> None:
        self.metrics.touch(self.account.equity_float(self.venue.marks))

    def add_strategy(self, strategy: Strategy, symbols: list[str] | None = None) -> None:
        syms = symbols or self.symbols
        strategy.bind(self.account, venue=self.venue_name, symbols=syms, data_kinds=self.data_kinds)
        wanted = strategy.subscriptions()
        for kind, method in _HANDLERS.items():
            if not strategy.overrides(method) or (wanted is not None and kind not in wanted):
                continue
            call = strategy.dispatcher(method)
            for sym in syms:
                self.bus.subscribe(f"{kind}.{self.venue_name}.{sym}", call, name=f"{strategy.id}.{method}")
        if strategy.overrides("on_fill") or strategy.overrides("on_order"):
            self.bus.subscribe(f"orders.{self.venue_name}.>", strategy.order_dispatcher(), name=f"{strategy.id}.orders")
        self.strategies.append(strategy)

    # --- the replay loop --------------------------------------------------------------------------------
    def run(self, stream: Iterable[Tagged], *, total: int | None = None, progress: Progress | None = None,
            speed: float | None = None, start_ns: int | None = None, end_ns: int | None = None) -> None:
        it: Iterator[Tagged] = iter(stream)
        if start_ns is not None or end_ns is not None:
            it = _window(it, start_ns, end_ns)
        first = next(it, None)
        if first is None:
            self._start_strategies()
            self._stop_strategies()
            return
        clock = self.clock
        t0 = first[1].ts_event
        clock.set_time(t0)
        self.metrics.first_ts = t0
        self._start_strategies()
        it = itertools.chain((first,), it)
        if speed:
            it = _paced(it, speed)
        publish = self.bus.publish
        metrics = self.metrics
        account, venue = self.account, self.venue
        period = self.period_ns
        next_sample = (t0 // period + 1) * period
        marks = venue.marks
        symbols = self.symbols
        n = 0
        last_ts = t0
        step = 65_536
        next_report = step
        for topic, ev in it:
            ts = ev.ts_event
            if ts >= clock.next_due:
                clock.advance_to(ts)
            else:
                clock._now = ts
            if ts >= next_sample:
                metrics.sample(last_ts, account.equity_float(marks), account.exposed(),
                               tuple(marks.get(s, 0.0) for s in symbols))
                next_sample = (ts // period + 1) * period
            publish(topic, ev)
            last_ts = ts
            n += 1
            if n >= next_report:
                next_report += step
                if progress is not None:
                    progress(n, total)
        self.ticks = n
        metrics.last_ts = last_ts
        self._stop_strategies()
        metrics.sample(last_ts, account.equity_float(marks), account.exposed(),
                       tuple(marks.get(s, 0.0) for s in symbols))
        if progress is not None:
            progress(n, total)

    def _start_strategies(self) -> None:
        from quantai_tui.engine.strategy import drive_sync

        for s in self.strategies:
            drive_sync(s.on_start())

    def _stop_strategies(self) -> None:
        from quantai_tui.engine.strategy import drive_sync

        for s in self.strategies:
            drive_sync(s.on_stop())


def _window(it: Iterator[Tagged], start_ns: int | None, end_ns: int | None) -> Iterator[Tagged]:
    lo = start_ns if start_ns is not None else -INF
    hi = end_ns if end_ns is not None else INF
    for item in it:
        ts = item[1].ts_event
        if ts < lo:
            continue
        if ts > hi:
            break
        yield item


def _paced(it: Iterator[Tagged], speed: float) -> Iterator[Tagged]:
    """Recorded timing scaled by `speed` (2.0 = twice as fast as it happened)."""
    wall0 = time.monotonic()
    t0: int | None = None
    for item in it:
        ts = item[1].ts_event
        if t0 is None:
            t0 = ts
        delay = (ts - t0) / 1e9 / speed - (time.monotonic() - wall0)
        if delay > 0:
            time.sleep(delay)
        yield item


def tagged_stream(sources: list[DataSource]) -> Iterator[Tagged]:
    """Every source's events with their topics, merged in time order (stable on ties)."""
    streams = [_tag(src) for src in sources]
    if len(streams) == 1:
        return streams[0]
    return heapq.merge(*streams, key=_ts_of)


def _ts_of(item: Tagged) -> int:
    return item[1].ts_event


def _tag(src: DataSource) -> Iterator[Tagged]:
    return src.tagged_events()


def kinds_of(events: Iterable[Tagged]) -> set[str]:
    return {t.split(".", 1)[0] for t, _ in events}

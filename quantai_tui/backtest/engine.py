"""The replay: market events from files (or a recording) through the engine with a test clock.

The engine is the kernel of every other mode (engine/kernel.py in backtest mode: OMS, risk
checks, portfolio, the paper venue with the one fill model, an in-memory store); only the clock
and the data source differ. One event at a time, in timestamp order (several files are merged;
ties keep file order): the clock moves to the event's time and fires due timers, then the event
is published on the bus synchronously. The cache and the paper venue see it first (fills of
orders placed on earlier events), then the strategies, driven without an event loop. Nothing is
queued; nothing is kept per tick: equity is sampled once per period into running metrics and a
bounded curve.
"""

from __future__ import annotations

import copy
import heapq
import itertools
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, overload

from quantai_tui.backtest.metrics import MetricsAccumulator, trips_from_raw
from quantai_tui.backtest.sources import DataSource
from quantai_tui.core.clock import TestClock, TimerCallback
from quantai_tui.core.enums import OrderSide, TradingMode
from quantai_tui.core.errors import DataError
from quantai_tui.core.events import Event, OrderAccepted, OrderDenied, OrderFilled, OrderSubmitted, market_topic
from quantai_tui.core.instruments import Instrument
from quantai_tui.core.values import _POW10, EXACT
from quantai_tui.engine.strategy import Strategy, drive_sync
from quantai_tui.engine.tasks import run_sync
from quantai_tui.settings.schema import Settings

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
    fills: Sequence[Any]  # FillRecords (a LazyFills: made when first read)
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


_HANDLERS = {"trades": "on_tick", "quotes": "on_quote", "bars": "on_bar", "book": "on_book"}


@dataclass(slots=True)
class FillRecord:
    """One fill, as the result and --trades-out report it."""

    ts: int
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    fee: Decimal
    client_order_id: str
    strategy_id: str


class LazyFills(Sequence[FillRecord]):
    """A run's fills: counted at once, made into FillRecords (Decimals) the first time they are
    read. `rows()` gives the raw fills (ts, symbol, buy, qty_raw, qty_prec, px_raw, px_prec,
    fee_raw, fee_prec, client_order_id, strategy_id), or `build` makes the records itself."""

    __slots__ = ("_n", "_rows", "_items")

    def __init__(self, n: int, rows: Callable[[], list[Any]]) -> None:
        self._n = n
        self._rows: Callable[[], list[Any]] | None = rows
        self._items: list[FillRecord] | None = None

    def _list(self) -> list[FillRecord]:
        items = self._items
        if items is None:
            assert self._rows is not None
            rows = self._rows()
            if rows and not isinstance(rows[0], FillRecord):
                rows = [_record(r) for r in rows]
            items = self._items = rows
            self._rows = None
        return items

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, i: int) -> FillRecord: ...
    @overload
    def __getitem__(self, i: slice) -> list[FillRecord]: ...
    def __getitem__(self, i: int | slice) -> FillRecord | list[FillRecord]:
        return self._list()[i]

    def __iter__(self) -> Iterator[FillRecord]:
        return iter(self._list())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, LazyFills)):
            return self._list() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (list, (self._list(),))  # pickled (or deep-copied) as the plain list of records

    def __repr__(self) -> str:
        return f"LazyFills({self._n} fills)"


def _record(r: tuple[Any, ...]) -> FillRecord:
    ts, symbol, buy, qr, qp, pr, pp, fr, fp, coid, sid = r
    return FillRecord(ts, symbol, _BUY if buy else _SELL, EXACT.scaleb(Decimal(qr), -qp),
                      EXACT.scaleb(Decimal(pr), -pp), EXACT.scaleb(Decimal(fr), -fp), coid, sid)


_BUY, _SELL = OrderSide.BUY.value, OrderSide.SELL.value


class BacktestEngine:
    """The kernel (OMS, risk, portfolio, paper venue with the one fill model, in-memory store)
    in backtest mode on a replay clock, plus what a backtest reports. `add_strategy`, `run`."""

    def __init__(self, *, venue: str, instruments: Mapping[str, Instrument], initial_capital: Decimal,
                 fee_bps: Decimal, slippage_bps: Decimal = Decimal(0), bar_ns: Mapping[str, int] | None = None,
                 metrics_period_ns: int | None = None, check_balance: bool = True, curve_points: int = 4000,
                 data_kinds: set[str] | None = None, settings: Settings | None = None) -> None:
        from quantai_tui.engine.kernel import Kernel, KernelConfig

        self.clock = ReplayClock()
        self.venue_name = venue
        self.instruments = dict(instruments)
        self.symbols = list(instruments)
        self.data_kinds = data_kinds or set()
        currencies = {i.quote for i in instruments.values()}
        if len(currencies) > 1:
            raise DataError(f"symbols quoted in different currencies ({', '.join(sorted(currencies))}) "
                            "cannot share one backtest account")
        self.currency = currencies.pop() if currencies else "USDT"
        st = copy.deepcopy(settings) if settings is not None else Settings()
        st.paper.currency = self.currency
        st.risk.check_balance = st.risk.check_balance and check_balance
        self.initial_capital = Decimal(initial_capital)
        cfg = KernelConfig(
            mode=TradingMode.BACKTEST, venues=[venue], symbols=self.symbols, store="memory",
            instruments=list(self.instruments.values()), initial_balances={self.currency: self.initial_capital},
            fee_bps=Decimal(fee_bps), slippage_bps=Decimal(slippage_bps), latency_ms=0.0,
            # bars fill at the next open only when bars are all there is; with trades, quotes or a
            # book in the replay the fill model fills from those, as it does live
            bar_mode=bool(self.data_kinds) and self.data_kinds <= {"bars"}, market_data=False, reconcile=False, client_id_tag="bt",
            sample_equity_s=0.0)
        from quantai_tui.store.memory import MemoryStore

        # keep=False: the audit trail of a replay is its result; keeping every event would grow
        # memory (and the garbage collector's work) with every order
        self.kernel = Kernel(st, cfg, clock=self.clock, store=MemoryStore(keep=False))
        run_sync(self.kernel.start())
        self.bus = self.kernel.bus
        self.portfolio = self.kernel.portfolio
        self.cache = self.kernel.cache
        self._markets = self.cache.markets
        bar_period = min((bar_ns or {}).values(), default=0)
        self.period_ns = metrics_period_ns or bar_period or MINUTE_NS
        self.metrics = MetricsAccumulator(float(initial_capital), self.period_ns, curve_points)
        # each fill as the raw integers of its exact values: FillRecords (Decimals), fees and round
        # trips are made from these when the result asks (nothing but a tuple per fill meanwhile)
        self._fills_raw: list[tuple[Any, ...]] = []
        self.orders = 0
        self.denied = 0
        self.denials: dict[str, list[Any]] = {}  # check -> [count, first reason]
        self._sid: dict[str, str] = {}  # client order id -> strategy id, until its fill
        self._cash_f = float(self.initial_capital)
        self._pos_f: dict[str, float] = {}
        # every order event comes here and the two that count are picked by exact type (cheaper
        # than the bus's isinstance filter wrapped around the handler: three events per order)
        self.bus.subscribe(f"orders.{venue}.>", self._on_order_event, priority=-10, name="backtest.orders")
        self.bus.subscribe("risk", self._on_denied, types=(OrderDenied,), name="backtest.denied")
        self.strategies: list[Strategy] = []
        self.ticks = 0

    # --- what a backtest records (per order and per fill, never per tick) ---------------------------------
    def _on_order_event(self, ev: Any) -> None:
        t = type(ev)
        if t is not OrderFilled:
            if t is OrderAccepted:  # every order's second event: nothing to record
                return
            if isinstance(ev, OrderSubmitted):
                self.orders += 1
                self._sid[ev.client_order_id] = ev.strategy_id
                return
            if not isinstance(ev, OrderFilled):
                return
        # once per fill: the raw integers of the exact values, read from their slots
        q_, px_, amount = ev.last_qty, ev.last_px, ev.fee._amount  # noqa: SLF001
        qr, qp, pr, pp, fr, fp = q_._raw, q_._prec, px_._raw, px_._prec, amount._raw, amount._prec  # noqa: SLF001
        buy = ev.side is OrderSide.BUY
        coid = ev.client_order_id
        symbol = ev.symbol
        self._fills_raw.append((ev.ts_event, symbol, buy, qr, qp, pr, pp, fr, fp, coid, self._sid.get(coid, "")))
        # float mirror of cash and positions: what the metrics sample (the exact ledger is the
        # portfolio's, used for the final equity); int / int is the correctly rounded float, as
        # float() of the exact value is
        qf = qr / _POW10[qp]
        notional = qf * (pr / _POW10[pp])
        eq = self._cash_f = self._cash_f + ((-notional if buy else notional) - fr / _POW10[fp])
        pos = self._pos_f
        pos[symbol] = pos.get(symbol, 0.0) + (qf if buy else -qf)
        # self.metrics.touch(self.equity_float()), inline (the same operations, in the same order)
        markets, v = self._markets, self.venue_name
        for sym, q in pos.items():
            if q:
                st = markets.get((v, sym))
                if st is not None:
                    b, a = st.bid, st.ask
                    if b == b and a == a:  # MarketState.mark: the mid, else the last trade
                        eq += q * ((b + a) / 2)
                    elif st.last == st.last:
                        eq += q * st.last
        m = self.metrics
        peak = m._peak  # noqa: SLF001
        if eq > peak:
            m._peak = eq  # noqa: SLF001
        elif peak > 0:
            dd = (peak - eq) / peak
            if dd > m.max_dd:
                m.max_dd = dd

    @property
    def fills(self) -> LazyFills:
        """Every fill as a FillRecord (made when read)."""
        return LazyFills(len(self._fills_raw), self._fills_raw.copy)

    @property
    def fees(self) -> Decimal:
        """Fees paid, exact (the sum of the fills' fees)."""
        total = Decimal(0)
        by_prec: dict[int, int] = {}
        for f in self._fills_raw:
            by_prec[f[8]] = by_prec.get(f[8], 0) + f[7]
        for prec, raw in by_prec.items():
            total += EXACT.scaleb(Decimal(raw), -prec)
        return total

    def _on_denied(self, ev: OrderDenied) -> None:
        self.denied += 1
        self.orders += 1
        by = self.denials.setdefault(ev.check, [0, ev.reason])
        by[0] += 1

    def equity_float(self) -> float:
        """Cash plus positions at their marks, in floats (metrics only)."""
        eq = self._cash_f
        v = self.venue_name
        mark = self.cache.mark
        for sym, q in self._pos_f.items():
            if q:
                m = mark(v, sym)
                if m is not None:
                    eq += q * m
        return eq

    def equity(self) -> Decimal:
        """Exact: every balance valued at its symbol's mark (the last trade, the last bar's close,
        or the mid when only quotes are replayed), taken at its shortest repr."""
        total = Decimal(0)
        bals = self.portfolio.balances(self.venue_name).get(self.venue_name, {})
        for asset, amount in bals.items():
            if asset == self.currency:
                total = EXACT.add(total, amount)
                continue
            for sym, inst in self.instruments.items():
                if inst.base == asset:
                    mark = self.cache.mark(self.venue_name, sym)
                    if mark is not None:
                        total = EXACT.add(total, EXACT.multiply(amount, Decimal(repr(mark))))
                    break
        return total

    def exposed(self) -> bool:
        return any(abs(q) > 1e-12 for q in self._pos_f.values())

    def marks(self) -> tuple[float, ...]:
        v = self.venue_name
        return tuple(self.cache.mark(v, s) or 0.0 for s in self.symbols)

    def add_strategy(self, strategy: Strategy, symbols: list[str] | None = None) -> None:
        """As the kernel attaches a strategy, driven synchronously, subscribed to the market
        data kinds it asks for (`subscriptions`) among those replayed."""
        syms = list(symbols or self.symbols)
        if strategy.max_symbols is not None:
            syms = syms[: strategy.max_symbols]
        ctx = self.kernel.context(strategy.id, self.venue_name)
        ctx.pre_submit = strategy.order_id_sink()  # the strategy knows its ids first
        strategy.bind(ctx, venue=self.venue_name, symbols=syms, drive=drive_sync, data_kinds=self.data_kinds)
        wanted = strategy.subscriptions()
        subs = []
        for kind, method in _HANDLERS.items():
            if not strategy.overrides(method) or (wanted is not None and kind not in wanted):
                continue
            call = strategy.dispatcher(method)
            for sym in syms:
                subs.append(self.bus.subscribe(market_topic(kind, self.venue_name, sym), call,
                                               name=f"strategy:{strategy.id}:{method}"))
        if strategy.overrides("on_fill") or strategy.overrides("on_order"):
            subs.append(self.bus.subscribe(f"orders.{self.venue_name}.*", strategy.order_dispatcher(),
                                           name=f"strategy:{strategy.id}:orders"))
        self.kernel.strategies[strategy.id] = (strategy, subs)
        self.strategies.append(strategy)

    # --- the replay loop --------------------------------------------------------------------------------
    def run(self, stream: Iterable[Tagged] | Iterable[Event], *, topic: str | None = None, total: int | None = None,
            progress: Progress | None = None, speed: float | None = None, start_ns: int | None = None,
            end_ns: int | None = None) -> None:
        """Replay `stream`: (topic, event) pairs, or with `topic` events that all go there."""
        it: Iterator[Any] = iter(stream)
        if topic is not None and (speed or start_ns is not None or end_ns is not None):
            it = _pairs(topic, it)  # the wrappers below work on pairs
            topic = None
        if start_ns is not None or end_ns is not None:
            it = _window(it, start_ns, end_ns)
        first = next(it, None)
        if first is None:
            self._start_strategies()
            self._stop_strategies()
            return
        clock = self.clock
        t0 = (first if topic is not None else first[1]).ts_init
        clock.set_time(t0)
        self.metrics.first_ts = t0
        self._start_strategies()
        it = itertools.chain((first,), it)
        if speed:
            it = _paced(it, speed)
        publish = self.bus.publish
        metrics = self.metrics
        equity, exposed, marks = self.equity_float, self.exposed, self.marks
        period = self.period_ns
        next_sample = (t0 // period + 1) * period
        n = 0
        next_report = step = 65_536

        # The per-event path is the body of these loops: set the clock, publish. Timers, period
        # samples and progress are checked by two comparisons and handled off that path. (Two
        # copies of the loop, so a single-topic replay does not build a tuple per event.)
        def slow(ts: int) -> None:
            nonlocal next_sample, next_report
            prev = clock._now  # noqa: SLF001 - the previous event's time
            if ts >= clock.next_due:
                clock.advance_to(ts)
            if ts >= next_sample:
                metrics.sample(prev, equity(), exposed(), marks())
                next_sample = (ts // period + 1) * period
                if n >= next_report:
                    next_report = n + step
                    if progress is not None:
                        progress(n, total)

        if topic is None:
            for tp, ev in it:
                ts = ev.ts_init  # when it was received: the clock of the run that recorded it
                if ts >= next_sample or ts >= clock.next_due:
                    slow(ts)
                clock._now = ts  # noqa: SLF001
                publish(tp, ev)
                n += 1
        else:
            # bus.publish inlined for the one topic (a call frame per tick saved): the handlers
            # are the bus's own resolved tuple, looked up again whenever the bus's subscriptions
            # changed (a subscription made during the run takes effect at the next event, as with
            # publish); a handler that raises is
            # reported through the bus and the ones after it still run, as publish does
            bus = self.bus
            handlers_of = bus._cache.get  # noqa: SLF001
            resolve = bus._resolve  # noqa: SLF001
            version = -1
            hs: tuple[Any, ...] = ()
            for ev in it:
                ts = ev.ts_init
                if ts >= next_sample or ts >= clock.next_due:
                    slow(ts)
                clock._now = ts  # noqa: SLF001
                if bus.version != version:  # the subscriptions changed (or this is the first event)
                    version = bus.version
                    hs = handlers_of(topic)
                    if hs is None:
                        hs = resolve(topic)
                try:
                    for h in hs:
                        h(ev)
                except Exception as exc:  # noqa: BLE001 - the bus's rule: a bad handler never stops it
                    _after_failure(bus, hs, h, topic, ev, exc)
                n += 1
            bus.published += n
        self.ticks = n
        last_ts = clock._now  # noqa: SLF001
        metrics.last_ts = last_ts
        self._stop_strategies()
        metrics.sample(last_ts, equity(), exposed(), marks())
        if progress is not None:
            progress(n, total)

    def _start_strategies(self) -> None:
        for s in self.strategies:
            drive_sync(s.on_start())

    def _stop_strategies(self) -> None:
        for s in self.strategies:
            drive_sync(s.on_stop())

    def result(self, strategy: Strategy, timeframe: str, elapsed_s: float, **extra: Any) -> BacktestResult:
        m = self.metrics
        final = self.equity()
        raw = self._fills_raw
        trips = trips_from_raw([f[1:9] for f in raw])
        return BacktestResult(
            strategy=type(strategy).strategy_name(), params=dict(strategy.params), symbols=list(self.symbols),
            venue=self.venue_name, timeframe=timeframe, initial_capital=self.initial_capital, final_equity=final,
            metrics=m.results(final, trips), equity_curve=[(p[0], p[1]) for p in m.curve.points],
            price_curve=[(p[0], tuple(p[2:])) for p in m.curve.points], fills=LazyFills(len(raw), lambda: raw),
            ticks=self.ticks,
            orders=self.orders, elapsed_s=elapsed_s, start_ns=m.first_ts, end_ns=m.last_ts, fees=self.fees,
            extra={"denied": self.denied, "denials": {k: {"count": c, "first": r} for k, (c, r) in self.denials.items()},
                   **extra})


def _after_failure(bus: Any, handlers: tuple[Any, ...], failed: Any, topic: str, ev: Any, exc: Exception) -> None:
    """What bus.publish does when a handler raises: report it, then run the handlers after it."""
    bus._handler_failed(failed, topic, ev, exc)  # noqa: SLF001
    # (a handler subscribed twice as the same object is taken at its first place)
    i = next(j for j, h in enumerate(handlers) if h is failed)
    for h in handlers[i + 1:]:
        try:
            h(ev)
        except Exception as exc2:  # noqa: BLE001
            bus._handler_failed(h, topic, ev, exc2)  # noqa: SLF001


def _pairs(topic: str, events: Iterator[Event]) -> Iterator[Tagged]:
    for ev in events:
        yield topic, ev


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
        ts = item[1].ts_init
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
    return item[1].ts_init


def _tag(src: DataSource) -> Iterator[Tagged]:
    return src.tagged_events()


def kinds_of(events: Iterable[Tagged]) -> set[str]:
    return {t.split(".", 1)[0] for t, _ in events}

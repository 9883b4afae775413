"""Headless observability: the event-loop lag monitor and the Prometheus metrics of
`quantai headless --metrics-port PORT` (served on 127.0.0.1 only, from its own registry).

Metrics (labels in braces):
    quantai_feed_latency_seconds{venue,kind}        histogram: engine receive time - exchange time
    quantai_market_messages_total{venue,kind}       market data messages seen
    quantai_book_staleness_seconds{venue,symbol}    seconds since the last book/quote update
    quantai_order_round_trip_seconds{venue}         OrderSubmitted -> first venue answer
    quantai_orders_submitted_total{venue}           orders sent this run (after risk)
    quantai_orders_filled_total{venue}              of those, orders with at least one fill
    quantai_orders_rejected_total{venue}, quantai_orders_canceled_total{venue}, quantai_fills_total{venue}
    quantai_fill_rate{venue}                        orders_filled / orders_submitted
    quantai_slippage_bps{venue}                     fill price vs the mid when the order was sent
                                                    (positive: worse than the mid)
    quantai_risk_denials_total{check}               pre-trade denials by the check that denied
    quantai_kill_switch_engaged_total
    quantai_pnl_realized, quantai_pnl_unrealized, quantai_pnl_day, quantai_equity  {currency}
    quantai_position_qty{venue,symbol}              signed position in base units
    quantai_open_orders, quantai_trading_halted (0/1), quantai_trading_state{state} (1 = current)
    quantai_event_loop_lag_seconds                  histogram of a 100 ms timer's lateness
    quantai_event_loop_lag_p99_seconds              p99 of that lateness over the last minute
    quantai_event_loop_lag_max_seconds              the largest lateness since start
    quantai_store_committed_seq, quantai_store_write_errors, quantai_events_printed_total,
    quantai_stdout_backlog_events
    process_*                                       prometheus_client's process collector

Hot-path handlers only observe into pre-bound children; everything that reads engine state is
computed on the event loop once a second (`refresh`), so the HTTP thread never touches it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quantai_tui.engine.kernel import Kernel

log = logging.getLogger("quantai.headless.metrics")

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
LAG_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25,
               0.5, 1.0, 2.5, 5.0)
SLIPPAGE_BUCKETS = (-50.0, -20.0, -10.0, -5.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
MAX_TRACKED_ORDERS = 50_000  # submit-time references kept for round trip and slippage


class LoopLagMonitor:
    """How late a periodic timer fires: a direct measure of how long the loop was blocked."""

    def __init__(self, interval_s: float = 0.1, window: int = 600,
                 observe: Callable[[float], None] | None = None) -> None:
        self.interval_s = interval_s
        self.samples: deque[float] = deque(maxlen=window)  # the last minute at 10 Hz
        self.observe = observe
        self.max_s = 0.0
        self.count = 0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t0 = loop.time()
            await asyncio.sleep(self.interval_s)
            lag = max(0.0, loop.time() - t0 - self.interval_s)
            self.samples.append(lag)
            self.count += 1
            self.max_s = max(self.max_s, lag)
            if self.observe is not None:
                self.observe(lag)

    def p99(self) -> float:
        if not self.samples:
            return 0.0
        s = sorted(self.samples)
        return s[min(len(s) - 1, int(0.99 * (len(s) - 1) + 0.5))]


class HeadlessMetrics:
    """Prometheus metrics of one headless engine."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
        from prometheus_client.process_collector import ProcessCollector

        disable_created_metrics()  # no *_created series: this process is the only user of the library

        self.registry = reg = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=reg)
        self.feed_latency = Histogram("quantai_feed_latency_seconds", "engine receive time minus exchange time",
                                      ["venue", "kind"], buckets=LATENCY_BUCKETS, registry=reg)
        self.market_messages = Counter("quantai_market_messages", "market data messages seen", ["venue", "kind"],
                                       registry=reg)
        self.round_trip = Histogram("quantai_order_round_trip_seconds", "OrderSubmitted to the venue's first answer",
                                    ["venue"], buckets=LATENCY_BUCKETS, registry=reg)
        self.submitted = Counter("quantai_orders_submitted", "orders sent this run", ["venue"], registry=reg)
        self.filled = Counter("quantai_orders_filled", "orders with at least one fill", ["venue"], registry=reg)
        self.rejected = Counter("quantai_orders_rejected", "orders the venue rejected", ["venue"], registry=reg)
        self.canceled = Counter("quantai_orders_canceled", "orders canceled", ["venue"], registry=reg)
        self.fills = Counter("quantai_fills", "fill events", ["venue"], registry=reg)
        self.fill_rate = Gauge("quantai_fill_rate", "orders filled / orders submitted this run", ["venue"],
                               registry=reg)
        self.slippage = Histogram("quantai_slippage_bps", "fill price vs the mid at submission, bps (+ = worse)",
                                  ["venue"], buckets=SLIPPAGE_BUCKETS, registry=reg)
        self.denials = Counter("quantai_risk_denials", "pre-trade risk denials", ["check"], registry=reg)
        self.kills = Counter("quantai_kill_switch_engaged", "kill switch engagements", registry=reg)
        self.pnl_realized = Gauge("quantai_pnl_realized", "realised P&L", ["currency"], registry=reg)
        self.pnl_unrealized = Gauge("quantai_pnl_unrealized", "unrealised P&L at marks", ["currency"], registry=reg)
        self.pnl_day = Gauge("quantai_pnl_day", "equity now less equity at 00:00 UTC", ["currency"], registry=reg)
        self.equity = Gauge("quantai_equity", "account equity at marks", ["currency"], registry=reg)
        self.open_orders = Gauge("quantai_open_orders", "open orders", registry=reg)
        self.halted = Gauge("quantai_trading_halted", "1 while the kill switch holds trading HALTED", registry=reg)
        self.state = Gauge("quantai_trading_state", "1 for the current trading state", ["state"], registry=reg)
        self.loop_lag = Histogram("quantai_event_loop_lag_seconds", "lateness of a 100 ms timer",
                                  buckets=LAG_BUCKETS, registry=reg)
        self.loop_lag_p99 = Gauge("quantai_event_loop_lag_p99_seconds", "p99 timer lateness over the last minute",
                                  registry=reg)
        self.loop_lag_max = Gauge("quantai_event_loop_lag_max_seconds", "largest timer lateness since start",
                                  registry=reg)
        self.committed_seq = Gauge("quantai_store_committed_seq", "newest durable seq", registry=reg)
        self.write_errors = Gauge("quantai_store_write_errors", "events the store failed to write", registry=reg)
        self.printed = Counter("quantai_events_printed", "JSON lines written to stdout", registry=reg)
        self.backlog = Gauge("quantai_stdout_backlog_events", "durable events not yet written to stdout",
                             registry=reg)
        self._children: dict[tuple[str, ...], Any] = {}
        # coid -> [submit ts_init, mid at submit, side sign, venue, filled?]
        self._orders: dict[str, list[Any]] = {}
        self._last_book_ns: dict[tuple[str, str], int] = {}
        self._dynamic = _DynamicGauges(self._last_book_ns)
        reg.register(self._dynamic)
        self._server: Any = None
        self._kernel: Kernel | None = None
        self.lag = LoopLagMonitor(observe=self.loop_lag.observe)

    # --- serving ------------------------------------------------------------------------------
    def serve(self, port: int) -> None:
        """Start the HTTP endpoint on 127.0.0.1:port (a thread of prometheus_client)."""
        from prometheus_client import start_http_server

        from quantai_tui.core.errors import ConfigError

        try:
            self._server, _thread = start_http_server(port, addr="127.0.0.1", registry=self.registry)
        except OSError as exc:
            raise ConfigError(f"--metrics-port {port}: cannot listen on 127.0.0.1:{port}: "
                              f"{exc.strerror or exc}") from None
        log.info("Prometheus metrics on http://127.0.0.1:%d/metrics", port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # --- feeding from the bus -------------------------------------------------------------------
    def attach(self, kernel: Kernel) -> None:
        self._kernel = kernel
        bus, clock = kernel.bus, kernel.clock
        for kind in ("trades", "book", "quotes"):
            bus.subscribe(f"{kind}.>", self._market_handler(kind, clock.timestamp_ns), name=f"metrics:{kind}")
        bus.subscribe("orders.>", self._on_order, name="metrics:orders")
        bus.subscribe("risk", self._on_risk, name="metrics:risk")

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (metric._name, *labels)  # noqa: SLF001 - one bound child per label set
        c = self._children.get(key)
        if c is None:
            c = self._children[key] = metric.labels(*labels)
        return c

    def _market_handler(self, kind: str, now_ns: Callable[[], int]) -> Callable[[Any], None]:
        lat: dict[str, Any] = {}
        count: dict[str, Any] = {}
        books = self._last_book_ns
        tracks_book = kind != "trades"

        def on_market(ev: Any) -> None:
            now = now_ns()
            v = ev.venue
            h = lat.get(v)
            if h is None:
                h = lat[v] = self.feed_latency.labels(v, kind)
                count[v] = self.market_messages.labels(v, kind)
            h.observe(max(0, now - ev.ts_event) / 1e9)
            count[v].inc()
            if tracks_book:
                books[(v, ev.symbol)] = now

        return on_market

    def _on_order(self, ev: Any) -> None:
        name = type(ev).__name__
        venue = ev.venue
        coid = ev.client_order_id
        ref = self._orders.get(coid)
        if name == "OrderSubmitted":
            if len(self._orders) >= MAX_TRACKED_ORDERS:
                self._orders.pop(next(iter(self._orders)))
            mid = self._kernel.cache.mid(venue, ev.symbol) if self._kernel is not None else None
            self._orders[coid] = [ev.ts_init, mid, 1 if ev.side.value == "BUY" else -1, venue, False]
            self._child(self.submitted, venue).inc()
            return
        if ref is not None and ref[0] is not None and name in ("OrderAccepted", "OrderRejected", "OrderFilled"):
            self._child(self.round_trip, venue).observe(max(0, ev.ts_init - ref[0]) / 1e9)
            ref[0] = None  # the first answer only
        if name == "OrderFilled":
            self._child(self.fills, venue).inc()
            if ref is not None:
                if not ref[4]:
                    ref[4] = True
                    self._child(self.filled, venue).inc()
                mid = ref[1]
                if mid:
                    px = float(ev.last_px.as_decimal())
                    self._child(self.slippage, venue).observe(ref[2] * (px - mid) / mid * 1e4)
        elif name == "OrderRejected":
            self._child(self.rejected, venue).inc()
        elif name == "OrderCanceled":
            self._child(self.canceled, venue).inc()
        if ref is not None and self._kernel is not None:
            order = self._kernel.oms.get(coid)
            if order is None or not order.is_open:
                del self._orders[coid]

    def _on_risk(self, ev: Any) -> None:
        name = type(ev).__name__
        if name == "OrderDenied":
            self._child(self.denials, ev.check).inc()
        elif name == "KillSwitchEngaged":
            self.kills.inc()

    # --- state gauges (on the loop, once a second) ----------------------------------------------
    def refresh(self, kernel: Kernel, *, printed: int, backlog: int) -> None:
        pf = kernel.portfolio
        ccy = pf.currency
        self.pnl_realized.labels(ccy).set(float(pf.realized_pnl()))
        self.pnl_unrealized.labels(ccy).set(pf.unrealized_pnl())
        eq = pf.equity()
        self.equity.labels(ccy).set(eq)
        start = pf.day_start_equity
        self.pnl_day.labels(ccy).set(eq - start if start is not None else 0.0)
        self.open_orders.set(kernel.oms.open_count)
        state = kernel.risk.state
        self.halted.set(1 if state.value == "HALTED" else 0)
        for s in type(state):
            self.state.labels(s.value).set(1 if s is state else 0)
        for venue in kernel.venues:
            sub = self._child(self.submitted, venue)._value.get()  # noqa: SLF001
            done = self._child(self.filled, venue)._value.get()  # noqa: SLF001
            self.fill_rate.labels(venue).set(done / sub if sub else 0.0)
        self.loop_lag_p99.set(self.lag.p99())
        self.loop_lag_max.set(self.lag.max_s)
        store = kernel.store
        self.committed_seq.set(getattr(store, "committed_seq", 0))
        self.write_errors.set(getattr(store, "write_errors", 0))
        self.printed._value.set(printed)  # noqa: SLF001 - a counter mirrored from the printer
        self.backlog.set(backlog)
        positions = {(p.venue, p.symbol): float(p.qty) for p in pf.positions()}
        self._dynamic.positions = positions  # replaced whole: the scrape thread sees old or new


class _DynamicGauges:
    """Gauges whose label sets come and go (positions, book staleness), computed at scrape."""

    def __init__(self, last_book_ns: dict[tuple[str, str], int]) -> None:
        self.positions: dict[tuple[str, str], float] = {}
        self._books = last_book_ns  # written by the loop; copied at scrape (dict() holds the GIL)

    def describe(self) -> Iterator[Any]:
        return iter(())

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        pos = GaugeMetricFamily("quantai_position_qty", "signed position in base units", labels=["venue", "symbol"])
        for (v, s), q in self.positions.items():
            pos.add_metric([v, s], q)
        yield pos
        stale = GaugeMetricFamily("quantai_book_staleness_seconds", "seconds since the last book or quote update",
                                  labels=["venue", "symbol"])
        now = time.time_ns()
        for (v, s), ts in dict(self._books).items():
            stale.add_metric([v, s], max(0, now - ts) / 1e9)
        yield stale

"""The paper venue: simulated fills through core/fill_model.py against the market it is fed.

    paper = PaperExecutionClient("binance", report, clock, instrument=cache.find_instrument_of("binance"),
                                 book=lambda s: cache.book("binance", s), position=...)
    for kind, handler in paper.market_handlers(symbol).items():
        bus.subscribe(f"{kind}.binance.{symbol}", handler, priority=900)   # the kernel does this

The same client is the `sim` exchange's matching engine (venue "sim" over the sim market's
book) and the backtest venue. Latency is clock time: with latency_ms > 0 an order reaches the
matcher when a clock alert fires (a TestClock fires it when the replay gets there), so it also
works without an event loop; with 0 latency nothing here ever suspends.

The paper account (balances and positions of this venue) is an exact Ledger; the kernel seeds
it from the store on start (`restore`), which is how a paper account persists across restarts.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from quantai_tui.connectors.base_execution import BaseExecutionClient, Report
from quantai_tui.connectors.paper.records import PaperOrder, timeframe_ns
from quantai_tui.core.book import OrderBook
from quantai_tui.core.clock import Clock
from quantai_tui.core.enums import OrderSide, OrderStatus, OrderType
from quantai_tui.core.errors import VenueRejected
from quantai_tui.core.events import Bar, OrderAccepted, OrderBookDeltas, OrderFilled, QuoteTick, TradeTick
from quantai_tui.core.execution import AccountReport, FillReport, OrderRequest, OrderStatusReport, PositionReport
from quantai_tui.core.fill_model import CANCELED, EXPIRED, FILL, REJECTED, Execution, FillModel, Matcher, SimOrder
from quantai_tui.core.instruments import Instrument
from quantai_tui.core.positions import Ledger, NettingPosition
from quantai_tui.core.values import Price, Quantity

_BPS = Decimal("0.0001")


class PaperExecutionClient(BaseExecutionClient):
    supports_amend = True
    supports_trigger_amend = True

    def __init__(self, venue: str, report: Report, clock: Clock, *, instrument: Callable[[str], Instrument | None],
                 book: Callable[[str], OrderBook | None] | None = None,
                 position: Callable[[str], Decimal] | None = None, latency_ms: float = 0.0,
                 maker_fee_bps: Decimal | None = None, taker_fee_bps: Decimal | None = None,
                 slippage_bps: Decimal = Decimal(0), bar_mode: bool = False, track_account: bool = True) -> None:
        super().__init__(venue, report, clock, submit_timeout_s=None, request_timeout_s=None)
        self._instrument = instrument
        self._book = book or (lambda s: None)
        self._position = position
        self.latency_ns = int(latency_ms * 1_000_000)
        self.fills = FillModel(maker_fee=None if maker_fee_bps is None else maker_fee_bps * _BPS,
                               taker_fee=None if taker_fee_bps is None else taker_fee_bps * _BPS,
                               slippage_bps=slippage_bps, bar_mode=bar_mode)
        self.orders: dict[str, PaperOrder] = {}
        self.open: dict[str, PaperOrder] = {}
        self._closed: deque[str] = deque()  # oldest first; records beyond max_closed are forgotten
        self.max_closed = 1_000
        self.ledger = Ledger()
        # the venue's own books of the account (what account() reports to reconciliation); a
        # backtest never reconciles, so it skips that work per fill
        self.track_account = track_account
        self._vid = 0
        self._trade = 0
        self._in_flight: set[str] = set()

    # --- market data (the hot path) -------------------------------------------------------------------
    def matcher(self, symbol: str) -> Matcher | None:
        m = self.fills.matchers.get(symbol)
        if m is None:
            inst = self._instrument(symbol)
            if inst is None:
                return None
            m = self.fills.matcher(inst)
        return m

    def market_handlers(self, symbol: str) -> dict[str, Callable[[Any], None]]:
        """One handler per market kind for this symbol, to subscribe on the bus."""
        m = self.matcher(symbol)
        if m is None:
            return {}
        emit = self._emit
        on_quote, on_book, on_bar = m.on_quote, m.on_book, m.on_bar
        book = self._book

        slow_trade = m._trade  # noqa: SLF001

        def trade(ev: TradeTick) -> None:
            # Matcher.on_trade inlined (once per tick): with nothing resting near the price a
            # trade is two float comparisons and no call
            p = ev.price
            m.last_px = p
            if m.hot or p <= m.lo or p >= m.hi:
                r = slow_trade(p, ev.size, ev.ts_event)
                if r:
                    emit(r)

        def quote(ev: QuoteTick) -> None:
            r = on_quote(ev.bid, ev.bid_size, ev.ask, ev.ask_size, ev.ts_event)
            if r:
                emit(r)

        def book_update(ev: OrderBookDeltas) -> None:
            if m.orders:
                b = book(symbol)
                if b is not None:
                    r = on_book(b, ev.bids, ev.asks, ev.ts_event)
                    if r:
                        emit(r)

        def bar(ev: Bar) -> None:
            r = on_bar(ev.open, ev.high, ev.low, ev.close, ev.ts_event - timeframe_ns(ev.timeframe))
            if r:
                emit(r)

        return {"trades": trade, "quotes": quote, "book": book_update, "bars": bar}

    # --- orders -----------------------------------------------------------------------------------------
    async def _submit(self, order: OrderRequest) -> None:
        r = order
        self._place((r.client_order_id, r.venue, r.symbol, r.side, r.order_type, r.quantity, r.price, r.trigger_price,
                     r.time_in_force, r.post_only, r.reduce_only))

    def submit_now(self, client_order_id: str, symbol: str, side: OrderSide, order_type: OrderType, quantity: Quantity,
                   price: Price | None, trigger_price: Price | None, time_in_force: Any, post_only: bool,
                   reduce_only: bool) -> None:
        """`submit` without the request object or an await: this venue never waits for anything
        (latency is a clock alert), so the OMS calls it directly. The same bookkeeping and
        outcomes as BaseExecutionClient.submit (VenueRejected when refused)."""
        self.stats["submits"] += 1
        try:
            self._place((client_order_id, self.venue, symbol, side, order_type, quantity, price, trigger_price,
                         time_in_force, post_only, reduce_only))
        except VenueRejected:
            self.stats["rejected"] += 1
            raise

    def _place(self, f: tuple[Any, ...]) -> None:
        """An order's fields (OrderRequest's, in order) arrive at the venue's gateway."""
        coid, symbol = f[0], f[2]
        inst = self._instrument(symbol)
        if inst is None:
            raise VenueRejected(f"{self.venue} has no instrument {symbol}")
        if coid in self.orders or coid in self._in_flight:
            raise VenueRejected(f"duplicate client order id {coid}")
        if f[10] and self._position is not None:  # reduce-only
            pos = self._position(symbol)
            if not pos or (pos > 0) == (f[3] is OrderSide.BUY) or f[5].as_decimal() > abs(pos):
                raise VenueRejected(f"reduce-only order would not reduce position {pos}")
        if self.latency_ns:
            self._in_flight.add(coid)
            self.clock.set_alert(f"paper:{self.venue}:submit:{coid}", self.clock.timestamp_ns() + self.latency_ns,
                                 lambda _ev: self._arrive(f, inst))
        else:
            self._arrive(f, inst)

    def _arrive(self, f: tuple[Any, ...], inst: Instrument) -> None:
        coid, symbol = f[0], f[2]
        if self._in_flight:
            self._in_flight.discard(coid)
        m = self.fills.matchers.get(symbol) or self.fills.matcher(inst)
        self._vid += 1
        vid = f"P{self._vid}"
        now = self.clock.timestamp_ns()
        q = f[5]
        so = SimOrder(coid, f[3], f[4], q._raw if q._prec == m.size_prec else m.qty_raw(q), f[6], f[7], f[8], f[9],  # noqa: SLF001
                      f[10], vid, now)
        rec = PaperOrder(f, vid, inst, now)
        self.orders[coid] = rec
        self.open[coid] = rec
        out = m.submit(so, self._book(symbol), now)
        if out and out[0].kind == REJECTED and out[0].order is so:
            rec.status = OrderStatus.REJECTED
            self._close(coid)
            self.rejected(coid, symbol, out[0].reason, now)
            return
        rec.status = OrderStatus.ACCEPTED
        # BaseExecutionClient.accepted, inlined (once per order); nothing waits in between, so
        # the clock's reading at arrival is the time of the acceptance too
        self._report(OrderAccepted.make(coid, self.venue, symbol, vid, now, now))
        if out:
            self._emit(out)

    def _emit(self, execs: list[Execution]) -> None:
        report = self._report
        venue = self.venue
        for ex in execs:
            rec = self.orders.get(ex.order.coid)
            if rec is None:
                continue
            kind = ex.kind
            if kind == FILL:
                self._trade += 1
                vid = rec.venue_order_id
                tid = f"{vid}-{self._trade}"
                qty, price, fee = ex.qty, ex.price, ex.fee
                assert qty is not None and price is not None and fee is not None
                if self.track_account:
                    rec.add_fill(tid, qty, price, fee, ex.ts)
                    q = qty.as_decimal()
                    self.ledger.apply_fill(venue, rec.instrument, q if rec.side is OrderSide.BUY else -q,
                                           price.as_decimal(), fee.as_decimal(), fee.currency, ex.ts)
                elif not ex.order.leaves_raw:
                    rec.status = OrderStatus.FILLED
                if rec.status is OrderStatus.FILLED and self.open.pop(rec.coid, None) is not None:
                    # _close, inline (once per order)
                    closed = self._closed
                    closed.append(rec.coid)
                    while len(closed) > self.max_closed:
                        self.orders.pop(closed.popleft(), None)
                # BaseExecutionClient.filled, inlined (once per fill)
                now = self.clock.timestamp_ns()
                report(OrderFilled.make(rec.coid, venue, rec.symbol, vid, tid, rec.side, qty, price, fee,
                                        ex.liquidity, ex.ts or now, now))
            elif kind in (CANCELED, EXPIRED, REJECTED):
                rec.status = {CANCELED: OrderStatus.CANCELED, EXPIRED: OrderStatus.EXPIRED,
                              REJECTED: OrderStatus.REJECTED}[kind]
                self._close(rec.coid)
                if kind == CANCELED:
                    self.canceled(rec.coid, rec.symbol, rec.venue_order_id, ex.reason, ex.ts)
                elif kind == EXPIRED:
                    self.expired(rec.coid, rec.symbol, rec.venue_order_id, ex.ts)
                else:
                    self.rejected(rec.coid, rec.symbol, ex.reason, ex.ts)

    def _close(self, coid: str) -> None:
        if self.open.pop(coid, None) is not None:
            self._closed.append(coid)
            while len(self._closed) > self.max_closed:
                self.orders.pop(self._closed.popleft(), None)

    async def _cancel(self, client_order_id: str, symbol: str) -> None:
        rec = self.open.get(client_order_id)
        if rec is None:
            raise VenueRejected(f"order {client_order_id} is not open")
        if self.latency_ns:
            self.clock.set_alert(f"paper:{self.venue}:cancel:{client_order_id}",
                                 self.clock.timestamp_ns() + self.latency_ns, lambda _ev: self._do_cancel(rec, ""))
        else:
            self._do_cancel(rec, "")

    def _do_cancel(self, rec: PaperOrder, reason: str) -> None:
        if rec.coid not in self.open:
            return  # filled meanwhile
        m = self.fills.matchers.get(rec.symbol)
        if m is not None:
            m.cancel(rec.coid)
        rec.status = OrderStatus.CANCELED
        self._close(rec.coid)
        self.canceled(rec.coid, rec.symbol, rec.venue_order_id, reason)

    async def _cancel_all(self, symbol: str | None) -> bool:
        recs = [r for r in self.open.values() if symbol is None or r.symbol == symbol]
        if self.latency_ns:
            self.clock.set_alert(f"paper:{self.venue}:cancel_all:{self._vid}:{symbol}",
                                 self.clock.timestamp_ns() + self.latency_ns,
                                 lambda _ev: [self._do_cancel(r, "cancel all") for r in recs])
        else:
            for r in recs:
                self._do_cancel(r, "cancel all")
        return True

    async def _modify(self, client_order_id: str, symbol: str, quantity: Quantity | None, price: Price | None,
                      trigger: Price | None = None) -> None:
        rec = self.open.get(client_order_id)
        if rec is None:
            raise VenueRejected(f"order {client_order_id} is not open")
        m = self.fills.matchers.get(symbol)
        try:
            out = m.modify(client_order_id, quantity, price, self._book(symbol), self.clock.timestamp_ns(),
                           trigger) if m else None
        except ValueError as exc:
            raise VenueRejected(str(exc)) from None
        if out is None:
            raise VenueRejected(f"order {client_order_id} is not resting")
        rec.amend(quantity, price)
        self.updated(client_order_id, symbol, rec.quantity, rec.price, trigger=trigger)
        if out:
            self._emit(out)

    # --- reads --------------------------------------------------------------------------------------------
    async def _query_order(self, client_order_id: str, symbol: str) -> OrderStatusReport | None:
        rec = self.orders.get(client_order_id)
        return rec.status_report() if rec is not None else None

    async def _open_orders(self, symbol: str | None) -> list[OrderStatusReport]:
        return [r.status_report() for r in self.open.values() if symbol is None or r.symbol == symbol]

    async def _fills_since(self, ts_ns: int, symbol: str | None) -> list[FillReport]:
        out = []
        for r in self.orders.values():
            if symbol is None or r.symbol == symbol:
                out.extend(f for f in r.fill_reports() if f.ts_event >= ts_ns)
        return sorted(out, key=lambda f: f.ts_event)

    async def _account(self) -> AccountReport:
        bal = {a: (t, self.ledger.free(self.venue, a)) for a, t in self.ledger.balances.get(self.venue, {}).items()}
        pos = tuple(PositionReport(p.symbol, p.qty, p.avg_price, p.leverage)
                    for (v, _), p in self.ledger.positions.items() if v == self.venue and p.qty)
        return AccountReport(bal, pos)

    # --- restart -------------------------------------------------------------------------------------------
    def restore(self, balances: dict[str, Decimal], positions: list[NettingPosition],
                open_orders: list[tuple[OrderRequest, Quantity, str]]) -> None:
        """Seed the paper account and its resting orders from the engine's store (on start)."""
        for asset, total in balances.items():
            self.ledger.set_balance(self.venue, asset, total)
        for p in positions:
            inst = self._instrument(p.symbol)
            if inst is not None:
                self.ledger.position(self.venue, p.symbol, inst).set(p.qty, p.avg_price)
        for req, filled, vid in open_orders:
            inst = self._instrument(req.symbol)
            if inst is None:
                continue
            m = self.fills.matcher(inst)
            now = self.clock.timestamp_ns()
            so = SimOrder(req.client_order_id, req.side, req.order_type, m.qty_raw(req.quantity), req.price,
                          req.trigger_price, req.time_in_force, req.post_only, req.reduce_only, vid or "", now)
            so.leaves_raw = so.qty_raw - m.qty_raw(filled)
            rec = PaperOrder.of(req, vid or f"R{req.client_order_id}", inst, now)
            rec.filled = filled
            self.orders[req.client_order_id] = rec
            if req.order_type is OrderType.MARKET or so.leaves_raw <= 0:
                # a market order caught by the restart is not worked again: it ends here, and
                # reconciliation tells the engine so
                rec.status = OrderStatus.CANCELED
                continue
            rec.status = OrderStatus.PARTIALLY_FILLED if filled else OrderStatus.ACCEPTED
            self.open[req.client_order_id] = rec
            if so.leaves_raw > 0:
                out = m.submit(so, self._book(req.symbol), now)
                if out:
                    self._emit(out)

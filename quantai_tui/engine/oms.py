"""The order management system: every order of every venue goes through here.

Submit: client order id -> pre-trade risk -> OrderSubmitted appended *durably* (write-ahead
intent) -> the venue. A submit that raises or times out is never resent: the order goes
UNKNOWN and is resolved by looking it up by client order id (engine/oms_resolve.py).

Venues report back through `on_report` (the ExecutionClient's `report` callable). Each event
is applied to its order through the transition table (core/orders.py): an illegal one is
logged and dropped, a duplicate dropped silently; an applied one is stored, fills update the
portfolio, and then it is published on `orders.<venue>.<symbol>`. State after a restart is
rebuilt by replaying the stored order events through the same `apply`.

On the backtest path (`sync=True`) nothing here suspends: no timeouts, no gathers.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from quantai_tui.core.commands import ModifyOrder, SubmitOrder
from quantai_tui.core.enums import OrderStatus, OrderType, TradingState
from quantai_tui.core.errors import IllegalTransition, StoreError, VenueRejected
from quantai_tui.core.events import (
    Event,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderCancelRequested,
    OrderDenied,
    OrderEvent,
    OrderFilled,
    OrderRejected,
    OrderStatusUnknown,
    OrderSubmitted,
    OrderUpdateRejected,
    OrderUpdateRequested,
)
from quantai_tui.core.identifiers import ClientOrderIdGenerator
from quantai_tui.core.orders import Order
from quantai_tui.engine.oms_resolve import Resolver
from quantai_tui.engine.ports import ExecutionClient, OrderRequest
from quantai_tui.engine.risk import OrderIntent
from quantai_tui.engine.tasks import TaskGroup

if TYPE_CHECKING:
    from quantai_tui.core.clock import Clock
    from quantai_tui.engine.cache import Cache
    from quantai_tui.engine.journal import Journal
    from quantai_tui.engine.portfolio import Portfolio
    from quantai_tui.engine.risk import RiskEngine

log = logging.getLogger("quantai.oms")
_OPEN = frozenset(s for s in OrderStatus if s.is_open)


class OrderManager:
    def __init__(self, *, cache: Cache, risk: RiskEngine, portfolio: Portfolio, journal: Journal, clock: Clock,
                 venues: dict[str, ExecutionClient], ids: ClientOrderIdGenerator | None = None, sync: bool = False,
                 submit_timeout_s: float = 10.0, cancel_timeout_s: float = 10.0) -> None:
        self.cache = cache
        self.risk = risk
        self.portfolio = portfolio
        self.journal = journal
        self.clock = clock
        self.venues = venues
        self.ids = ids or ClientOrderIdGenerator()
        self.sync = sync
        self.submit_timeout_s = submit_timeout_s
        self.cancel_timeout_s = cancel_timeout_s
        self.tasks = TaskGroup("oms")
        self.resolver = Resolver(self)
        self.internal: set[str] = set()  # kill-switch flatten orders
        self.denials: deque[OrderDenied] = deque(maxlen=200)
        self.amend_refusal = ""  # why the venue refused the last amend (for the command's answer)
        self.orphans: deque[OrderEvent] = deque(maxlen=1000)  # reports for orders we never sent
        self.on_venue_event: Callable[[Event], None] | None = None
        self.stats = {"submitted": 0, "denied": 0, "illegal": 0, "duplicates": 0, "unknown": 0, "orphans": 0}
        self._zero_waiters: list[asyncio.Future[None]] = []
        self._closed: deque[str] = deque()
        self._topics: dict[tuple[str, str], str] = {}
        self._now_fns: dict[str, tuple[Any, Any]] = {}  # venue -> (client, its submit_now or None)
        # closed orders kept in memory (the UI's recent orders, late fills): ~2 KB each; older ones
        # live on in the store only, so memory stays flat however long the engine runs
        self.max_closed = 1_000

    # --- reading ----------------------------------------------------------------------------------
    def get(self, coid: str) -> Order | None:
        return self.cache.orders.get(coid)

    def open_orders(self, venue: str | None = None, symbol: str | None = None,
                    strategy_id: str | None = None) -> list[Order]:
        return self.cache.open_orders(venue, symbol, strategy_id)

    @property
    def open_count(self) -> int:
        return len(self.cache.open)

    def next_client_order_id(self) -> str:
        return self.ids.next(self.clock.timestamp_ns())

    # --- submit -----------------------------------------------------------------------------------
    async def submit(self, cmd: SubmitOrder, *, internal: bool = False, client_order_id: str | None = None) -> Order | None:
        """Risk-check, make the intent durable, send. Returns the order, or None if denied.
        `client_order_id` (else the command's, else a new one) names the order."""
        coid = client_order_id or cmd.client_order_id or self.ids.next(self.clock.timestamp_ns())
        got = self._open(cmd.venue, cmd.symbol, cmd.side, cmd.order_type, cmd.quantity, cmd.price, cmd.trigger_price,
                         cmd.time_in_force, cmd.post_only, cmd.reduce_only, cmd.strategy_id, coid, internal)
        if got is None:
            return None
        order, ev, client = got
        if self.journal.commits_at_once:
            if not self._intent_now(order, ev):
                return order
        else:
            try:
                await self.journal.emit_durable(ev, order.topic)  # write-ahead: durable before any venue sees it
            except StoreError as exc:
                self._not_stored(order, exc)
                return order
        if self.risk.env.state is TradingState.HALTED and not internal:
            self._halted_before_send(order)
            return order
        now_fn = self._submit_now_fn(order.venue, client)
        if now_fn is not None:
            self._send_now(order, now_fn)
        else:
            await self._send(order, client)
        return order

    def can_submit_now(self, venue: str) -> bool:
        """Can a submit on `venue` run to its end without suspending? (A backtest: the store
        commits an append when it is made and the venue takes an order without waiting.)"""
        return self.sync and self.journal.commits_at_once and self._submit_now_fn(venue, self.venues.get(venue)) is not None

    def submit_now(self, venue: str, symbol: str, side: Any, order_type: Any, quantity: Any, price: Any,
                   trigger_price: Any, time_in_force: Any, post_only: bool, reduce_only: bool, strategy_id: str,
                   pre_submit: Callable[[str], Any] | None = None) -> str | None:
        """`submit` without a command object or an await, when `can_submit_now(venue)` (the
        strategies' hot path in a backtest): the same checks, events and order of events. Returns
        the new order's client order id (told to `pre_submit` before anything else happens; the
        order may have been denied), or None, with nothing done, when it cannot run without
        suspending: then `await submit(...)`."""
        client = self.venues.get(venue)
        fns = self._now_fns.get(venue)  # _submit_now_fn, its cache hit inline
        now_fn = fns[1] if fns is not None and fns[0] is client else self._submit_now_fn(venue, client)
        if now_fn is None or not self.sync or not self.journal.commits_at_once:
            return None
        now = self.clock.timestamp_ns()  # one reading for the id and the intent: the same instant
        coid = self.ids.next(now)
        if pre_submit is not None:
            pre_submit(coid)
        got = self._open(venue, symbol, side, order_type, quantity, price, trigger_price, time_in_force, post_only,
                         reduce_only, strategy_id, coid, False, now)
        if got is None:
            return coid
        order, ev = got[0], got[1]
        try:  # the write-ahead intent: committed when appended (commits_at_once)
            self.journal.emit_durable_now(ev, order.topic)
        except StoreError as exc:
            self._not_stored(order, exc)
            return coid
        if self.risk.env.state is TradingState.HALTED:
            self._halted_before_send(order)
        else:
            self._send_now(order, now_fn)
        return coid

    def _open(self, venue: str, symbol: str, side: Any, order_type: Any, quantity: Any, price: Any, trigger_price: Any,
              tif: Any, post_only: bool, reduce_only: bool, strategy_id: str, coid: str,
              internal: bool, now: int | None = None) -> tuple[Order, OrderSubmitted, ExecutionClient] | None:
        """Checks and risk, then the order registered as open (before any await: concurrent risk
        checks count it): (order, its intent event, the venue), or None if denied. `now`: the
        clock's time when the caller already read it for this order."""
        if now is None:
            now = self.clock.timestamp_ns()
        cache = self.cache
        client = self.venues.get(venue)
        inst = cache.instruments.get((venue, symbol))
        if coid in cache.orders:
            return self._deny_fields(coid, strategy_id, venue, symbol, side, quantity, "client_order_id",
                                     f"client order id {coid} was already used")
        if client is None:
            return self._deny_fields(coid, strategy_id, venue, symbol, side, quantity, "venue",
                                     f"no execution venue {venue!r} is connected")
        if inst is None:
            return self._deny_fields(coid, strategy_id, venue, symbol, side, quantity, "instrument",
                                     f"unknown instrument {symbol} on {venue}")
        ref = price or trigger_price
        if ref is not None:
            ref_px: Decimal | None = ref.as_decimal()
        else:  # valued at the mark: MarketState.mark inline (mid, else the last trade)
            st = cache.markets.get((venue, symbol))
            ref_px = None
            if st is not None:
                b, a = st.bid, st.ask
                if b == b and a == a:
                    ref_px = Decimal(repr((b + a) / 2))
                elif st.last == st.last:
                    ref_px = Decimal(repr(st.last))
        intent = OrderIntent(venue, symbol, side, order_type, quantity, price, trigger_price, tif, post_only,
                             reduce_only, strategy_id, coid, inst, ref_px, None, internal)
        denial = self.risk.check(intent)
        if denial is not None:
            return self._deny_fields(coid, strategy_id, venue, symbol, side, quantity, denial.check, denial.reason)
        ev = OrderSubmitted.make(coid, venue, symbol, strategy_id, side, order_type, quantity, price, trigger_price, tif,
                                 post_only, reduce_only, now, now)
        order = Order(ev)
        topic = self._topics.get((venue, symbol))
        order.topic = topic if topic is not None else self._topic(venue, symbol)
        # registered before the intent is stored: concurrent risk checks count it as open
        cache.orders[coid] = order
        cache.open[coid] = order
        if internal:
            self.internal.add(coid)
        self.stats["submitted"] += 1
        return order, ev, client

    def _topic(self, venue: str, symbol: str) -> str:
        key = (venue, symbol)
        t = self._topics.get(key)
        if t is None:
            t = self._topics[key] = f"{OrderEvent.TOPIC}.{venue}.{symbol}"
        return t

    def _intent_now(self, order: Order, ev: OrderSubmitted) -> bool:
        """The write-ahead intent into a store that commits at once. False if it failed."""
        try:
            self.journal.emit_durable_now(ev, order.topic)
        except StoreError as exc:
            self._not_stored(order, exc)
            return False
        return True

    def _not_stored(self, order: Order, exc: StoreError) -> None:
        log.error("order %s not sent: its intent could not be stored: %s", order.client_order_id, exc)
        order.status = OrderStatus.REJECTED
        self.cache.open.pop(order.client_order_id, None)

    def _halted_before_send(self, order: Order) -> None:
        now = self.clock.timestamp_ns()
        self.apply(OrderCanceled.make(order.client_order_id, order.venue, order.symbol, "",
                                      "kill switch engaged before the order was sent", now, now))

    def _submit_now_fn(self, venue: str, client: ExecutionClient | None) -> Callable[..., None] | None:
        """The venue's `submit_now(fields...)` when it has one (a venue whose submit never waits,
        such as the paper venue: no timeout to arm, no request object to build)."""
        got = self._now_fns.get(venue)
        if got is None or got[0] is not client:
            got = self._now_fns[venue] = (client, getattr(client, "submit_now", None))
        return got[1]

    def _deny(self, cmd: SubmitOrder, coid: str, check: str, reason: str) -> None:
        return self._deny_fields(coid, cmd.strategy_id, cmd.venue, cmd.symbol, cmd.side, cmd.quantity, check, reason)

    def _deny_fields(self, coid: str, strategy_id: str, venue: str, symbol: str, side: Any, quantity: Any, check: str,
                     reason: str) -> None:
        now = self.clock.timestamp_ns()
        ev = OrderDenied.make(coid, strategy_id, venue, symbol, check, reason, now, now)
        self.stats["denied"] += 1
        self.denials.append(ev)
        log.info("order %s %s %s %s denied by %s: %s", coid, side.value, quantity, symbol, check, reason)
        self.journal.emit(ev)
        return None

    def _send_now(self, order: Order, submit_now: Callable[..., None]) -> None:
        """_send for a venue that never waits: the same outcomes, without a timeout or a request."""
        try:
            submit_now(order.client_order_id, order.symbol, order.side, order.order_type, order.quantity, order.price,
                       order.trigger_price, order.time_in_force, order.post_only, order.reduce_only)
        except VenueRejected as exc:
            self._report_local(order, OrderRejected, str(exc))
        except Exception as exc:  # the venue may or may not have it: never resend
            self._report_local(order, OrderStatusUnknown, f"submit failed: {exc!r}")

    async def _send(self, order: Order, client: ExecutionClient) -> None:
        req = OrderRequest(order.client_order_id, order.venue, order.symbol, order.side, order.order_type,
                           order.quantity, order.price, order.trigger_price, order.time_in_force, order.post_only,
                           order.reduce_only)
        try:
            if self.sync:
                await client.submit(req)
            else:
                async with asyncio.timeout(self.submit_timeout_s):
                    await client.submit(req)
        except VenueRejected as exc:
            self._report_local(order, OrderRejected, str(exc))
        except (TimeoutError, Exception) as exc:  # the venue may or may not have it: never resend
            reason = "submit timed out" if isinstance(exc, TimeoutError) else f"submit failed: {exc!r}"
            self._report_local(order, OrderStatusUnknown, reason)

    def _report_local(self, order: Order, cls: Any, reason: str) -> None:
        now = self.clock.timestamp_ns()
        self.apply(cls.make(order.client_order_id, order.venue, order.symbol, reason, now, now))

    # --- cancel / amend -----------------------------------------------------------------------------
    async def cancel(self, coid: str, reason: str = "") -> bool:
        """Ask the venue to cancel one order. False if it is not open here."""
        order = self.cache.orders.get(coid)
        if order is None or not order.is_open:
            return False
        if order.status is OrderStatus.PENDING_CANCEL:
            return True
        client = self.venues.get(order.venue)
        if client is None:
            return False
        self.request_cancel(order)
        await self._cancel_at_venue(order, client)
        return True

    def request_cancel(self, order: Order) -> None:
        """Record the intent to cancel (PENDING_CANCEL) without sending it yet."""
        if order.is_open and order.status is not OrderStatus.PENDING_CANCEL:
            now = self.clock.timestamp_ns()
            self.apply(OrderCancelRequested.make(order.client_order_id, order.venue, order.symbol, now, now))

    async def _cancel_at_venue(self, order: Order, client: ExecutionClient) -> None:
        try:
            if self.sync:
                await client.cancel(order.client_order_id, order.symbol)
            else:
                async with asyncio.timeout(self.cancel_timeout_s):
                    await client.cancel(order.client_order_id, order.symbol)
        except VenueRejected as exc:
            self._report_local(order, OrderCancelRejected, str(exc))
        except (TimeoutError, Exception) as exc:
            self._report_local(order, OrderStatusUnknown, f"cancel failed: {exc!r}")

    async def cancel_all(self, venue: str | None = None, symbol: str | None = None,
                         strategy_id: str | None = None) -> int:
        """Cancel every open order that matches; returns how many were asked. Without a strategy
        filter each venue gets one cancel-all (orders we do not know of go too)."""
        orders = [o for o in self.open_orders(venue, symbol, strategy_id) if o.client_order_id not in self.internal]
        for o in orders:
            self.request_cancel(o)
        if strategy_id is not None:
            for o in orders:
                client = self.venues.get(o.venue)
                if client is not None:
                    await self._cancel_at_venue(o, client)
            return len(orders)
        targets = [(name, c) for name, c in self.venues.items() if venue is None or name == venue]
        if self.sync:
            for name, c in targets:
                await self._cancel_all_at(name, c, symbol, orders)
        else:
            await asyncio.gather(*(self._cancel_all_at(name, c, symbol, orders) for name, c in targets))
        return len(orders)

    async def _cancel_all_at(self, name: str, client: ExecutionClient, symbol: str | None, orders: list[Order]) -> None:
        try:
            if self.sync:
                await client.cancel_all(symbol)
            else:
                async with asyncio.timeout(self.cancel_timeout_s):
                    await client.cancel_all(symbol)
        except Exception as exc:  # fall back to one cancel per order
            log.warning("cancel-all on %s failed (%r): canceling order by order", name, exc)
            for o in orders:
                if o.venue == name and o.is_open:
                    await self._cancel_at_venue(o, client)

    async def modify(self, cmd: ModifyOrder) -> bool:
        """Amend price and/or quantity (a waiting stop's trigger too) where the venue supports it
        (risk-checked like a submit). A venue's refusal is kept in `amend_refusal`."""
        self.amend_refusal = ""
        order = self.cache.orders.get(cmd.client_order_id)
        if order is None or order.status not in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED):
            return False
        client = self.venues.get(order.venue)
        sub = SubmitOrder(order.venue, order.symbol, order.side, order.order_type, cmd.quantity or order.quantity,
                          cmd.price or order.price, cmd.trigger_price or order.trigger_price, order.time_in_force,
                          order.post_only, order.reduce_only, order.strategy_id, order.client_order_id)
        if client is None or not getattr(client, "supports_amend", False):
            self._deny(sub, order.client_order_id, "amend", f"venue {order.venue} does not support amending orders")
            return False
        trigger = cmd.trigger_price if cmd.trigger_price is not None and cmd.trigger_price != order.trigger_price \
            else None
        if trigger is not None and order.order_type not in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT):
            self._deny(sub, order.client_order_id, "amend", f"a {order.order_type.value} order has no trigger to move")
            return False
        inst = self.cache.instrument(order.venue, order.symbol)
        ref = sub.price or sub.trigger_price
        intent = OrderIntent(order.venue, order.symbol, order.side, order.order_type, sub.quantity, sub.price,
                             sub.trigger_price, order.time_in_force, order.post_only, order.reduce_only,
                             order.strategy_id, order.client_order_id, inst,
                             ref.as_decimal() if ref is not None else None, order)
        denial = self.risk.check(intent)
        if denial is not None:
            self._deny(sub, order.client_order_id, denial.check, denial.reason)
            return False
        now = self.clock.timestamp_ns()
        self.apply(OrderUpdateRequested.make(order.client_order_id, order.venue, order.symbol, cmd.quantity, cmd.price,
                                             trigger, now, now))
        extra = {"trigger_price": trigger} if trigger is not None else {}  # venues without stops take none
        try:
            if self.sync:
                await client.modify(order.client_order_id, order.symbol, cmd.quantity, cmd.price, **extra)
            else:
                async with asyncio.timeout(self.cancel_timeout_s):
                    await client.modify(order.client_order_id, order.symbol, cmd.quantity, cmd.price, **extra)
        except VenueRejected as exc:
            self._report_local(order, OrderUpdateRejected, str(exc))
            self.amend_refusal = str(exc)
            return False
        except (TimeoutError, Exception) as exc:
            self._report_local(order, OrderStatusUnknown, f"amend failed: {exc!r}")
        return True

    # --- events from venues ---------------------------------------------------------------------------
    def on_report(self, event: Event) -> None:
        """The `report` callable venues are given."""
        if isinstance(event, OrderEvent):
            self.apply(event)
            return
        self.journal.emit(event)
        if self.on_venue_event is not None:
            self.on_venue_event(event)

    def apply(self, ev: OrderEvent) -> bool:
        """Apply one order event: store, book fills, publish. False if dropped."""
        coid = ev.client_order_id
        order = self.cache.orders.get(coid)
        if order is None:
            if type(ev) is OrderSubmitted and self.journal.replaying:
                return self._replay_submitted(ev)  # type: ignore[arg-type]
            self.stats["orphans"] += 1
            self.orphans.append(ev)
            log.warning("%s for an order this engine never sent (%s): kept for reconciliation", type(ev).__name__, coid)
            return False
        try:
            changed = order.apply(ev)
        except IllegalTransition as exc:
            self.stats["illegal"] += 1
            log.warning("illegal transition dropped: %s", exc)
            return False
        if not changed:
            self.stats["duplicates"] += 1
            return False
        status = order.status
        is_open = status in _OPEN
        cache = self.cache
        if is_open:
            cache.open[coid] = order
        elif cache.open.pop(coid, None) is not None:
            self._closed.append(coid)
            if len(self._closed) > self.max_closed:
                self._forget_oldest()
        journal = self.journal
        # the order's cached topic when the event names the same market (it always does, unless a
        # venue spells the symbol another way: then the event's own topic)
        topic = order.topic if ev.symbol == order.symbol and ev.venue == order.venue else None
        cls = type(ev)
        if cls is OrderFilled:
            after = self.portfolio.apply_fill(ev)  # type: ignore[arg-type]
            journal.emit(ev, topic)
            for e in after:
                journal.emit(e)
        else:
            journal.emit(ev, topic)
        if journal.replaying:
            return True
        if status is OrderStatus.UNKNOWN:
            self.stats["unknown"] += 1
            self.resolver.start(order)
        elif (is_open and self.risk.env.state is TradingState.HALTED and coid not in self.internal
              and cls in (OrderAccepted, OrderFilled)):
            # the venue took the order after the kill switch swept it: cancel this one by id
            self.tasks.spawn(self._halted_cancel(order), f"halted-cancel:{coid}")
        if self._zero_waiters and not cache.open:
            for f in self._zero_waiters:
                if not f.done():
                    f.set_result(None)
            self._zero_waiters.clear()
        return True

    def _forget_oldest(self) -> None:
        """Memory stays bounded on long runs: the oldest closed orders leave the cache (they stay in
        the store; a fill for one that late is kept as an orphan for reconciliation)."""
        while len(self._closed) > self.max_closed:
            old = self._closed.popleft()
            o = self.cache.orders.get(old)
            if o is not None and not o.is_open:
                del self.cache.orders[old]
                self.internal.discard(old)

    async def _halted_cancel(self, order: Order) -> None:
        client = self.venues.get(order.venue)
        if client is None or not order.is_open:
            return
        self.request_cancel(order)
        await self._cancel_at_venue(order, client)

    def _replay_submitted(self, ev: OrderSubmitted) -> bool:
        order = Order(ev)
        order.topic = self._topic(ev.venue, ev.symbol)
        self.cache.orders[ev.client_order_id] = order
        self.cache.open[ev.client_order_id] = order
        if ev.strategy_id == "kill_switch":
            self.internal.add(ev.client_order_id)
        return True

    def replay(self, ev: Event) -> None:
        """Rebuild from one stored event (the journal is in replay mode)."""
        if isinstance(ev, OrderEvent):
            self.apply(ev)

    async def wait_no_open_orders(self, timeout: float | None = None) -> bool:
        """True once no order is open (False on timeout)."""
        if not self.cache.open:
            return True
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._zero_waiters.append(fut)
        try:
            await asyncio.wait_for(fut, timeout)
            return True
        except TimeoutError:
            return False

    async def close(self) -> None:
        await self.tasks.close()


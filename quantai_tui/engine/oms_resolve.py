"""Resolving orders whose fate is UNKNOWN (a submit, cancel or amend that timed out or failed),
and bringing an order in line with a venue's report of it (also used by reconciliation).

Never by sending the order again: the order is looked up by client order id, with backoff
(reads may be retried). What the venue says becomes ordinary order events: the fills it made
(fetched trade by trade, applied once by trade id), then its status. An order the venue still
does not know after a few lookups never reached it: a cancel is sent to be sure (in case it is
still on its way) and the order is closed as CANCELED; a late fill would still be applied.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from quantai_tui.core.enums import LiquiditySide, OrderStatus
from quantai_tui.core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderUpdated,
)
from quantai_tui.core.orders import Order
from quantai_tui.core.values import Money

if TYPE_CHECKING:
    from quantai_tui.engine.oms import OrderManager
    from quantai_tui.engine.ports import ExecutionClient, FillReport, OrderStatusReport

log = logging.getLogger("quantai.oms")
FILL_LOOKBACK_NS = 60_000_000_000  # fetch fills from a minute before the order was submitted


def unresolved(order: Order) -> bool:
    s = order.status
    if s is OrderStatus.UNKNOWN:
        return True
    return s in (OrderStatus.PENDING_CANCEL, OrderStatus.PENDING_UPDATE) and order.previous_status is OrderStatus.UNKNOWN


def fill_event(f: FillReport, venue: str, ts_init: int) -> OrderFilled:
    fee = Money(f.fee, f.fee_currency or "USDT")
    return OrderFilled.make(f.client_order_id, venue, f.symbol, f.venue_order_id, f.trade_id, f.side, f.quantity,
                            f.price, fee, LiquiditySide.NONE, f.ts_event, ts_init)


def status_event(order: Order, rep: OrderStatusReport, ts: int) -> OrderEvent | None:
    """The event that moves `order` to the status the venue reports (fills aside)."""
    coid, v, s = order.client_order_id, order.venue, order.symbol
    st = rep.status
    if st in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED, OrderStatus.PENDING_CANCEL,
              OrderStatus.PENDING_UPDATE):
        return OrderAccepted.make(coid, v, s, rep.venue_order_id, ts, ts)
    if st is OrderStatus.CANCELED:
        return OrderCanceled.make(coid, v, s, rep.venue_order_id, "canceled at the venue", ts, ts)
    if st is OrderStatus.EXPIRED:
        return OrderExpired.make(coid, v, s, rep.venue_order_id, ts, ts)
    if st is OrderStatus.REJECTED:
        return OrderRejected.make(coid, v, s, "rejected at the venue", ts, ts)
    return None  # FILLED: the fills say it


class Resolver:
    def __init__(self, oms: OrderManager, delays: tuple[float, ...] = (0.05, 0.2, 0.5, 1.0, 2.0, 4.0, 8.0),
                 not_found_limit: int = 3) -> None:
        self.oms = oms
        self.delays = delays
        self.not_found_limit = not_found_limit
        self.active: set[str] = set()
        self.resolved = 0
        self.not_found = 0
        self.gave_up = 0

    def start(self, order: Order) -> None:
        coid = order.client_order_id
        if coid in self.active:
            return
        self.active.add(coid)
        self.oms.tasks.spawn(self._run(order), f"resolve:{coid}")

    async def _run(self, order: Order) -> None:
        oms = self.oms
        coid = order.client_order_id
        try:
            client = oms.venues.get(order.venue)
            if client is None:
                log.error("order %s is UNKNOWN and venue %s is gone", coid, order.venue)
                return
            misses = 0
            for delay in self.delays:
                if not unresolved(order):
                    break
                try:
                    rep = await client.query_order(coid, order.symbol)
                except Exception as exc:
                    log.warning("lookup of %s on %s failed: %r", coid, order.venue, exc)
                    await asyncio.sleep(delay)
                    continue
                if rep is None:
                    misses += 1
                    if misses >= self.not_found_limit:
                        break
                else:
                    await self.apply_report(order, rep, client)
                if unresolved(order):
                    await asyncio.sleep(delay)
            if not unresolved(order):
                self.resolved += 1
                log.info("order %s resolved: %s", coid, order.status.value)
            elif misses >= self.not_found_limit:
                self.not_found += 1
                await self._never_arrived(order, client)
            else:
                self.gave_up += 1
                log.error("order %s is still UNKNOWN after %d lookups; reconciliation will retry", coid, len(self.delays))
        finally:
            self.active.discard(coid)

    async def _never_arrived(self, order: Order, client: ExecutionClient) -> None:
        try:  # if it is still on its way, make sure it dies on arrival
            await client.cancel(order.client_order_id, order.symbol)
        except Exception:
            pass
        now = self.oms.clock.timestamp_ns()
        self.oms.apply(OrderCanceled.make(order.client_order_id, order.venue, order.symbol, "",
                                          "not found at the venue after the request failed", now, now))

    async def apply_report(self, order: Order, rep: OrderStatusReport, client: ExecutionClient) -> int:
        """Apply what the venue says about `order`; returns how many events changed it."""
        oms = self.oms
        changed = 0
        now = oms.clock.timestamp_ns()
        if rep.filled_qty > order.filled_qty:
            try:
                fills = await client.fills_since(order.ts_submitted - FILL_LOOKBACK_NS, order.symbol)
            except Exception as exc:
                log.warning("fills of %s could not be fetched: %r", order.client_order_id, exc)
                fills = []
            for f in sorted(fills, key=lambda f: f.ts_event):
                if f.client_order_id == order.client_order_id or (
                        order.venue_order_id and f.venue_order_id == order.venue_order_id):
                    changed += oms.apply(fill_event(f, order.venue, now))
            if rep.filled_qty > order.filled_qty:
                log.error("order %s: the venue reports %s filled, its fills explain %s", order.client_order_id,
                          rep.filled_qty, order.filled_qty)
        ev = status_event(order, rep, now)
        if ev is not None:
            changed += oms.apply(ev)
        if order.is_open and rep.quantity > order.filled_qty and (
                rep.quantity != order.quantity or (rep.price is not None and rep.price != order.price)):
            changed += oms.apply(OrderUpdated.make(order.client_order_id, order.venue, order.symbol, rep.quantity,
                                                   rep.price, None, now, now))
        return changed

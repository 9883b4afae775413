"""Orders: the model and its explicit transition table.

An Order changes only by applying an order event (`Order.apply`). The table below says, for
each status and event type, what the status becomes; a pair that is not in it is an
IllegalTransition: raised, logged by the OMS, never applied (the order is left untouched).

Special targets:
    STAY  the status does not change (a late or stray report, e.g. an accept after a fill);
          the event may still carry news (a venue order id, a new price) that is recorded
    PREV  back to the status before the pending request (cancel or amend refused / done)
    FILL  PARTIALLY_FILLED or FILLED by the filled quantity; a fill while a cancel or amend is
          pending keeps the pending status until the order is complete; a late fill on a
          CANCELED or EXPIRED order is applied (money moved) and makes it FILLED if complete

A fill whose trade id was already applied is a duplicate: `apply` returns False and nothing
changes. filled <= ordered always: a fill that would exceed the order is illegal.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from quantai_tui.core.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from quantai_tui.core.errors import IllegalTransition
from quantai_tui.core.events.orders import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderCancelRequested,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderStatusUnknown,
    OrderSubmitted,
    OrderUpdated,
    OrderUpdateRejected,
    OrderUpdateRequested,
)
from quantai_tui.core.values import EXACT, ZERO_QUANTITIES, Price, Quantity

S = OrderStatus
_ZERO = Decimal(0)
STAY: Final = "STAY"
PREV: Final = "PREV"
FILL: Final = "FILL"
Target = OrderStatus | str

_ACCEPTED_LIKE: dict[str, Target] = {
    "OrderAccepted": STAY,
    "OrderFilled": FILL,
    "OrderCancelRequested": S.PENDING_CANCEL,
    "OrderUpdateRequested": S.PENDING_UPDATE,
    "OrderUpdated": STAY,
    "OrderCanceled": S.CANCELED,
    "OrderExpired": S.EXPIRED,
    "OrderStatusUnknown": S.UNKNOWN,
    "OrderCancelRejected": STAY,
    "OrderUpdateRejected": STAY,
}
_DONE_LATE: dict[str, Target] = {  # a terminal order absorbs stray reports
    "OrderAccepted": STAY,
    "OrderCancelRejected": STAY,
    "OrderUpdateRejected": STAY,
    "OrderStatusUnknown": STAY,
}

TRANSITIONS: dict[OrderStatus, dict[str, Target]] = {
    S.INITIALIZED: {"OrderSubmitted": S.SUBMITTED},
    S.SUBMITTED: {
        "OrderAccepted": S.ACCEPTED,
        "OrderRejected": S.REJECTED,
        "OrderFilled": FILL,  # the fill overtook the ack
        "OrderCanceled": S.CANCELED,  # e.g. an IOC remainder, before any ack
        "OrderExpired": S.EXPIRED,
        "OrderStatusUnknown": S.UNKNOWN,  # the submit timed out
        "OrderCancelRequested": S.PENDING_CANCEL,
        "OrderCancelRejected": STAY,
    },
    S.ACCEPTED: {**_ACCEPTED_LIKE, "OrderRejected": S.REJECTED},  # a venue may refuse after its ack
    S.PARTIALLY_FILLED: dict(_ACCEPTED_LIKE),
    S.PENDING_CANCEL: {
        "OrderCanceled": S.CANCELED,
        "OrderCancelRejected": PREV,
        "OrderFilled": FILL,  # a fill after the cancel request
        "OrderExpired": S.EXPIRED,
        "OrderAccepted": STAY,  # the ack arrives after the cancel request
        "OrderRejected": S.REJECTED,  # never accepted in the first place (no fills: checked)
        "OrderCancelRequested": STAY,
        "OrderStatusUnknown": S.UNKNOWN,  # the cancel timed out
        "OrderUpdated": STAY,
        "OrderUpdateRejected": STAY,
    },
    S.PENDING_UPDATE: {
        "OrderUpdated": PREV,
        "OrderUpdateRejected": PREV,
        "OrderFilled": FILL,
        "OrderCanceled": S.CANCELED,
        "OrderExpired": S.EXPIRED,
        "OrderCancelRequested": S.PENDING_CANCEL,
        "OrderAccepted": STAY,
        "OrderStatusUnknown": S.UNKNOWN,
        "OrderCancelRejected": STAY,
    },
    S.UNKNOWN: {
        "OrderAccepted": S.ACCEPTED,  # resolved by lookup: the venue has it
        "OrderRejected": S.REJECTED,
        "OrderFilled": FILL,  # a fill on an order whose submit timed out
        "OrderCanceled": S.CANCELED,  # resolved: canceled, or never reached the venue
        "OrderExpired": S.EXPIRED,
        "OrderUpdated": S.ACCEPTED,
        "OrderCancelRequested": S.PENDING_CANCEL,
        "OrderStatusUnknown": STAY,
        "OrderCancelRejected": STAY,
        "OrderUpdateRejected": STAY,
    },
    S.FILLED: dict(_DONE_LATE),
    S.CANCELED: {**_DONE_LATE, "OrderFilled": FILL, "OrderCanceled": STAY, "OrderExpired": STAY},
    S.EXPIRED: {**_DONE_LATE, "OrderFilled": FILL, "OrderCanceled": STAY, "OrderExpired": STAY},
    S.REJECTED: {"OrderRejected": STAY, "OrderCancelRejected": STAY, "OrderStatusUnknown": STAY,
                 "OrderCanceled": STAY},
    S.DENIED: {},
}

_PENDING = (S.PENDING_CANCEL, S.PENDING_UPDATE)
# The same table keyed by event class (a dict lookup on type(event) instead of building its
# name per event); classes it does not know (a subclass) fall back to the by-name table.
_BY_CLASS: dict[OrderStatus, dict[type, Target]] = {
    st: {c: row[c.__name__] for c in (OrderAccepted, OrderCanceled, OrderCancelRejected, OrderCancelRequested,
                                      OrderExpired, OrderFilled, OrderRejected, OrderStatusUnknown, OrderSubmitted,
                                      OrderUpdated, OrderUpdateRejected, OrderUpdateRequested) if c.__name__ in row}
    for st, row in TRANSITIONS.items()
}


def transition(status: OrderStatus, event_type: str) -> Target:
    """The table's target for (status, event type); IllegalTransition when there is none."""
    target = TRANSITIONS[status].get(event_type)
    if target is None:
        raise IllegalTransition(f"{event_type} is not allowed in status {status.value}")
    return target


class Order:
    """One order as the engine knows it. Mutable, changed only through `apply`."""

    __slots__ = (
        "client_order_id", "venue", "symbol", "strategy_id", "side", "order_type", "quantity", "price",
        "trigger_price", "time_in_force", "post_only", "reduce_only", "status", "previous_status",
        "venue_order_id", "filled_qty", "notional", "fees", "trade_ids", "ts_submitted", "ts_last",
        "event_count", "last_reason", "topic",
    )

    def __init__(self, submitted: OrderSubmitted) -> None:
        self.client_order_id = submitted.client_order_id
        self.venue = submitted.venue
        self.symbol = submitted.symbol
        self.strategy_id = submitted.strategy_id
        self.side: OrderSide = submitted.side
        self.order_type: OrderType = submitted.order_type
        self.quantity: Quantity = submitted.quantity
        self.price: Price | None = submitted.price
        self.trigger_price: Price | None = submitted.trigger_price
        self.time_in_force: TimeInForce = submitted.time_in_force
        self.post_only = submitted.post_only
        self.reduce_only = submitted.reduce_only
        self.previous_status = S.INITIALIZED
        self.venue_order_id = ""
        p = submitted.quantity._prec  # noqa: SLF001
        self.filled_qty = ZERO_QUANTITIES[p] if 0 <= p <= 18 else Quantity.from_raw(0, p)
        self.notional = _ZERO  # sum of last_qty * last_px: avg_px = notional / filled
        self.fees: dict[str, Decimal] = {}
        self.trade_ids: set[str] = set()
        self.ts_submitted = submitted.ts_event
        self.ts_last = submitted.ts_event
        self.last_reason = ""
        self.topic = ""  # where its events are published (set by the OMS)
        if type(submitted) is OrderSubmitted:
            # what apply(submitted) does from INITIALIZED, without the table walk
            self.status = S.SUBMITTED
            self.event_count = 1
        else:
            self.status = S.INITIALIZED
            self.event_count = 0
            self.apply(submitted)

    # --- reading ------------------------------------------------------------------------------
    @property
    def leaves_qty(self) -> Quantity:
        return self.quantity - self.filled_qty  # type: ignore[return-value]

    @property
    def avg_px(self) -> Decimal | None:
        if not self.filled_qty:
            return None
        return EXACT.divide(self.notional, self.filled_qty.as_decimal())

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    @property
    def is_closed(self) -> bool:
        return self.status.is_closed

    @property
    def signed_leaves(self) -> Decimal:
        """Leaves quantity, negative for a sell."""
        q = self.leaves_qty.as_decimal()
        return q if self.side is OrderSide.BUY else -q

    def state(self) -> tuple[Any, ...]:
        """Everything that defines the order, for comparisons (replay == live)."""
        return (
            self.client_order_id, self.venue, self.symbol, self.strategy_id, self.side, self.order_type,
            self.quantity, self.price, self.trigger_price, self.time_in_force, self.post_only,
            self.reduce_only, self.status, self.previous_status, self.venue_order_id, self.filled_qty,
            self.notional, tuple(sorted(self.fees.items())), frozenset(self.trade_ids), self.ts_last,
        )

    def __repr__(self) -> str:
        px = f" @ {self.price}" if self.price is not None else ""
        return (f"Order({self.client_order_id} {self.side.value} {self.order_type.value} {self.quantity}{px} "
                f"{self.venue}:{self.symbol} {self.status.value} filled {self.filled_qty})")

    # --- changing -----------------------------------------------------------------------------
    def apply(self, event: OrderEvent) -> bool:
        """Apply one event. True if it changed the order, False for a duplicate; raises
        IllegalTransition (and leaves the order untouched) when it does not fit."""
        if event.client_order_id != self.client_order_id:
            raise IllegalTransition(f"event for {event.client_order_id} applied to order {self.client_order_id}")
        status = self.status
        cls = type(event)
        target = _BY_CLASS[status].get(cls)
        if target is FILL:
            return self._fill(event, status)  # type: ignore[arg-type]
        name = cls.__name__
        if target is None:
            target = TRANSITIONS[status].get(name)
            if target is None:
                raise IllegalTransition(
                    f"order {self.client_order_id}: {name} is not allowed in status {status.value}"
                )
            if target is FILL:
                return self._fill(event, status)  # type: ignore[arg-type]
        if target is S.REJECTED and self.filled_qty._raw:
            raise IllegalTransition(f"order {self.client_order_id}: rejected after fills")
        if cls is OrderAccepted:  # _record's first case, inline (every order is accepted once)
            vid = event.venue_order_id  # type: ignore[attr-defined]
            changed = False
            if vid and vid != self.venue_order_id:
                self.venue_order_id = vid
                changed = True
        else:
            changed = self._record(event, name)
        if target is STAY:
            new = status
        elif target is PREV:
            new = self.previous_status
        else:
            new = target  # type: ignore[assignment]
        if new is S.ACCEPTED and self.filled_qty._raw:
            new = S.PARTIALLY_FILLED  # an order with fills that is open again
        if new is not status:
            if new in _PENDING and status not in _PENDING:
                self.previous_status = status
            elif new in _PENDING:
                pass  # pending update -> pending cancel keeps the pre-request status
            self.status = new
            changed = True
        if changed:
            self.ts_last = event.ts_event
            self.event_count += 1
        return changed

    def _record(self, event: OrderEvent, name: str) -> bool:
        """The news an event carries besides the status; True if anything changed. Validates
        before it writes anything, so an illegal event leaves the order untouched."""
        if name == "OrderSubmitted":
            return True
        if name == "OrderAccepted":
            vid = event.venue_order_id  # type: ignore[attr-defined]
            if vid and vid != self.venue_order_id:
                self.venue_order_id = vid
                return True
            return False
        if name == "OrderUpdated":
            ev: OrderUpdated = event  # type: ignore[assignment]
            if ev.quantity <= self.filled_qty:  # an amend leaves something to fill
                raise IllegalTransition(
                    f"order {self.client_order_id}: updated quantity {ev.quantity} is not above filled {self.filled_qty}"
                )
            changed = ev.quantity != self.quantity or ev.price != self.price or ev.trigger_price != self.trigger_price
            self.quantity = ev.quantity
            if ev.price is not None:
                self.price = ev.price
            if ev.trigger_price is not None:
                self.trigger_price = ev.trigger_price
            return changed
        reason = getattr(event, "reason", "")
        if reason:
            self.last_reason = reason
        if name in ("OrderCanceled", "OrderExpired"):
            vid = event.venue_order_id  # type: ignore[attr-defined]
            if vid and not self.venue_order_id:
                self.venue_order_id = vid
                return True
        return False

    def _fill(self, fill: OrderFilled, status: OrderStatus) -> bool:
        # once per fill: raw integers of the exact values (their slots read directly, not
        # through properties), Decimals only for the running notional and fees
        if fill.trade_id in self.trade_ids:
            return False  # applied once
        if fill.side is not self.side:
            raise IllegalTransition(f"order {self.client_order_id}: a {fill.side.value} fill on a {self.side.value} order")
        last, prev, qty = fill.last_qty, self.filled_qty, self.quantity
        last_raw, lp = last._raw, last._prec
        if not last_raw:
            raise IllegalTransition(f"order {self.client_order_id}: a fill of zero")
        if lp == prev._prec == qty._prec:  # the usual case, in integers
            raw = prev._raw + last_raw
            over = raw > qty._raw
            filled = Quantity.from_raw(raw, lp)
            complete = raw == qty._raw
        else:
            filled = prev + last  # type: ignore[assignment]
            over = filled > qty
            complete = filled == qty
        if over:
            raise IllegalTransition(
                f"order {self.client_order_id}: fill {fill.trade_id} of {fill.last_qty} would fill "
                f"{filled} of {self.quantity}"
            )
        self.filled_qty = filled  # type: ignore[assignment]
        p = fill.last_px
        self.notional = EXACT.add(self.notional, EXACT.scaleb(Decimal(last_raw * p._raw), -(lp + p._prec)))
        fee = fill.fee
        amount = fee._amount
        cur = fee._currency
        fees = self.fees
        fees[cur] = EXACT.add(fees.get(cur, _ZERO), EXACT.scaleb(Decimal(amount._raw), -amount._prec))
        self.trade_ids.add(fill.trade_id)
        if fill.venue_order_id and not self.venue_order_id:
            self.venue_order_id = fill.venue_order_id
        if complete:
            self.status = S.FILLED
        elif status in _PENDING:
            self.previous_status = S.PARTIALLY_FILLED
        elif status in (S.CANCELED, S.EXPIRED):
            pass  # the remainder stays canceled
        else:
            self.status = S.PARTIALLY_FILLED
        self.ts_last = fill.ts_event
        self.event_count += 1
        return True


ORDER_EVENT_NAMES = (
    "OrderSubmitted", "OrderAccepted", "OrderRejected", "OrderFilled", "OrderCancelRequested", "OrderCanceled",
    "OrderCancelRejected", "OrderUpdateRequested", "OrderUpdated", "OrderUpdateRejected", "OrderExpired",
    "OrderStatusUnknown",
)

# Every event type the table knows is an order event (kept in step with core/events/orders.py).
assert {c.__name__ for c in (OrderAccepted, OrderCanceled, OrderCancelRejected, OrderCancelRequested,
                             OrderExpired, OrderFilled, OrderRejected, OrderStatusUnknown, OrderSubmitted,
                             OrderUpdated, OrderUpdateRejected, OrderUpdateRequested)} == set(ORDER_EVENT_NAMES)


def transition_table_markdown() -> str:
    """The table as Markdown rows (docs/trading.md is generated from this)."""
    names = [n.removeprefix("Order") for n in ORDER_EVENT_NAMES]
    lines = ["| status | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for status, row in TRANSITIONS.items():
        cells = []
        for n in ORDER_EVENT_NAMES:
            t = row.get(n)
            cells.append("—" if t is None else (t if isinstance(t, str) and not isinstance(t, OrderStatus) else t.value))
        lines.append(f"| {status.value} | " + " | ".join(cells) + " |")
    return "\n".join(lines)

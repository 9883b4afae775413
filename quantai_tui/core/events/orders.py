"""Order lifecycle events, all on topic orders.<venue>.<symbol>.

OrderSubmitted is the write-ahead intent: it is durable in the store before a venue sees the
order. A partial fill and a final fill are both OrderFilled; the OMS derives the status.
"""

from __future__ import annotations

from quantai_tui.core.enums import LiquiditySide, OrderSide, OrderType, TimeInForce
from quantai_tui.core.events.base import Event, event, ts
from quantai_tui.core.values import Money, Price, Quantity


class OrderEvent(Event):
    __slots__ = ()
    TOPIC = "orders"
    client_order_id: str
    venue: str
    symbol: str


@event
class OrderSubmitted(OrderEvent):
    client_order_id: str
    venue: str
    symbol: str
    strategy_id: str
    side: OrderSide
    order_type: OrderType
    quantity: Quantity
    price: Price | None = None
    trigger_price: Price | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    reduce_only: bool = False
    ts_event: int = ts()
    ts_init: int = ts()


@event
class OrderAccepted(OrderEvent):
    client_order_id: str
    venue: str
    symbol: str
    venue_order_id: str
    ts_event: int = ts()
    ts_init: int = ts()


@event
class OrderRejected(OrderEvent):
    client_order_id: str
    venue: str
    symbol: str
    reason: str
    ts_event: int = ts()
    ts_init: int = ts()


@event
class OrderCancelRequested(OrderEvent):
    client_order_id: str
    venue: str
    symbol: str
    ts_event: int = ts()
    ts_init: int = ts()


@event
class OrderCanceled(OrderEvent):
    client_order_id: str
    venue: str
    symbol: str
    venue_order_id: str = ""
    reason: str = ""
    ts_event: int = ts()
    ts_init: int = ts()


@event
class OrderCancelRejected(OrderEvent):
    """The venue refused a cancel (usually: already filled or gone)."""

    client_order_id: str
    venue: str
    symbol: str
    reason: str
    ts_event: int = ts()
    ts_init: int = ts()


@event
class OrderExpired(OrderEvent):
    client_order_id: str
    venue: str
    symbol: str
    venue_order_id: str = ""
    ts_event: int = ts()
    ts_init: int = ts()


@event
class OrderUpdateRequested(OrderEvent):
    client_order_id: str
    venue: str
    symbol: str
    quantity: Quantity | None = None
    price: Price | None = None
    trigger_price: Price | None = None
    ts_event: int = ts()
    ts_init: int = ts()


@event
class OrderUpdated(OrderEvent):
    client_order_id: str
    venue: str
    symbol: str
    quantity: Quantity
    price: Price | None = None
    trigger_price: Price | None = None
    ts_event: int = ts()
    ts_init: int = ts()


@event
class OrderUpdateRejected(OrderEvent):
    """The venue refused an amend; the order keeps its previous price and quantity."""

    client_order_id: str
    venue: str
    symbol: str
    reason: str
    ts_event: int = ts()
    ts_init: int = ts()


@event
class OrderFilled(OrderEvent):
    """One execution. `trade_id` is unique per venue and symbol: a fill seen twice applies once."""

    client_order_id: str
    venue: str
    symbol: str
    venue_order_id: str
    trade_id: str
    side: OrderSide
    last_qty: Quantity
    last_px: Price
    fee: Money
    liquidity: LiquiditySide = LiquiditySide.TAKER
    ts_event: int = ts()
    ts_init: int = ts()


@event
class OrderStatusUnknown(OrderEvent):
    """A submit or cancel timed out: the venue may or may not have it. Resolved by looking the
    order up by client order id, never by sending it again."""

    client_order_id: str
    venue: str
    symbol: str
    reason: str
    ts_event: int = ts()
    ts_init: int = ts()


ORDER_EVENTS = (
    OrderSubmitted,
    OrderAccepted,
    OrderRejected,
    OrderCancelRequested,
    OrderCanceled,
    OrderCancelRejected,
    OrderExpired,
    OrderUpdateRequested,
    OrderUpdated,
    OrderFilled,
    OrderStatusUnknown,
    OrderUpdateRejected,
)

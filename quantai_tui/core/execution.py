"""What an execution venue is asked and what it answers: plain dataclasses, so venues (which sit
below the engine and never import it) can build them. `engine/ports.py` re-exports them next to
the ExecutionClient protocol they belong to."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from quantai_tui.core.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from quantai_tui.core.values import Price, Quantity


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What a venue is asked to do: an order whose intent is already durable."""

    client_order_id: str
    venue: str
    symbol: str
    side: OrderSide
    order_type: OrderType
    quantity: Quantity
    price: Price | None = None
    trigger_price: Price | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    reduce_only: bool = False


@dataclass(frozen=True, slots=True)
class OrderStatusReport:
    """A venue's view of one order (lookups, reconciliation)."""

    client_order_id: str
    venue_order_id: str
    symbol: str
    side: OrderSide
    order_type: OrderType
    status: OrderStatus
    quantity: Quantity
    filled_qty: Quantity
    price: Price | None = None
    avg_px: Price | None = None
    ts_last: int = 0
    trigger_price: Price | None = None  # a stop's, where the venue reports it


@dataclass(frozen=True, slots=True)
class FillReport:
    client_order_id: str
    venue_order_id: str
    trade_id: str
    symbol: str
    side: OrderSide
    quantity: Quantity
    price: Price
    fee: Decimal
    fee_currency: str
    ts_event: int


@dataclass(frozen=True, slots=True)
class PositionReport:
    symbol: str
    quantity: Decimal  # signed: > 0 long, < 0 short
    avg_price: Decimal
    leverage: Decimal = Decimal(1)


@dataclass(frozen=True, slots=True)
class AccountReport:
    balances: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)  # asset -> (total, free)
    positions: tuple[PositionReport, ...] = ()

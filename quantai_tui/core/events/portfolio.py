"""Position and account events. Topics: positions.<venue>.<symbol>, account.<venue>."""

from __future__ import annotations

from decimal import Decimal

from quantai_tui.core.enums import PositionSide
from quantai_tui.core.events.base import Event, event, ts
from quantai_tui.core.values import Money, Price, Quantity


class PositionEvent(Event):
    __slots__ = ()
    TOPIC = "positions"


@event
class PositionOpened(PositionEvent):
    venue: str
    symbol: str
    side: PositionSide
    quantity: Quantity
    avg_price: Price
    realized_pnl: Money
    ts_event: int = ts()
    ts_init: int = ts()


@event
class PositionChanged(PositionEvent):
    venue: str
    symbol: str
    side: PositionSide
    quantity: Quantity
    avg_price: Price
    realized_pnl: Money
    unrealized_pnl: Money
    ts_event: int = ts()
    ts_init: int = ts()


@event
class PositionClosed(PositionEvent):
    venue: str
    symbol: str
    realized_pnl: Money
    ts_event: int = ts()
    ts_init: int = ts()


@event
class BalanceUpdated(Event):
    TOPIC = "account"
    venue: str
    asset: str
    total: Decimal
    free: Decimal
    ts_event: int = ts()
    ts_init: int = ts()


@event
class PositionAdjusted(PositionEvent):
    """The position was set to the venue's figures by reconciliation (a difference the store's
    fills did not explain). `quantity` is signed: > 0 long, < 0 short, 0 flat."""

    venue: str
    symbol: str
    quantity: Decimal
    avg_price: Decimal
    reason: str
    ts_event: int = ts()
    ts_init: int = ts()

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

"""Risk and kill-switch events. Topic: risk."""

from __future__ import annotations

from decimal import Decimal

from quantai_tui.core.enums import TradingState
from quantai_tui.core.events.base import Event, event, ts


class RiskEvent(Event):
    __slots__ = ()
    TOPIC = "risk"


@event
class OrderDenied(RiskEvent):
    """A pre-trade check refused an order: it never reached a venue. `check` names the check,
    `reason` carries its numbers (e.g. "notional 12,000.00 > max 10,000.00")."""

    client_order_id: str
    strategy_id: str
    venue: str
    symbol: str
    check: str
    reason: str
    ts_event: int = ts()
    ts_init: int = ts()


@event
class TradingStateChanged(RiskEvent):
    state: TradingState
    previous: TradingState
    reason: str
    ts_event: int = ts()
    ts_init: int = ts()


@event
class KillSwitchEngaged(RiskEvent):
    reason: str
    source: str  # "tui", "signal", "cli", "risk:<check>" ...
    flatten: bool = False
    ts_event: int = ts()
    ts_init: int = ts()


@event
class KillSwitchReleased(RiskEvent):
    reason: str
    source: str
    ts_event: int = ts()
    ts_init: int = ts()


@event
class EquityBaseline(RiskEvent):
    """The equity the daily-loss and drawdown checks measure against, in the valuation
    currency: the equity at the start of the UTC day and the peak so far. Stored so a restart
    cannot reset the limits."""

    day_start_ns: int
    day_start_equity: Decimal
    peak_equity: Decimal
    currency: str
    ts_event: int = ts()
    ts_init: int = ts()

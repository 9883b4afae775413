"""Commands: imperative, immutable requests to the engine. The UI, the CLI, strategies and
the AI only ever *ask* through these; the engine decides (risk checks, kill switch) and
answers with events."""

from __future__ import annotations

from dataclasses import dataclass

from quantai_tui.core.enums import OrderSide, OrderType, TimeInForce, TradingState
from quantai_tui.core.values import Price, Quantity


@dataclass(frozen=True, slots=True)
class Command:
    pass


@dataclass(frozen=True, slots=True)
class SubmitOrder(Command):
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
    strategy_id: str = "manual"
    client_order_id: str | None = None  # assigned by the OMS when None


@dataclass(frozen=True, slots=True)
class CancelOrder(Command):
    client_order_id: str
    venue: str = ""
    symbol: str = ""


@dataclass(frozen=True, slots=True)
class CancelAllOrders(Command):
    venue: str | None = None  # None: every venue
    symbol: str | None = None  # None: every symbol
    strategy_id: str | None = None


@dataclass(frozen=True, slots=True)
class ModifyOrder(Command):
    client_order_id: str
    quantity: Quantity | None = None
    price: Price | None = None
    trigger_price: Price | None = None


@dataclass(frozen=True, slots=True)
class EngageKillSwitch(Command):
    reason: str
    source: str
    flatten: bool | None = None  # None: as configured


@dataclass(frozen=True, slots=True)
class ReleaseKillSwitch(Command):
    reason: str
    source: str


@dataclass(frozen=True, slots=True)
class SetTradingState(Command):
    state: TradingState
    reason: str
    source: str

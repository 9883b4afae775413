"""Immutable views of engine state, made by the bridge and drawn by widgets.

Widgets never hold engine objects: a view is a snapshot taken at one moment, cheap to compare,
safe to keep. No textual import here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from quantai_tui.core.enums import ConnectionState, OrderStatus, TradingMode, TradingState


@dataclass(frozen=True, slots=True)
class BookView:
    venue: str
    symbol: str
    bids: tuple[tuple[float, float], ...]  # best first
    asks: tuple[tuple[float, float], ...]  # best first
    price_precision: int = 2
    size_precision: int = 4
    last_price: float | None = None
    last_side: int = 0  # AggressorSide: 1 buyer, 2 seller
    last_seq: int = 0  # increases with every trade seen, drives the flash
    mine: frozenset[float] = frozenset()  # limit prices of our open orders on this symbol (marked)

    @property
    def spread(self) -> float | None:
        if not self.bids or not self.asks:
            return None
        return self.asks[0][0] - self.bids[0][0]

    @property
    def mid(self) -> float | None:
        if not self.bids or not self.asks:
            return None
        return (self.asks[0][0] + self.bids[0][0]) / 2


@dataclass(frozen=True, slots=True)
class Candle:
    start_ns: int
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class ChartView:
    symbol: str
    timeframe: str
    candles: tuple[Candle, ...]
    price_precision: int = 2


@dataclass(frozen=True, slots=True)
class OrderView:
    client_order_id: str
    venue: str
    symbol: str
    side: str
    order_type: str
    quantity: str
    filled: str
    price: str  # "" for market orders
    status: OrderStatus
    strategy_id: str = "manual"
    ts_ns: int = 0
    reason: str = ""
    trigger: str = ""  # a stop order's trigger price

    @property
    def is_open(self) -> bool:
        return self.status.is_open


@dataclass(frozen=True, slots=True)
class PositionView:
    venue: str
    symbol: str
    quantity: Decimal  # signed: > 0 long
    avg_price: Decimal
    mark: Decimal | None
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    currency: str = "USDT"


@dataclass(frozen=True, slots=True)
class AccountView:
    equity: Decimal
    day_pnl: Decimal
    currency: str = "USDT"


@dataclass(frozen=True, slots=True)
class StatusView:
    venue: str
    symbol: str
    mode: TradingMode
    connection: ConnectionState
    stale: bool
    account: AccountView
    trading_state: TradingState
    kill_switch: bool
    account_name: str = ""
    strategies: tuple[str, ...] = field(default_factory=tuple)
    engine_error: str = ""  # the engine failed to start (the Log pane has why)

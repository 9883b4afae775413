"""Enumerations of the domain. Values are stable strings: they are stored in the event log."""

from __future__ import annotations

from enum import Enum, IntEnum


class StrEnum(str, Enum):
    def __str__(self) -> str:
        return self.value


class OrderSide(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        return 1 if self is OrderSide.BUY else -1

    @property
    def opposite(self) -> OrderSide:
        return OrderSide.SELL if self is OrderSide.BUY else OrderSide.BUY


class AggressorSide(IntEnum):
    """Who crossed the spread on a trade. An IntEnum: it sits on the market-data hot path."""

    NONE = 0
    BUYER = 1
    SELLER = 2


class OrderType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP_MARKET = "STOP_MARKET"
    STOP_LIMIT = "STOP_LIMIT"


class TimeInForce(StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class OrderStatus(StrEnum):
    INITIALIZED = "INITIALIZED"  # created, intent not yet durable
    SUBMITTED = "SUBMITTED"  # intent durable, sent to the venue
    ACCEPTED = "ACCEPTED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    PENDING_CANCEL = "PENDING_CANCEL"
    PENDING_UPDATE = "PENDING_UPDATE"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    DENIED = "DENIED"  # refused by pre-trade risk: never reached a venue
    UNKNOWN = "UNKNOWN"  # submission timed out: resolved by lookup, never blindly resent

    @property
    def is_open(self) -> bool:
        return self in _OPEN

    @property
    def is_closed(self) -> bool:
        return self in _CLOSED


_OPEN = frozenset(
    {
        OrderStatus.SUBMITTED,
        OrderStatus.ACCEPTED,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.PENDING_CANCEL,
        OrderStatus.PENDING_UPDATE,
        OrderStatus.UNKNOWN,
    }
)
_CLOSED = frozenset(
    {
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.REJECTED,
        OrderStatus.EXPIRED,
        OrderStatus.DENIED,
    }
)


class LiquiditySide(StrEnum):
    MAKER = "MAKER"
    TAKER = "TAKER"
    NONE = "NONE"


class InstrumentKind(StrEnum):
    SPOT = "spot"
    PERPETUAL = "swap"  # ccxt's name for a perpetual
    FUTURE = "future"


class PositionSide(StrEnum):
    FLAT = "FLAT"
    LONG = "LONG"
    SHORT = "SHORT"


class TradingState(StrEnum):
    """ACTIVE: orders flow. REDUCING: only orders that shrink a position. HALTED: none (kill switch)."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


class TradingMode(StrEnum):
    BACKTEST = "backtest"
    PAPER = "paper"
    LIVE = "live"


class ConnectionState(StrEnum):
    CONNECTING = "CONNECTING"
    CONNECTED = "CONNECTED"
    DISCONNECTED = "DISCONNECTED"
    RECONNECTING = "RECONNECTING"
    RESYNCING = "RESYNCING"


class BookAction(IntEnum):
    """Not needed on the wire (size 0 means delete) but handy for readers of recordings."""

    SET = 0
    DELETE = 1

"""Market data events. Prices and sizes are floats here: this is the hot path, and a float
parsed from an exchange's decimal string (<= 15 significant digits) converts back exactly;
the ledger turns them into exact Price/Quantity through the instrument (make_price/make_qty).

Topics: trades.<venue>.<symbol>, quotes.<venue>.<symbol>, book.<venue>.<symbol>,
bars.<venue>.<symbol> (see `market_topic`).
"""

from __future__ import annotations

from quantai_tui.core.enums import AggressorSide
from quantai_tui.core.events.base import Event, event, ts

Level = tuple[float, float]  # (price, size); size 0 deletes the level


def market_topic(kind: str, venue: str, symbol: str) -> str:
    return f"{kind}.{venue}.{symbol}"


@event
class TradeTick(Event):
    TOPIC = "trades"
    venue: str
    symbol: str
    price: float
    size: float
    aggressor: AggressorSide
    trade_id: str
    ts_event: int = ts()
    ts_init: int = ts()


@event
class QuoteTick(Event):
    """Best bid and offer."""

    TOPIC = "quotes"
    venue: str
    symbol: str
    bid: float
    bid_size: float
    ask: float
    ask_size: float
    ts_event: int = ts()
    ts_init: int = ts()

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2


@event
class Bar(Event):
    """An OHLCV bar. ts_event is the bar's close time (end of its interval): a bar is only
    known once it has closed, which keeps replays free of look-ahead. `closed` is False for the
    live, still-forming bar some venues stream."""

    TOPIC = "bars"
    venue: str
    symbol: str
    timeframe: str  # "1m", "1h", "1d" ...
    open: float
    high: float
    low: float
    close: float
    volume: float
    closed: bool = True
    ts_event: int = ts()
    ts_init: int = ts()


@event
class OrderBookDeltas(Event):
    """Changes to an L2 book (or, with is_snapshot, the whole book). A level with size 0 is
    removed. `sequence` is the venue's update id after this message (0 when it has none)."""

    TOPIC = "book"
    venue: str
    symbol: str
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    is_snapshot: bool
    sequence: int
    ts_event: int = ts()
    ts_init: int = ts()


MARKET_EVENTS = (TradeTick, QuoteTick, Bar, OrderBookDeltas)

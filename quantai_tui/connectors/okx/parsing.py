"""OKX v5 frames -> core events: pure functions, no state, no I/O.

Frames are `{"arg": {"channel", "instId"}, ["action",] "data": [...]}`; these functions take
one element of `data` (or a candle row). Timestamps are millisecond strings. Sizes stay in the
venue's units (contracts for swaps and futures, as ccxt reports them).
"""

from __future__ import annotations

from typing import Any

from quantai_tui.connectors.base import bar_close_ms, check_ohlcv, parse_levels
from quantai_tui.core.enums import AggressorSide
from quantai_tui.core.events import Bar, OrderBookDeltas, QuoteTick, TradeTick

_MS = 1_000_000
_INF = float("inf")
_SIDES = {"buy": AggressorSide.BUYER, "sell": AggressorSide.SELLER}
_make_trade = TradeTick.make
_make_quote = QuoteTick.make
_make_bar = Bar.make
_make_deltas = OrderBookDeltas.make


def parse_trade(d: dict[str, Any], venue: str, symbol: str, ts_init: int) -> TradeTick:
    price = float(d["px"])
    size = float(d["sz"])
    if not (0.0 < price < _INF and 0.0 <= size < _INF):
        raise ValueError(f"bad trade {price!r} {size!r}")
    return _make_trade(venue, symbol, price, size, _SIDES[d["side"]], str(d["tradeId"]), int(d["ts"]) * _MS, ts_init)


def parse_bbo(d: dict[str, Any], venue: str, symbol: str, ts_init: int) -> QuoteTick | None:
    """bbo-tbt: None while a side of the book is empty."""
    bids, asks = d["bids"], d["asks"]
    if not bids or not asks:
        return None
    (bid, bid_size), (ask, ask_size) = parse_levels((bids[0], asks[0]))
    return _make_quote(venue, symbol, bid, bid_size, ask, ask_size, int(d["ts"]) * _MS, ts_init)


def parse_candle(row: list[Any], venue: str, symbol: str, timeframe: str, ts_init: int) -> Bar:
    """[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]; ts is the open time, ts_event the close."""
    o, h, lo, c, v = check_ohlcv(float(row[1]), float(row[2]), float(row[3]), float(row[4]), float(row[5]))
    closed = len(row) > 8 and row[8] == "1"
    return _make_bar(venue, symbol, timeframe, o, h, lo, c, v, closed, bar_close_ms(int(row[0]), timeframe) * _MS, ts_init)


def parse_book(
    d: dict[str, Any], venue: str, symbol: str, ts_init: int, is_snapshot: bool
) -> tuple[int | None, int | None, int, OrderBookDeltas]:
    """books -> (seqId, prevSeqId, checksum, deltas). Old recordings have no seq ids (None);
    OKX sends checksum 0 since 2026 (then only the seq chain protects the book)."""
    seq = d.get("seqId")
    prev = d.get("prevSeqId")
    seq = None if seq is None else int(seq)
    prev = None if prev is None else int(prev)
    checksum = int(d.get("checksum") or 0)
    ev = _make_deltas(
        venue, symbol, parse_levels(d["bids"]), parse_levels(d["asks"]), is_snapshot, seq or 0,
        int(d["ts"]) * _MS, ts_init,
    )
    return seq, prev, checksum, ev

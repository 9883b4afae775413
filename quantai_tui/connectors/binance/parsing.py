"""Binance frames -> core events: pure functions, no state, no I/O.

Each takes the `data` object of a combined-stream frame (already parsed JSON), the venue and
unified symbol, and ts_init. Anything that does not fit raises ValueError, KeyError or
TypeError: the client counts it as malformed. Timestamps are milliseconds on the wire.
"""

from __future__ import annotations

from typing import Any

from quantai_tui.connectors.base import check_ohlcv, parse_levels
from quantai_tui.core.enums import AggressorSide
from quantai_tui.core.events import Bar, OrderBookDeltas, QuoteTick, TradeTick

_BUYER = AggressorSide.BUYER
_SELLER = AggressorSide.SELLER
_MS = 1_000_000
_INF = float("inf")
_make_trade = TradeTick.make
_make_quote = QuoteTick.make
_make_bar = Bar.make
_make_deltas = OrderBookDeltas.make


def parse_agg_trade(d: dict[str, Any], venue: str, symbol: str, ts_init: int) -> TradeTick:
    """aggTrade: `m` true means the buyer was the maker, so the seller crossed the spread."""
    price = float(d["p"])
    size = float(d["q"])
    if not (0.0 < price < _INF and 0.0 <= size < _INF):
        raise ValueError(f"bad trade {price!r} {size!r}")
    return _make_trade(
        venue, symbol, price, size, _SELLER if d["m"] is True else _BUYER, str(int(d["a"])), int(d["T"]) * _MS, ts_init
    )


def parse_book_ticker(d: dict[str, Any], venue: str, symbol: str, ts_init: int) -> QuoteTick:
    """bookTicker. Spot carries no timestamp (ts_event = ts_init); USD-M has T (transaction time)."""
    bid = float(d["b"])
    bid_size = float(d["B"])
    ask = float(d["a"])
    ask_size = float(d["A"])
    if not (0.0 < bid < _INF and 0.0 < ask < _INF and 0.0 <= bid_size < _INF and 0.0 <= ask_size < _INF):
        raise ValueError(f"bad quote {bid!r} {bid_size!r} {ask!r} {ask_size!r}")
    t = d.get("T") or d.get("E")
    return _make_quote(venue, symbol, bid, bid_size, ask, ask_size, int(t) * _MS if t else ts_init, ts_init)


def parse_kline(d: dict[str, Any], venue: str, symbol: str, ts_init: int) -> Bar:
    """kline: ts_event is the bar's close time (T is its last millisecond, so T + 1)."""
    k = d["k"]
    o, h, lo, c, v = check_ohlcv(float(k["o"]), float(k["h"]), float(k["l"]), float(k["c"]), float(k["v"]))
    return _make_bar(venue, symbol, str(k["i"]), o, h, lo, c, v, k["x"] is True, (int(k["T"]) + 1) * _MS, ts_init)


def parse_depth(d: dict[str, Any], venue: str, symbol: str, ts_init: int, futures: bool) -> tuple[int, int, OrderBookDeltas]:
    """depthUpdate -> (U first update id, pu previous final id or -1 on spot, deltas with sequence u)."""
    first = int(d["U"])
    last = int(d["u"])
    if last < first:
        raise ValueError(f"depthUpdate with u {last} < U {first}")
    prev = int(d["pu"]) if futures else -1
    t = d["T"] if futures else d["E"]
    ev = _make_deltas(venue, symbol, parse_levels(d["b"]), parse_levels(d["a"]), False, last, int(t) * _MS, ts_init)
    return first, prev, ev


def parse_depth_snapshot(body: dict[str, Any], venue: str, symbol: str, ts_init: int) -> tuple[int, OrderBookDeltas]:
    """GET depth -> (lastUpdateId, snapshot). USD-M has T; spot has no time (ts_init)."""
    last = int(body["lastUpdateId"])
    t = body.get("T")
    ev = _make_deltas(
        venue, symbol, parse_levels(body["bids"]), parse_levels(body["asks"]), True, last,
        int(t) * _MS if t else ts_init, ts_init,
    )
    return last, ev

"""Bybit v5 frames -> core events: pure functions, no state, no I/O.

Frames are `{"topic", "type": "snapshot"|"delta", "ts", "data"}`; timestamps are milliseconds.
"""

from __future__ import annotations

from typing import Any

from quantai_tui.connectors.base import check_ohlcv, parse_levels
from quantai_tui.connectors.bybit.config import TIMEFRAMES
from quantai_tui.core.enums import AggressorSide
from quantai_tui.core.events import Bar, OrderBookDeltas, TradeTick

_MS = 1_000_000
_INF = float("inf")
_SIDES = {"Buy": AggressorSide.BUYER, "Sell": AggressorSide.SELLER}
_make_trade = TradeTick.make
_make_bar = Bar.make
_make_deltas = OrderBookDeltas.make


def parse_trade(d: dict[str, Any], venue: str, symbol: str, ts_init: int) -> TradeTick:
    """publicTrade: S is the taker's side."""
    price = float(d["p"])
    size = float(d["v"])
    if not (0.0 < price < _INF and 0.0 <= size < _INF):
        raise ValueError(f"bad trade {price!r} {size!r}")
    return _make_trade(venue, symbol, price, size, _SIDES[d["S"]], str(d["i"]), int(d["T"]) * _MS, ts_init)


def parse_kline(d: dict[str, Any], venue: str, symbol: str, ts_init: int) -> Bar:
    """kline: `end` is the bar's last millisecond, so it closes at end + 1."""
    o, h, lo, c, v = check_ohlcv(float(d["open"]), float(d["high"]), float(d["low"]), float(d["close"]),
                                 float(d["volume"]))
    return _make_bar(venue, symbol, TIMEFRAMES[str(d["interval"])], o, h, lo, c, v, d["confirm"] is True,
                     (int(d["end"]) + 1) * _MS, ts_init)


def parse_book(msg: dict[str, Any], venue: str, symbol: str, ts_init: int) -> tuple[bool, int, OrderBookDeltas]:
    """orderbook.N -> (is_snapshot, u, deltas with sequence u). u == 1 is a snapshot whatever the
    type says: the service restarted and the book must be overwritten."""
    d = msg["data"]
    u = int(d["u"])
    kind = msg["type"]
    if kind not in ("snapshot", "delta"):
        raise ValueError(f"unknown orderbook message type {kind!r}")
    is_snapshot = kind == "snapshot" or u == 1
    ev = _make_deltas(venue, symbol, parse_levels(d["b"]), parse_levels(d["a"]), is_snapshot, u,
                      int(msg["ts"]) * _MS, ts_init)
    return is_snapshot, u, ev

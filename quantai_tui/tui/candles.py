"""Candles built from trade ticks for the chart. O(1) per trade; no textual import."""

from __future__ import annotations

from collections import deque

from quantai_tui.tui.views import Candle

_NS = 1_000_000_000
TIMEFRAMES = {"1s": _NS, "5s": 5 * _NS, "15s": 15 * _NS, "1m": 60 * _NS, "5m": 300 * _NS}


class CandleSeries:
    """Base candles of `base` ns, kept for `maxlen` intervals; views re-bucket them."""

    __slots__ = ("base", "_done", "_cur", "trades")

    def __init__(self, base_ns: int = _NS, maxlen: int = 3600) -> None:
        self.base = base_ns
        self._done: deque[Candle] = deque(maxlen=maxlen)
        self._cur: list[float] | None = None  # [start, o, h, l, c, v]
        self.trades = 0

    def add(self, price: float, size: float, ts_ns: int) -> None:
        self.trades += 1
        start = ts_ns - ts_ns % self.base
        cur = self._cur
        if cur is not None and start <= cur[0]:
            if price > cur[2]:
                cur[2] = price
            if price < cur[3]:
                cur[3] = price
            cur[4] = price
            cur[5] += size
            return
        if cur is not None:
            self._done.append(Candle(int(cur[0]), cur[1], cur[2], cur[3], cur[4], cur[5]))
        self._cur = [start, price, price, price, price, size]

    def candles(self, timeframe_ns: int | None = None, limit: int = 200) -> tuple[Candle, ...]:
        base = list(self._done)
        if self._cur is not None:
            c = self._cur
            base.append(Candle(int(c[0]), c[1], c[2], c[3], c[4], c[5]))
        tf = timeframe_ns or self.base
        if tf <= self.base:
            return tuple(base[-limit:])
        out: list[Candle] = []
        for c in base:
            start = c.start_ns - c.start_ns % tf
            if out and out[-1].start_ns == start:
                p = out[-1]
                out[-1] = Candle(start, p.open, max(p.high, c.high), min(p.low, c.low), c.close, p.volume + c.volume)
            else:
                out.append(Candle(start, c.open, c.high, c.low, c.close, c.volume))
        return tuple(out[-limit:])

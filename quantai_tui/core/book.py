"""An L2 order book: price -> size per side, kept sorted for best-first reads.

Pure logic, no I/O. Connectors apply venue messages to it (each venue's own sequencing rules
live in the connector); the paper fill model walks it; the UI draws its top levels.
Prices are floats as they come off the wire (see core/events/market.py).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable

from quantai_tui.core.events.market import Level, OrderBookDeltas


class BookSide:
    """One side. `_keys` is ascending for asks and ascending negated prices for bids, so
    index 0 is always the best level."""

    __slots__ = ("_sign", "_sizes", "_keys")

    def __init__(self, is_bid: bool) -> None:
        self._sign = -1.0 if is_bid else 1.0
        self._sizes: dict[float, float] = {}
        self._keys: list[float] = []

    def clear(self) -> None:
        self._sizes.clear()
        self._keys.clear()

    def set(self, price: float, size: float) -> None:
        sizes = self._sizes
        if size <= 0.0:
            if price in sizes:
                del sizes[price]
                keys = self._keys
                i = bisect_left(keys, price * self._sign)
                del keys[i]
            return
        if price not in sizes:
            insort(self._keys, price * self._sign)
        sizes[price] = size

    def update(self, levels: Iterable[Level]) -> None:
        # `set` inlined: this loop is the hottest part of applying a venue's book diff
        sizes = self._sizes
        keys = self._keys
        sign = self._sign
        for price, size in levels:
            if size <= 0.0:
                if price in sizes:
                    del sizes[price]
                    del keys[bisect_left(keys, price * sign)]
            else:
                if price not in sizes:
                    insort(keys, price * sign)
                sizes[price] = size

    def replace(self, levels: Iterable[Level]) -> None:
        """The whole side at once (a snapshot): one sort instead of an insert per level."""
        sizes: dict[float, float] = {}
        for p, s in levels:  # sequential, so a repeated price ends as its last entry says
            if s > 0.0:
                sizes[p] = s
            else:
                sizes.pop(p, None)
        self._sizes = sizes
        sign = self._sign
        self._keys = sorted(p * sign for p in sizes)

    def best(self) -> Level | None:
        if not self._keys:
            return None
        p = self._keys[0] * self._sign
        return (p, self._sizes[p])

    def top(self, n: int) -> list[Level]:
        s = self._sign
        sizes = self._sizes
        return [(k * s, sizes[k * s]) for k in self._keys[:n]]

    def size_at(self, price: float) -> float:
        return self._sizes.get(price, 0.0)

    def __len__(self) -> int:
        return len(self._keys)

    def levels(self) -> list[Level]:
        return self.top(len(self._keys))


class OrderBook:
    __slots__ = ("venue", "symbol", "bids", "asks", "sequence", "ts_event", "ts_init")

    def __init__(self, venue: str, symbol: str) -> None:
        self.venue = venue
        self.symbol = symbol
        self.bids = BookSide(is_bid=True)
        self.asks = BookSide(is_bid=False)
        self.sequence = 0
        self.ts_event = 0
        self.ts_init = 0

    def clear(self) -> None:
        self.bids.clear()
        self.asks.clear()
        self.sequence = 0

    def apply(self, deltas: OrderBookDeltas) -> None:
        if deltas.is_snapshot:
            self.bids.replace(deltas.bids)
            self.asks.replace(deltas.asks)
        else:
            self.bids.update(deltas.bids)
            self.asks.update(deltas.asks)
        self.sequence = deltas.sequence
        self.ts_event = deltas.ts_event
        self.ts_init = deltas.ts_init

    def best_bid(self) -> Level | None:
        return self.bids.best()

    def best_ask(self) -> Level | None:
        return self.asks.best()

    def mid(self) -> float | None:
        b, a = self.bids.best(), self.asks.best()
        if b is None or a is None:
            return None
        return (b[0] + a[0]) / 2

    def spread(self) -> float | None:
        b, a = self.bids.best(), self.asks.best()
        if b is None or a is None:
            return None
        return a[0] - b[0]

    def is_crossed(self) -> bool:
        b, a = self.bids.best(), self.asks.best()
        return b is not None and a is not None and b[0] >= a[0]

    def snapshot(self, depth: int | None = None) -> OrderBookDeltas:
        """The book as a snapshot event (for recording, the UI, comparisons in tests)."""
        n = depth if depth is not None else max(len(self.bids), len(self.asks))
        return OrderBookDeltas(
            self.venue,
            self.symbol,
            tuple(self.bids.top(n)),
            tuple(self.asks.top(n)),
            True,
            self.sequence,
            ts_event=self.ts_event,
            ts_init=self.ts_init,
        )

    def as_dict(self) -> dict[str, dict[float, float]]:
        return {"bids": dict(self.bids._sizes), "asks": dict(self.asks._sizes)}

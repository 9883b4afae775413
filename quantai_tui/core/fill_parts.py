"""The fill model's parts: its view of an order, what it reports, and book reading helpers
(split from core/fill_model.py, which re-exports them)."""

from __future__ import annotations

import math
from typing import Final

from quantai_tui.core.book import BookSide, OrderBook
from quantai_tui.core.enums import LiquiditySide, OrderSide, OrderType, TimeInForce
from quantai_tui.core.values import Money, Price, Quantity

FILL: Final = "fill"
CANCELED: Final = "canceled"
EXPIRED: Final = "expired"
REJECTED: Final = "rejected"
TRIGGERED: Final = "triggered"
INF = math.inf


class SimOrder:
    """The fill model's view of one order. Quantities are integers in the instrument's lot
    precision (raw), prices floats for comparisons plus the exact Price for maker fills."""

    __slots__ = ("coid", "venue_order_id", "side", "sign", "order_type", "tif", "post_only", "reduce_only",
                 "qty_raw", "leaves_raw", "price", "px", "trigger", "trig", "queue", "fresh", "triggered",
                 "seq", "ts")

    def __init__(self, coid: str, side: OrderSide, order_type: OrderType, qty_raw: int, price: Price | None = None,
                 trigger: Price | None = None, tif: TimeInForce = TimeInForce.GTC, post_only: bool = False,
                 reduce_only: bool = False, venue_order_id: str = "", ts: int = 0) -> None:
        self.coid = coid
        self.venue_order_id = venue_order_id
        self.side = side
        self.sign = 1 if side is OrderSide.BUY else -1
        self.order_type = order_type
        self.tif = tif
        self.post_only = post_only
        self.reduce_only = reduce_only
        self.qty_raw = qty_raw
        self.leaves_raw = qty_raw
        self.price = price
        self.px = price.as_double() if price is not None else math.nan
        self.trigger = trigger
        self.trig = trigger.as_double() if trigger is not None else math.nan
        self.queue = 0  # raw size ahead of us at our price
        self.fresh = False  # resting without a book, not yet seen a trade: the next cross takes
        self.triggered = False
        self.seq = 0
        self.ts = ts

    @property
    def is_buy(self) -> bool:
        return self.sign > 0

    def __repr__(self) -> str:
        return f"SimOrder({self.coid} {self.side.value} {self.order_type.value} leaves {self.leaves_raw} px {self.px})"


class Execution:
    """What happened to an order: a fill (qty, price, liquidity, fee) or an end (reason)."""

    __slots__ = ("kind", "order", "qty", "price", "liquidity", "fee", "reason", "ts")

    def __init__(self, kind: str, order: SimOrder, ts: int, qty: Quantity | None = None, price: Price | None = None,
                 liquidity: LiquiditySide = LiquiditySide.NONE, fee: Money | None = None, reason: str = "") -> None:
        self.kind = kind
        self.order = order
        self.ts = ts
        self.qty = qty
        self.price = price
        self.liquidity = liquidity
        self.fee = fee
        self.reason = reason

    def __repr__(self) -> str:
        if self.kind == FILL:
            return f"Execution(fill {self.order.coid} {self.qty} @ {self.price} {self.liquidity.value} fee {self.fee})"
        return f"Execution({self.kind} {self.order.coid} {self.reason})"


class _Levels:
    """The levels a taker would hit, best first, read lazily: most orders need one or two."""

    __slots__ = ("side", "_n", "_cache")

    def __init__(self, side: BookSide) -> None:
        self.side = side
        self._n = 0
        self._cache: list[tuple[float, float]] = []

    def __getitem__(self, i: int) -> tuple[float, float]:
        if i == 0 and not self._cache:
            best = self.side.best()
            assert best is not None
            return best
        return self._all()[i]

    def _all(self) -> list[tuple[float, float]]:
        if len(self._cache) < len(self.side):
            self._cache = self.side.top(max(8, 4 * len(self._cache)))
        return self._cache

    def __iter__(self):  # type: ignore[no-untyped-def]
        i = 0
        while True:
            levels = self._all()
            if i >= len(levels):
                if len(levels) >= len(self.side):
                    return
                continue
            yield levels[i]
            i += 1


def _opposite(book: OrderBook | None, sign: int) -> _Levels | None:
    """The levels a taker on side `sign` would hit, best first; None if that side is empty."""
    if book is None:
        return None
    side = book.asks if sign > 0 else book.bids
    if not len(side):
        return None
    return _Levels(side)


def _available(levels: _Levels, sign: int, limit: float, scale: int) -> int:
    total = 0
    for px, size in levels:
        if (sign > 0 and px > limit) or (sign < 0 and px < limit):
            break
        total += int(size * scale + 0.5)
    return total

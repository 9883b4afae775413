"""The paper venue's own record of each order: what it was asked, what it filled, its status,
so lookups by client order id, open orders and fills-since answer like a real venue's."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from quantai_tui.core.enums import OrderStatus
from quantai_tui.core.execution import FillReport, OrderRequest, OrderStatusReport
from quantai_tui.core.instruments import Instrument
from quantai_tui.core.positions import product
from quantai_tui.core.values import EXACT, ZERO_QUANTITIES, Money, Price, Quantity

_ZERO = Decimal(0)
_UNITS = {"s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000, "d": 86_400_000_000_000,
          "w": 7 * 86_400_000_000_000}


def timeframe_ns(tf: str) -> int:
    """'1m' -> 60e9 ns; an unknown spelling -> 0 (the bar's close time is used)."""
    try:
        return int(tf[:-1]) * _UNITS[tf[-1]]
    except (KeyError, ValueError, IndexError):
        return 0


class PaperOrder:
    """One order at the paper venue. Built from the order's fields (the hot path has no request
    object); `request` makes the OrderRequest when a report needs it."""

    __slots__ = ("fields", "coid", "symbol", "side", "venue_order_id", "instrument", "status", "quantity", "price",
                 "filled", "notional", "fills", "ts_created", "ts_last")

    def __init__(self, fields: tuple[Any, ...], venue_order_id: str, instrument: Instrument, ts: int) -> None:
        # fields: OrderRequest's, in its order (client_order_id, venue, symbol, side, order_type,
        # quantity, price, trigger_price, time_in_force, post_only, reduce_only)
        self.fields = fields
        self.coid = fields[0]
        self.symbol = fields[2]
        self.side = fields[3]
        self.venue_order_id = venue_order_id
        self.instrument = instrument
        self.status = OrderStatus.SUBMITTED
        self.quantity: Quantity = fields[5]
        self.price: Price | None = fields[6]
        p = self.quantity._prec  # noqa: SLF001
        self.filled = ZERO_QUANTITIES[p] if 0 <= p <= 18 else Quantity.from_raw(0, p)
        self.notional = _ZERO
        self.fills: list[tuple[str, Quantity, Price, Money, int]] = []
        self.ts_created = ts
        self.ts_last = ts

    @classmethod
    def of(cls, request: OrderRequest, venue_order_id: str, instrument: Instrument, ts: int) -> PaperOrder:
        r = request
        return cls((r.client_order_id, r.venue, r.symbol, r.side, r.order_type, r.quantity, r.price, r.trigger_price,
                    r.time_in_force, r.post_only, r.reduce_only), venue_order_id, instrument, ts)

    @property
    def request(self) -> OrderRequest:
        """What the venue was asked (as sent: amends show in `quantity` and `price`)."""
        return OrderRequest(*self.fields)

    def add_fill(self, trade_id: str, qty: Quantity, price: Price, fee: Money, ts: int) -> None:
        self.fills.append((trade_id, qty, price, fee, ts))
        self.filled = self.filled + qty  # type: ignore[assignment]
        self.notional = EXACT.add(self.notional, product(qty, price))
        self.status = OrderStatus.FILLED if self.filled >= self.quantity else OrderStatus.PARTIALLY_FILLED
        self.ts_last = ts

    def amend(self, quantity: Quantity | None, price: Price | None) -> None:
        if quantity is not None:
            self.quantity = quantity
        if price is not None:
            self.price = price

    def status_report(self) -> OrderStatusReport:
        f = self.fields
        avg = None
        if self.filled:
            avg = Price.from_decimal(EXACT.divide(self.notional, self.filled.as_decimal()),
                                     self.instrument.price_precision + 4)
        return OrderStatusReport(self.coid, self.venue_order_id, self.symbol, self.side, f[4], self.status,
                                 self.quantity, self.filled, self.price, avg, self.ts_last)

    def fill_reports(self) -> list[FillReport]:
        return [FillReport(self.coid, self.venue_order_id, tid, self.symbol, self.side, q, p, fee.as_decimal(),
                           fee.currency, ts) for tid, q, p, fee, ts in self.fills]

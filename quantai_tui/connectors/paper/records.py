"""The paper venue's own record of each order: what it was asked, what it filled, its status,
so lookups by client order id, open orders and fills-since answer like a real venue's."""

from __future__ import annotations

from decimal import Decimal

from quantai_tui.core.enums import OrderStatus
from quantai_tui.core.execution import FillReport, OrderRequest, OrderStatusReport
from quantai_tui.core.instruments import Instrument
from quantai_tui.core.positions import product
from quantai_tui.core.values import EXACT, Money, Price, Quantity

_UNITS = {"s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000, "d": 86_400_000_000_000,
          "w": 7 * 86_400_000_000_000}


def timeframe_ns(tf: str) -> int:
    """'1m' -> 60e9 ns; an unknown spelling -> 0 (the bar's close time is used)."""
    try:
        return int(tf[:-1]) * _UNITS[tf[-1]]
    except (KeyError, ValueError, IndexError):
        return 0


class PaperOrder:
    __slots__ = ("request", "coid", "venue_order_id", "instrument", "status", "quantity", "price", "filled",
                 "notional", "fills", "ts_created", "ts_last")

    def __init__(self, request: OrderRequest, venue_order_id: str, instrument: Instrument, ts: int) -> None:
        self.request = request
        self.coid = request.client_order_id
        self.venue_order_id = venue_order_id
        self.instrument = instrument
        self.status = OrderStatus.SUBMITTED
        self.quantity = request.quantity
        self.price = request.price
        self.filled = Quantity.from_raw(0, request.quantity.precision)
        self.notional = Decimal(0)
        self.fills: list[tuple[str, Quantity, Price, Money, int]] = []
        self.ts_created = ts
        self.ts_last = ts

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
        r = self.request
        avg = None
        if self.filled:
            avg = Price.from_decimal(EXACT.divide(self.notional, self.filled.as_decimal()),
                                     self.instrument.price_precision + 4)
        return OrderStatusReport(self.coid, self.venue_order_id, r.symbol, r.side, r.order_type, self.status,
                                 self.quantity, self.filled, self.price, avg, self.ts_last)

    def fill_reports(self) -> list[FillReport]:
        r = self.request
        return [FillReport(self.coid, self.venue_order_id, tid, r.symbol, r.side, q, p, fee.as_decimal(),
                           fee.currency, ts) for tid, q, p, fee, ts in self.fills]

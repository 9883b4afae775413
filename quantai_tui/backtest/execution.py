"""The simulated venue of a replay: when and at what price an order fills.

Fill semantics (issue 5):
- bars: an order submitted while bar t is handled fills on bar t+1: a market order at t+1's
  open; a limit buy at the open if the open is at or below the limit, else at the limit if the
  bar's low reaches it (sells mirror this); a stop triggers the same way on the high/low. An
  order with no next bar does not fill. Fills are stamped with bar t+1's open time.
- ticks: an order fills on the next trade (at its price) or the next quote (a buy at the ask,
  a sell at the bid) after it was submitted; a limit order when a trade prints at or through
  its price, at the limit.
Slippage moves a market fill against the taker by `slippage_bps`, snapped to the tick away from
the taker. Fees are charged by the account.

STAND-IN for ticks: issue 4's paper fill model (core/fill_model.py: book walking, queue
position, partial fills) is to replace `_fill_on_trade` / `_fill_on_quote` when it lands;
the bar rules above are the backtest's own and stay here.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from quantai_tui.core.enums import OrderSide, OrderStatus, OrderType
from quantai_tui.core.events import Bar, OrderAccepted, OrderCanceled, QuoteTick, TradeTick
from quantai_tui.core.values import ROUND_CEIL, ROUND_FLOOR, Price

_POW10 = tuple(10**i for i in range(19))

from quantai_tui.backtest.account import BacktestAccount, SimOrder


class ReplayVenue:
    """Holds working orders per symbol; the replay calls on_bar/on_trade/on_quote with every
    market event before the strategies see it."""

    def __init__(self, account: BacktestAccount, publish: Callable[[str, Any], None], *,
                 slippage_bps: Decimal = Decimal(0), bar_open_offset_ns: dict[str, int] | None = None) -> None:
        self.account = account
        self._publish = publish
        self._slip = float(slippage_bps) / 10_000.0
        self._working: dict[str, list[SimOrder]] = {}
        self.active = 0  # number of working orders: the per-tick no-op check reads only this
        self._last: dict[str, float] = {}
        self._tf = bar_open_offset_ns or {}
        self.venue = account.venue_name

    # --- orders -------------------------------------------------------------------------------------
    def submit(self, order: SimOrder) -> None:
        order.status = OrderStatus.ACCEPTED
        self._working.setdefault(order.symbol, []).append(order)
        self.active += 1
        ts = order.ts_submitted
        coid = order.client_order_id
        self._publish(order.topic, OrderAccepted.make(coid, order.venue, order.symbol, "v" + coid, ts, ts))

    def cancel(self, order: SimOrder) -> None:
        working = self._working.get(order.symbol)
        if working and order in working:
            working.remove(order)
            self.active -= 1
            self.account.order_closed(order, OrderStatus.CANCELED)
            ts = self.account.clock.timestamp_ns()
            self._publish(order.topic,
                          OrderCanceled(order.client_order_id, order.venue, order.symbol, f"v{order.client_order_id}",
                                        ts_event=ts, ts_init=ts))

    def last_price(self, symbol: str) -> float | None:
        return self._last.get(symbol)

    @property
    def marks(self) -> dict[str, float]:
        return self._last

    # --- market data (handlers on the bus, ahead of the strategies) ----------------------------------
    def on_bar(self, bar: Bar) -> None:
        if self.active:
            self._fill_on_bar(bar)
        self._last[bar.symbol] = bar.close

    def on_trade(self, tick: TradeTick) -> None:
        self._last[tick.symbol] = tick.price
        if self.active:
            self._fill_on_trade(tick)

    def on_quote(self, quote: QuoteTick) -> None:
        if quote.symbol not in self._last or not self._has_trades:
            self._last[quote.symbol] = (quote.bid + quote.ask) / 2
        if self.active:
            self._fill_on_quote(quote)

    _has_trades = False  # set by the engine when trades are replayed: they mark, not quotes

    # --- fill rules ----------------------------------------------------------------------------------
    def _take(self, symbol: str) -> list[SimOrder]:
        """Working orders of `symbol`: all were placed before the current market event, since
        this venue sees each event before any strategy does (a copy: fills may add orders)."""
        working = self._working.get(symbol)
        return list(working) if working else []

    def _done(self, order: SimOrder) -> None:
        self._working[order.symbol].remove(order)
        self.active -= 1

    def _fill(self, order: SimOrder, px: float, ts: int, market: bool) -> None:
        inst = self.account.instruments[order.symbol]
        buy = order.side is OrderSide.BUY
        if market and self._slip:
            px = px * (1.0 + self._slip) if buy else px * (1.0 - self._slip)
            price = inst.make_price(px, ROUND_CEIL if buy else ROUND_FLOOR)
        elif inst.tick_size.raw == 1 and abs(px) < 1e12:
            # tick = 10**-p: rounding px * 10**p to the nearest integer is make_price's answer
            # (data prices carry at most p decimals, so there is no half-way case to break)
            p = inst.price_precision
            price = Price.from_raw(round(px * _POW10[p]), p)
        else:
            price = inst.make_price(px)
        self._done(order)
        self.account.apply_fill(order, price, ts)

    def _fill_on_bar(self, bar: Bar) -> None:
        ts = bar.ts_event - self._tf.get(bar.symbol, 0)  # the bar's open time
        o, h, lo = bar.open, bar.high, bar.low
        for order in self._take(bar.symbol):
            t = order.order_type
            buy = order.side is OrderSide.BUY
            if t is OrderType.MARKET:
                self._fill(order, o, ts, True)
            elif t is OrderType.LIMIT:
                lim = float(order.price)  # type: ignore[arg-type]
                if buy and o <= lim or not buy and o >= lim:
                    self._fill(order, o, ts, False)
                elif buy and lo <= lim or not buy and h >= lim:
                    self._fill(order, lim, ts, False)
            elif t is OrderType.STOP_MARKET:
                trig = float(order.trigger_price)  # type: ignore[arg-type]
                if buy and o >= trig or not buy and o <= trig:
                    self._fill(order, o, ts, True)
                elif buy and h >= trig or not buy and lo <= trig:
                    self._fill(order, trig, ts, True)

    def _fill_on_trade(self, tick: TradeTick) -> None:
        px = tick.price
        for order in self._take(tick.symbol):
            t = order.order_type
            if t is OrderType.MARKET:
                self._fill(order, px, tick.ts_event, True)
            elif t is OrderType.LIMIT:
                lim = float(order.price)  # type: ignore[arg-type]
                if (px <= lim) if order.side is OrderSide.BUY else (px >= lim):
                    self._fill(order, lim, tick.ts_event, False)
            elif t is OrderType.STOP_MARKET:
                trig = float(order.trigger_price)  # type: ignore[arg-type]
                if (px >= trig) if order.side is OrderSide.BUY else (px <= trig):
                    self._fill(order, px, tick.ts_event, True)

    def _fill_on_quote(self, quote: QuoteTick) -> None:
        for order in self._take(quote.symbol):
            if order.order_type is OrderType.MARKET:
                px = quote.ask if order.side is OrderSide.BUY else quote.bid
                if px > 0:
                    self._fill(order, px, quote.ts_event, True)


def fill_price_for(side: OrderSide, px: float, slippage_bps: float) -> float:
    """The raw (unsnapped) slipped price; shared with the columnar path."""
    s = slippage_bps / 10_000.0
    return px * (1.0 + s) if side is OrderSide.BUY else px * (1.0 - s)


__all__ = ["Price", "ReplayVenue", "fill_price_for"]

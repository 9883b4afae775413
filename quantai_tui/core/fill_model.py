"""The one fill model: paper trading, the sim exchange and backtests all fill through it.

Pure logic, no I/O, no clock: the caller passes times in and handles latency (it hands an order
over when the simulated latency has passed). One `Matcher` per symbol keeps the simulated
orders; feed it the market (`on_trade`, `on_quote`, `on_book`, `on_bar`) and orders
(`submit`, `cancel`, `modify`); each call returns the executions that happened, or None.

Rules
- Market orders walk the opposite side of the L2 book when there is one (an IOC: what the book
  cannot fill is canceled); with no book they fill whole at the next trade's price, or the next
  quote's ask/bid. Slippage (bps, adverse) applies to taker prices, rounded to the tick.
- Limit orders that cross on arrival take liquidity (taker) up to their price; post-only ones
  are rejected instead. The rest rests (GTC) or is canceled (IOC); FOK fills whole or not at all.
  A resting order fills as maker at its own price when the market trades through it; at its
  price it waits behind the queue that was there when it arrived (the book's size at that
  price, shrunk when the level shrinks) and then fills by the traded size: partial fills. A book
  or quote that crosses a resting order fills it (maker) up to the crossing size.
- Stops trigger when a trade (or a quote's / book's mid) reaches the trigger, then act as a
  market (stop-market) or limit (stop-limit) order arriving at that moment.
- Bars (backtests on OHLC): a market order submitted on bar t fills at bar t+1's open; no next
  bar, no fill. A resting limit buy fills at the open when a later bar opens at or below it,
  else at its price when the bar's low reaches it (sells mirror this); a stop triggers the same
  way on the high/low. IOC/FOK get the next bar's open only. (The same rules as issue 5's.)
- With no book, a resting limit fills at its own price (never better: nothing tells us the
  price it would have got), taker if it was marketable when it arrived.

Speed: with nothing resting near the price a trade costs two float comparisons (`lo`/`hi` hold
the nearest resting price or trigger on each side).
"""

from __future__ import annotations

import math
from bisect import insort
from decimal import Decimal

from quantai_tui.core.book import OrderBook
from quantai_tui.core.enums import LiquiditySide, OrderType, TimeInForce
from quantai_tui.core.fill_parts import (  # noqa: F401 - re-exported: the fill model's vocabulary
    CANCELED,
    EXPIRED,
    FILL,
    INF,
    REJECTED,
    TRIGGERED,
    Execution,
    SimOrder,
    _available,
    _Levels,
    _opposite,
)
from quantai_tui.core.instruments import Instrument
from quantai_tui.core.positions import to_raw
from quantai_tui.core.values import (
    _POW10,
    EXACT,
    ROUND_CEIL,
    ROUND_FLOOR,
    Money,
    Price,
    Quantity,
)

_BPS = Decimal("0.0001")
_P10 = tuple(10**i for i in range(2 * 18 + 1))  # up to price precision + size precision


class Matcher:
    """One symbol's simulated orders and how the market fills them."""

    def __init__(self, instrument: Instrument, *, maker_fee: Decimal | None = None, taker_fee: Decimal | None = None,
                 slippage_bps: Decimal = Decimal(0), fee_precision: int = 8, bar_mode: bool = False) -> None:
        self.inst = instrument
        self.maker_fee = instrument.maker_fee if maker_fee is None else maker_fee
        self.taker_fee = instrument.taker_fee if taker_fee is None else taker_fee
        self.slippage = slippage_bps * _BPS
        self.fee_precision = fee_precision
        self.fee_currency = instrument.settle_currency
        self.bar_mode = bar_mode
        self.size_prec = instrument.size_precision
        self.price_prec = instrument.price_precision
        self.size_scale = 10**self.size_prec
        self.lot_raw = instrument.lot_size.raw
        self._linear_cs1 = not instrument.is_inverse and instrument.contract_size == 1
        # fees in integers: fee_raw = price_raw * qty_raw * rate * 10**fee_precision / 10**(pp + sp),
        # rounded half-even (what the Decimal product, then to_raw, gives; exact either way)
        num, den = Decimal(self.maker_fee).as_integer_ratio()
        self._maker_fee_num, self._maker_fee_den = num * 10**fee_precision, den
        num, den = Decimal(self.taker_fee).as_integer_ratio()
        self._taker_fee_num, self._taker_fee_den = num * 10**fee_precision, den
        self.orders: dict[str, SimOrder] = {}
        self.buys: list[tuple[float, int, SimOrder]] = []  # resting limits, best (highest) first
        self.sells: list[tuple[float, int, SimOrder]] = []  # best (lowest) first
        self.stops: list[SimOrder] = []
        self.pending: list[SimOrder] = []  # waiting for the next print (market, IOC/FOK without a book)
        self.fresh = 0
        self.hot = False
        self.lo = -INF  # a trade at or below lo may touch a resting buy or trigger a sell stop
        self.hi = INF
        self.bb = -INF  # best resting buy, best resting sell, lowest buy stop, highest sell stop
        self.bs = INF
        self.sb = INF
        self.ss = -INF
        self.last_px = math.nan
        self.bid = math.nan
        self.ask = math.nan
        self.bid_size = 0.0
        self.ask_size = 0.0
        self._seq = 0

    # --- the hot path ---------------------------------------------------------------------------
    def on_trade(self, price: float, size: float, ts: int) -> list[Execution] | None:
        self.last_px = price
        if self.hot or price <= self.lo or price >= self.hi:
            return self._trade(price, size, ts)
        return None

    def on_quote(self, bid: float, bid_size: float, ask: float, ask_size: float, ts: int) -> list[Execution] | None:
        self.bid = bid
        self.ask = ask
        self.bid_size = bid_size
        self.ask_size = ask_size
        if self.hot or ask <= self.bb or bid >= self.bs or ask >= self.sb or bid <= self.ss:
            return self._quote(ts)
        return None

    def on_book(self, book: OrderBook, bids: tuple[tuple[float, float], ...] = (),
                asks: tuple[tuple[float, float], ...] = (), ts: int = 0) -> list[Execution] | None:
        """After `book` changed by the levels `bids`/`asks` (a delta or a snapshot)."""
        if not self.orders:
            return None
        return self._book(book, bids, asks, ts)

    # --- orders ---------------------------------------------------------------------------------
    def qty_raw(self, qty: Quantity) -> int:
        return qty.raw if qty.precision == self.size_prec else qty.with_precision(self.size_prec, "down").raw

    def submit(self, o: SimOrder, book: OrderBook | None, ts: int) -> list[Execution]:
        """An order arrives at the venue (after any latency)."""
        self._seq += 1
        o.seq = self._seq
        o.ts = ts
        self.orders[o.coid] = o
        out: list[Execution] = []
        if o.order_type in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT):
            ref = self.last_px if self.last_px == self.last_px else self._mid(book)
            if ref == ref and ((o.sign > 0 and ref >= o.trig) or (o.sign < 0 and ref <= o.trig)):
                self._trigger(o, book, ts, out, ref)
            else:
                self.stops.append(o)
                self._refresh()
            return out
        self._arrive(o, book, ts, out)
        return out

    def cancel(self, coid: str) -> SimOrder | None:
        o = self.orders.pop(coid, None)
        if o is not None:
            self._remove(o)
            self._refresh()
        return o

    def modify(self, coid: str, qty: Quantity | None, price: Price | None, book: OrderBook | None,
               ts: int, trigger: Price | None = None) -> list[Execution] | None:
        """Amend a resting order (a waiting stop's trigger too). None if it is not here; raises
        ValueError if the amend is impossible (below the filled quantity, a post-only price that
        would take, the trigger of a stop that has triggered)."""
        o = self.orders.get(coid)
        if o is None:
            return None
        filled = o.qty_raw - o.leaves_raw
        new_qty = self.qty_raw(qty) if qty is not None else o.qty_raw
        if new_qty <= filled:
            raise ValueError(f"new quantity is not above the filled quantity")
        if trigger is not None and (o.triggered or o.order_type not in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)):
            raise ValueError("the stop has triggered already: its trigger cannot move" if o.triggered
                             else "only a stop order has a trigger")
        if price is not None and o.post_only and self._crosses(o.sign, price.as_double(), book):
            raise ValueError("post-only price would take liquidity")
        self._remove(o)
        requeue = (price is not None and price != o.price) or new_qty > o.qty_raw
        o.qty_raw = new_qty
        o.leaves_raw = new_qty - filled
        if price is not None:
            o.price = price
            o.px = price.as_double()
        if trigger is not None:
            o.trigger = trigger
            o.trig = trigger.as_double()
        out: list[Execution] = []
        if o.order_type in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT) and not o.triggered:
            self.stops.append(o)
            self._refresh()
        elif requeue:
            self._arrive(o, book, ts, out)
        else:
            self._rest(o, book, keep_queue=True)
            self._refresh()
        return out

    # --- arrival --------------------------------------------------------------------------------
    def _arrive(self, o: SimOrder, book: OrderBook | None, ts: int, out: list[Execution]) -> None:
        opp = None if book is None else _opposite(book, o.sign)
        if o.order_type in (OrderType.MARKET, OrderType.STOP_MARKET):
            if self.bar_mode or opp is None:
                self.pending.append(o)
                self._refresh()
                return
            self._take(o, opp, INF if o.sign > 0 else -INF, ts, out)
            if o.leaves_raw:
                self._end(o, CANCELED, "no more liquidity in the book", ts, out)
            return
        # a limit order
        crosses = self._crosses(o.sign, o.px, book)
        if o.post_only and crosses:
            self._end(o, REJECTED, "post-only order would take liquidity", ts, out)
            return
        if self.bar_mode or opp is None:
            if o.tif is not TimeInForce.GTC:
                self.pending.append(o)  # gets the next print only
            else:
                o.fresh = not self.bar_mode
                self._rest(o, book)
            self._refresh()
            return
        if crosses:
            if o.tif is TimeInForce.FOK and _available(opp, o.sign, o.px, self.size_scale) < o.leaves_raw:
                self._end(o, CANCELED, "FOK order cannot be filled whole", ts, out)
                return
            self._take(o, opp, o.px, ts, out)
        elif o.tif is TimeInForce.FOK:
            self._end(o, CANCELED, "FOK order cannot be filled whole", ts, out)
            return
        if not o.leaves_raw:
            return
        if o.tif is TimeInForce.IOC:
            self._end(o, CANCELED, "IOC remainder", ts, out)
            return
        self._rest(o, book)
        self._refresh()

    def _crosses(self, sign: int, px: float, book: OrderBook | None) -> bool:
        """Would a limit at px take liquidity now?"""
        opp = _opposite(book, sign)
        if opp is not None:
            best = opp[0][0]
        elif sign > 0:
            best = self.ask if self.ask == self.ask else self.last_px
        else:
            best = self.bid if self.bid == self.bid else self.last_px
        if best != best:
            return False
        return px >= best if sign > 0 else px <= best

    def _take(self, o: SimOrder, levels: _Levels, limit: float, ts: int, out: list[Execution]) -> None:
        """Fill o as taker against book levels up to `limit`."""
        scale = self.size_scale
        lot = self.lot_raw
        px, size = levels[0]  # most orders need only the best level
        if (o.sign > 0 and px > limit) or (o.sign < 0 and px < limit):
            return
        avail = int(size * scale + 0.5)
        avail -= avail % lot
        if avail >= o.leaves_raw:
            self._fill(o, o.leaves_raw, self._taker_price(px, o.sign), LiquiditySide.TAKER, ts, out)
            return
        for px, size in levels:
            if (o.sign > 0 and px > limit) or (o.sign < 0 and px < limit):
                break
            avail = int(size * scale + 0.5)
            avail -= avail % lot
            if avail <= 0:
                continue
            q = min(avail, o.leaves_raw)
            self._fill(o, q, self._taker_price(px, o.sign), LiquiditySide.TAKER, ts, out)
            if not o.leaves_raw:
                return

    def _rest(self, o: SimOrder, book: OrderBook | None, keep_queue: bool = False) -> None:
        if not keep_queue:
            o.queue = 0
            if book is not None:
                side = book.bids if o.sign > 0 else book.asks
                q = int(side.size_at(o.px) * self.size_scale + 0.5)
                o.queue = q
        if o.fresh:
            self.fresh += 1
        if o.sign > 0:
            insort(self.buys, (-o.px, o.seq, o))
        else:
            insort(self.sells, (o.px, o.seq, o))

    def _trigger(self, o: SimOrder, book: OrderBook | None, ts: int, out: list[Execution], at: float) -> None:
        o.triggered = True
        out.append(Execution(TRIGGERED, o, ts))
        if o.order_type is OrderType.STOP_MARKET and (book is None or _opposite(book, o.sign) is None):
            if at == at:  # fill at the price that triggered it
                self._fill(o, o.leaves_raw, self._taker_price(at, o.sign), LiquiditySide.TAKER, ts, out)
                return
        self._arrive(o, book, ts, out)

    # --- market events (slow paths) -------------------------------------------------------------
    def _trade(self, price: float, size: float, ts: int) -> list[Execution] | None:
        out: list[Execution] = []
        if self.pending:
            pending, self.pending = self.pending, []
            for o in pending:
                if o.order_type in (OrderType.MARKET, OrderType.STOP_MARKET):
                    v = price * _POW10[self.price_prec]
                    if not self.slippage and -1e15 < v < 1e15:  # _taker_price's exact fast path, inline
                        px = Price.from_raw(round(v), self.price_prec)
                    else:
                        px = self._taker_price(price, o.sign)
                    self._fill(o, o.leaves_raw, px, LiquiditySide.TAKER, ts, out)
                elif (o.sign > 0 and price <= o.px) or (o.sign < 0 and price >= o.px):
                    self._fill(o, o.leaves_raw, o.price, LiquiditySide.TAKER, ts, out)  # type: ignore[arg-type]
                else:
                    self._end(o, CANCELED, f"{o.tif.value} not filled by the next trade", ts, out)
        if self.stops and (price >= self.sb or price <= self.ss):
            for o in [s for s in self.stops if (s.sign > 0 and price >= s.trig) or (s.sign < 0 and price <= s.trig)]:
                self.stops.remove(o)
                self._trigger(o, None, ts, out, price)
            self._refresh()
        size_raw = int(size * self.size_scale + 0.5)
        if self.buys and price <= self.bb:
            self._match_resting(self.buys, 1, price, size_raw, ts, out)
        if self.sells and price >= self.bs:
            self._match_resting(self.sells, -1, price, size_raw, ts, out)
        if self.fresh:
            for _, _, o in self.buys + self.sells:
                o.fresh = False
            self.fresh = 0
        self._refresh()
        return out or None

    def _match_resting(self, book: list[tuple[float, int, SimOrder]], sign: int, price: float, size_raw: int,
                       ts: int, out: list[Execution]) -> None:
        """A trade at `price` against resting orders on one side (best first)."""
        avail = size_raw
        done = 0
        for _, _, o in book:
            if (sign > 0 and o.px < price) or (sign < 0 and o.px > price):
                break
            if o.px != price:  # traded through: the whole level went, and we with it
                liq = LiquiditySide.TAKER if o.fresh else LiquiditySide.MAKER
                self._fill(o, o.leaves_raw, o.price, liq, ts, out)  # type: ignore[arg-type]
                done += 1
                continue
            if avail <= 0:
                break
            if o.queue >= avail:
                o.queue -= avail
                avail = 0
                break
            avail -= o.queue
            o.queue = 0
            q = min(o.leaves_raw, avail - avail % self.lot_raw)
            if q > 0:
                avail -= q
                self._fill(o, q, o.price, LiquiditySide.MAKER, ts, out)  # type: ignore[arg-type]
            if not o.leaves_raw:
                done += 1
        if done:
            book[:] = [e for e in book if e[2].leaves_raw]

    def _quote(self, ts: int) -> list[Execution] | None:
        out: list[Execution] = []
        bid, ask = self.bid, self.ask
        if self.pending:
            pending, self.pending = self.pending, []
            for o in pending:
                px = ask if o.sign > 0 else bid
                if o.order_type in (OrderType.MARKET, OrderType.STOP_MARKET):
                    self._fill(o, o.leaves_raw, self._taker_price(px, o.sign), LiquiditySide.TAKER, ts, out)
                elif (o.sign > 0 and px <= o.px) or (o.sign < 0 and px >= o.px):
                    self._fill(o, o.leaves_raw, Price.from_float(px, self.price_prec), LiquiditySide.TAKER, ts, out)
                else:
                    self._end(o, CANCELED, f"{o.tif.value} not filled by the next quote", ts, out)
        mid = (bid + ask) / 2
        if self.stops and (ask >= self.sb or bid <= self.ss):
            for o in [s for s in self.stops if (s.sign > 0 and mid >= s.trig) or (s.sign < 0 and mid <= s.trig)]:
                self.stops.remove(o)
                self._trigger(o, None, ts, out, ask if o.sign > 0 else bid)
            self._refresh()
        # a quote without sizes fills whole
        levels_a = [(ask, self.ask_size if self.ask_size > 0 else 1e12)]
        levels_b = [(bid, self.bid_size if self.bid_size > 0 else 1e12)]
        if self.buys and ask <= self.bb:
            self._cross_resting(self.buys, 1, levels_a, ts, out)
        if self.sells and bid >= self.bs:
            self._cross_resting(self.sells, -1, levels_b, ts, out)
        self._refresh()
        return out or None

    def _book(self, book: OrderBook, bids: tuple[tuple[float, float], ...], asks: tuple[tuple[float, float], ...],
              ts: int) -> list[Execution] | None:
        out: list[Execution] = []
        if self.pending:  # market orders that had no book to walk when they arrived
            pending, self.pending = self.pending, []
            for o in pending:
                self._arrive(o, book, ts, out)
        scale = self.size_scale
        # the queue ahead of us cannot be longer than what is left at our price
        for levels, resting in ((bids, self.buys), (asks, self.sells)):
            if levels and resting:
                prices = {p: s for p, s in levels}
                for _, _, o in resting:
                    s = prices.get(o.px)
                    if s is not None:
                        o.queue = min(o.queue, int(s * scale + 0.5))
        b, a = book.bids.best(), book.asks.best()
        if self.stops and b is not None and a is not None:
            mid = (b[0] + a[0]) / 2
            for o in [s for s in self.stops if (s.sign > 0 and mid >= s.trig) or (s.sign < 0 and mid <= s.trig)]:
                self.stops.remove(o)
                self._trigger(o, book, ts, out, mid)
            self._refresh()
        if self.buys and a is not None and a[0] <= self.bb:
            self._cross_resting(self.buys, 1, book.asks.top(50), ts, out)
        if self.sells and b is not None and b[0] >= self.bs:
            self._cross_resting(self.sells, -1, book.bids.top(50), ts, out)
        self._refresh()
        return out or None

    def _cross_resting(self, resting: list[tuple[float, int, SimOrder]], sign: int, levels: list[tuple[float, float]],
                       ts: int, out: list[Execution]) -> None:
        """Opposite liquidity at or through our resting prices: we are hit at our price."""
        scale, lot = self.size_scale, self.lot_raw
        budget = [(px, int(sz * scale + 0.5)) for px, sz in levels]
        i = 0
        for _, _, o in resting:
            while i < len(budget) and o.leaves_raw:
                px, avail = budget[i]
                if (sign > 0 and px > o.px) or (sign < 0 and px < o.px):
                    break
                q = min(avail - avail % lot, o.leaves_raw)
                if q > 0:
                    liq, fill_px = (LiquiditySide.TAKER, Price.from_float(px, self.price_prec)) if o.fresh \
                        else (LiquiditySide.MAKER, o.price)
                    self._fill(o, q, fill_px, liq, ts, out)  # type: ignore[arg-type]
                    avail -= q
                if avail - avail % lot <= 0:
                    i += 1
                else:
                    budget[i] = (px, avail)
                    break
            if i >= len(budget):
                break
        resting[:] = [e for e in resting if e[2].leaves_raw]

    def on_bar(self, open_: float, high: float, low: float, close: float, ts: int) -> list[Execution] | None:
        """A closed bar; `ts` is its open time (when orders waiting for it fill)."""
        if not self.orders:
            self.last_px = close
            return None
        out: list[Execution] = []
        if self.pending:
            pending, self.pending = self.pending, []
            for o in pending:
                if o.order_type in (OrderType.MARKET, OrderType.STOP_MARKET):
                    self._fill(o, o.leaves_raw, self._taker_price(open_, o.sign), LiquiditySide.TAKER, ts, out)
                elif (o.sign > 0 and open_ <= o.px) or (o.sign < 0 and open_ >= o.px):
                    self._fill(o, o.leaves_raw, Price.from_float(open_, self.price_prec), LiquiditySide.TAKER, ts, out)
                else:
                    self._end(o, CANCELED, f"{o.tif.value} not filled at the next open", ts, out)
        fresh: list[SimOrder] = []  # stop-limits triggered in this bar: they did not exist at its open
        for o in list(self.stops):
            at = math.nan
            if o.sign > 0 and high >= o.trig:
                at = max(open_, o.trig)
            elif o.sign < 0 and low <= o.trig:
                at = min(open_, o.trig)
            if at == at:
                self.stops.remove(o)
                o.triggered = True
                out.append(Execution(TRIGGERED, o, ts))
                if o.order_type is OrderType.STOP_MARKET:
                    self._fill(o, o.leaves_raw, self._taker_price(at, o.sign), LiquiditySide.TAKER, ts, out)
                else:
                    self._rest(o, None)  # a stop-limit rests from the next bar on
                    fresh.append(o)
        for resting, sign in ((self.buys, 1), (self.sells, -1)):
            for _, _, o in resting:
                if fresh and any(o is f for f in fresh):
                    continue
                if (sign > 0 and open_ <= o.px) or (sign < 0 and open_ >= o.px):  # opened at or through it
                    self._fill(o, o.leaves_raw, Price.from_float(open_, self.price_prec), LiquiditySide.TAKER, ts, out)
                elif (sign > 0 and low <= o.px) or (sign < 0 and high >= o.px):  # the bar reached it
                    self._fill(o, o.leaves_raw, o.price, LiquiditySide.MAKER, ts, out)  # type: ignore[arg-type]
            resting[:] = [e for e in resting if e[2].leaves_raw]
        self.last_px = close
        self._refresh()
        return out or None

    # --- bookkeeping ----------------------------------------------------------------------------
    def _taker_price(self, px: float, sign: int) -> Price:
        if not self.slippage:
            v = px * _POW10[self.price_prec]
            if -1e15 < v < 1e15:  # Price.from_float's exact fast path, inline (nan, inf and large take its checks)
                return Price.from_raw(round(v), self.price_prec)
            return Price.from_float(px, self.price_prec)
        adj = EXACT.multiply(Decimal(repr(px)), 1 + sign * self.slippage)
        return self.inst.make_price(adj, ROUND_CEIL if sign > 0 else ROUND_FLOOR)

    def _fill(self, o: SimOrder, q: int, price: Price, liq: LiquiditySide, ts: int, out: list[Execution]) -> None:
        o.leaves_raw -= q
        qty = Quantity.from_raw(q, self.size_prec)
        fp = self.fee_precision
        if self._linear_cs1:
            # price * qty * rate in integers, rounded half-even to the fee precision: exact
            if liq is LiquiditySide.MAKER:
                num, den = self._maker_fee_num, self._maker_fee_den
            else:
                num, den = self._taker_fee_num, self._taker_fee_den
            # _div_round(n, d, ROUND_NEAREST), inline: half to even
            d = den * _P10[price._prec + self.size_prec]  # noqa: SLF001
            fee_raw, r = divmod(price._raw * q * num, d)  # noqa: SLF001
            if r and (2 * r > d or (2 * r == d and fee_raw % 2 == 1)):
                fee_raw += 1
        else:
            rate = self.maker_fee if liq is LiquiditySide.MAKER else self.taker_fee
            fee_raw = to_raw(EXACT.multiply(self.inst.notional(price, qty), rate), fp)
        fee = Money.of_raw(fee_raw, fp, self.fee_currency)
        out.append(Execution(FILL, o, ts, qty, price, liq, fee))
        if not o.leaves_raw:
            self.orders.pop(o.coid, None)

    def _end(self, o: SimOrder, kind: str, reason: str, ts: int, out: list[Execution]) -> None:
        self.orders.pop(o.coid, None)
        self._remove(o)
        out.append(Execution(kind, o, ts, reason=reason))

    def _remove(self, o: SimOrder) -> None:
        for lst in (self.buys, self.sells):
            for i, e in enumerate(lst):
                if e[2] is o:
                    del lst[i]
                    if o.fresh:
                        self.fresh -= 1
                    break
        if o in self.stops:
            self.stops.remove(o)
        if o in self.pending:
            self.pending.remove(o)

    def _refresh(self) -> None:
        self.bb = -self.buys[0][0] if self.buys else -INF
        self.bs = self.sells[0][0] if self.sells else INF
        if self.stops:
            self.sb = min((o.trig for o in self.stops if o.sign > 0), default=INF)
            self.ss = max((o.trig for o in self.stops if o.sign < 0), default=-INF)
        else:
            self.sb = INF
            self.ss = -INF
        self.lo = max(self.bb, self.ss)
        self.hi = min(self.bs, self.sb)
        self.hot = bool(self.pending) or self.fresh > 0

    @staticmethod
    def _mid(book: OrderBook | None) -> float:
        m = book.mid() if book is not None else None
        return m if m is not None else math.nan

    def resting(self) -> list[SimOrder]:
        return list(self.orders.values())


class FillModel:
    """The fill model of one venue: a Matcher per symbol, created on first use."""

    def __init__(self, *, maker_fee: Decimal | None = None, taker_fee: Decimal | None = None,
                 slippage_bps: Decimal = Decimal(0), fee_precision: int = 8, bar_mode: bool = False) -> None:
        self.maker_fee = maker_fee
        self.taker_fee = taker_fee
        self.slippage_bps = slippage_bps
        self.fee_precision = fee_precision
        self.bar_mode = bar_mode
        self.matchers: dict[str, Matcher] = {}

    def matcher(self, instrument: Instrument) -> Matcher:
        m = self.matchers.get(instrument.symbol)
        if m is None:
            m = self.matchers[instrument.symbol] = Matcher(
                instrument, maker_fee=self.maker_fee, taker_fee=self.taker_fee, slippage_bps=self.slippage_bps,
                fee_precision=self.fee_precision, bar_mode=self.bar_mode)
        return m

    def find(self, coid: str) -> tuple[Matcher, SimOrder] | None:
        for m in self.matchers.values():
            o = m.orders.get(coid)
            if o is not None:
                return m, o
        return None

"""The backtest's trading core: order intake, pre-trade checks and an exact ledger.

STAND-IN. Issue 4's kernel (engine/kernel.py with its OMS, risk engine and portfolio) is the
engine every mode must share; until it lands, this small implementation of the strategy's
`TradingContext` lets backtests run with the same event flow: OrderSubmitted -> OrderAccepted
-> OrderFilled on the bus, exact Decimal cash and positions. The replay (engine.py) only talks
to it through `TradingContext`, `apply_fill` and the read-outs below, so swapping in the kernel
is confined to `BacktestEngine._build_core`.

Ledger: cash moves by exactly price * qty +/- fee; a position keeps its exact cost basis;
equity = cash + sum(position * mark). Nothing grows per tick; per fill it is O(1).
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from quantai_tui.core.clock import Clock
from quantai_tui.core.commands import CancelAllOrders, CancelOrder, SubmitOrder
from quantai_tui.core.enums import LiquiditySide, OrderSide, OrderStatus, OrderType
from quantai_tui.core.events import OrderFilled, OrderRejected, OrderSubmitted
from quantai_tui.core.instruments import Instrument
from quantai_tui.core.values import EXACT, FixedPoint, Money, Price, Quantity

_ZERO = Decimal(0)
_BPS = Decimal(10_000)
_EXP = tuple(Decimal(1).scaleb(-i) for i in range(19))  # quantize targets 1, 0.1, ... 1e-18


@dataclass(slots=True)
class SimOrder:
    client_order_id: str
    venue: str
    symbol: str
    side: OrderSide
    order_type: OrderType
    quantity: Quantity
    price: Price | None
    trigger_price: Price | None
    reduce_only: bool
    strategy_id: str
    ts_submitted: int
    topic: str = ""
    status: OrderStatus = OrderStatus.SUBMITTED


@dataclass(slots=True)
class FillRecord:
    """One fill, as the result and --trades-out report it."""

    ts: int
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    fee: Decimal
    client_order_id: str
    strategy_id: str


@dataclass(slots=True)
class _Position:
    qty: Decimal = _ZERO  # signed
    cost: Decimal = _ZERO  # signed cost basis of the open quantity (qty * avg entry)
    trip_pnl: Decimal = _ZERO  # P&L (after fees) of the round trip in progress


class BacktestAccount:
    """OMS + risk + portfolio for one venue and one cash currency (see the module docstring)."""

    def __init__(self, *, clock: Clock, publish: Callable[[str, Any], None], venue: str,
                 instruments: dict[str, Instrument], initial_capital: Decimal, fee_bps: Decimal,
                 check_balance: bool = True) -> None:
        self._clock = clock
        self._publish = publish
        self.venue_name = venue
        self.instruments = instruments
        currencies = {i.quote for i in instruments.values()}
        if len(currencies) > 1:
            from quantai_tui.core.errors import DataError

            raise DataError(f"symbols quoted in different currencies ({', '.join(sorted(currencies))}) "
                            "cannot share one backtest account")
        self.currency = currencies.pop() if currencies else "USDT"
        self.initial_capital = Decimal(initial_capital)
        self.cash = Decimal(initial_capital)
        self.fee_rate = Decimal(fee_bps) / _BPS
        self._one_plus_fee = 1 + self.fee_rate
        self.check_balance = check_balance
        self.positions: dict[str, _Position] = {s: _Position() for s in instruments}
        self.orders: dict[str, SimOrder] = {}
        self.open_orders: dict[str, SimOrder] = {}
        self.fills: list[FillRecord] = []
        self.fees_paid = _ZERO
        self.orders_submitted = 0
        self.orders_rejected = 0
        self.closed_trips: list[Decimal] = []  # P&L per round trip, for win rate / profit factor
        self._order_seq = 0  # ids are bt + a counter: unique and the same on every replay
        self._trade_seq = 0
        self.venue: Any = None  # the execution venue; set by the engine
        self.fill_listeners: list[Callable[[FillRecord], None]] = []

    # --- TradingContext ----------------------------------------------------------------------------
    @property
    def clock(self) -> Clock:
        return self._clock

    def instrument(self, venue: str, symbol: str) -> Instrument:
        inst = self.instruments.get(symbol)
        if inst is None:
            from quantai_tui.core.errors import StrategyError

            raise StrategyError(f"no instrument {symbol} in this backtest (have: {', '.join(self.instruments)})")
        return inst

    async def submit_order(self, command: SubmitOrder) -> str:
        now = self._clock.timestamp_ns()
        self._order_seq += 1
        coid = command.client_order_id or "bt%08d" % self._order_seq
        self.orders_submitted += 1
        venue = command.venue or self.venue_name
        topic = f"orders.{venue}.{command.symbol}"
        order = SimOrder(coid, venue, command.symbol, command.side, command.order_type, command.quantity,
                         command.price, command.trigger_price, command.reduce_only, command.strategy_id, now, topic)
        self.orders[coid] = order
        self._publish(topic, OrderSubmitted.make(coid, venue, command.symbol, command.strategy_id, command.side,
                                                 command.order_type, command.quantity, command.price,
                                                 command.trigger_price, command.time_in_force, command.post_only,
                                                 command.reduce_only, now, now))
        reason = self._check(order)
        if reason:
            self.orders_rejected += 1
            order.status = OrderStatus.REJECTED
            self._publish(topic, OrderRejected(coid, venue, order.symbol, reason, ts_event=now, ts_init=now))
            return coid
        self.open_orders[coid] = order
        self.venue.submit(order)
        return coid

    async def cancel_order(self, command: CancelOrder) -> None:
        order = self.open_orders.get(command.client_order_id)
        if order is not None:
            self.venue.cancel(order)

    async def cancel_all_orders(self, command: CancelAllOrders) -> None:
        for order in list(self.open_orders.values()):
            if command.symbol not in (None, order.symbol):
                continue
            if command.strategy_id not in (None, order.strategy_id):
                continue
            self.venue.cancel(order)

    def position_qty(self, venue: str, symbol: str) -> Decimal:
        pos = self.positions.get(symbol)
        return pos.qty if pos is not None else _ZERO

    def balance(self, venue: str, asset: str) -> Decimal:
        if asset == self.currency:
            return self.cash
        for sym, inst in self.instruments.items():
            if inst.base == asset:
                return self.positions[sym].qty
        return _ZERO

    def open_order_ids(self, venue: str | None = None, symbol: str | None = None,
                       strategy_id: str | None = None) -> list[str]:
        return [o.client_order_id for o in self.open_orders.values()
                if symbol in (None, o.symbol) and strategy_id in (None, o.strategy_id)]

    # --- pre-trade checks ---------------------------------------------------------------------------
    def _check(self, order: SimOrder) -> str:
        inst = self.instruments.get(order.symbol)
        if inst is None:
            return f"unknown symbol {order.symbol}"
        qty = order.quantity
        if qty.raw <= 0:
            return "quantity must be positive"
        if qty < inst.min_quantity:
            return f"quantity {qty} below the minimum {inst.min_quantity}"
        if order.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) and order.price is None:
            return "a limit order needs a price"
        pos = self.positions[order.symbol].qty
        buy = order.side is OrderSide.BUY
        if order.reduce_only:
            if not pos or (pos > 0) == buy or qty.as_decimal() > abs(pos):
                return "reduce-only order would not reduce the position"
        if self.check_balance and buy and pos >= 0:
            if order.price is not None:
                pxf = float(order.price)
            else:
                mark = self.venue.last_price(order.symbol) if self.venue is not None else None
                if not mark:
                    return ""
                pxf = mark
            cash = float(self.cash)
            est = pxf * float(qty) * float(self._one_plus_fee)
            if est < cash * 0.999999:  # clearly affordable: the exact check below cannot fail
                return ""
            px = order.price.as_decimal() if order.price is not None else Decimal(repr(pxf))
            cost = EXACT.multiply(EXACT.multiply(px, qty.as_decimal()), self._one_plus_fee)
            if cost > self.cash:
                return f"balance: cost {cost:.2f} exceeds free {self.currency} {self.cash:.2f}"
        return ""

    # --- the venue reports --------------------------------------------------------------------------
    def apply_fill(self, order: SimOrder, price: Price, ts: int) -> None:
        """A full fill of `order` at `price` (exact): ledger, events, round trips. All Decimal
        arithmetic runs in the 60-digit EXACT context: nothing here rounds but the fee, which
        is rounded once to the account's fee precision."""
        ctx = EXACT
        q = order.quantity.as_decimal()
        px = price.as_decimal()
        notional = ctx.multiply(px, q)
        prec = self._fee_prec(order.symbol)
        fee = ctx.multiply(notional, self.fee_rate).quantize(_EXP[prec], context=ctx)
        fee_money = Money.of(FixedPoint.from_raw(int(fee.scaleb(prec, ctx)), prec), self.currency)
        pos = self.positions[order.symbol]
        buy = order.side is OrderSide.BUY
        signed = q if buy else -q
        self.cash = ctx.subtract(ctx.subtract(self.cash, notional) if buy else ctx.add(self.cash, notional), fee)
        self.fees_paid = ctx.add(self.fees_paid, fee)
        pos.trip_pnl = ctx.subtract(pos.trip_pnl, fee)
        old = pos.qty
        if not old or (old > 0) == buy:  # open or add
            pos.cost = ctx.add(pos.cost, ctx.multiply(px, signed))
            pos.qty = ctx.add(old, signed)
        else:
            closing = min(q, abs(old))
            # signed cost of the part that closes; exact when the whole position closes
            basis = pos.cost if closing == abs(old) else ctx.divide(ctx.multiply(pos.cost, closing), abs(old))
            gross = ctx.multiply(px, closing)
            realized = ctx.subtract(gross, basis) if old > 0 else ctx.subtract(ctx.minus(basis), gross)
            pos.trip_pnl = ctx.add(pos.trip_pnl, realized)
            pos.cost = ctx.subtract(pos.cost, basis)
            pos.qty = new = ctx.add(old, signed)
            if not new or (new > 0) != (old > 0):
                self.closed_trips.append(pos.trip_pnl)
                pos.trip_pnl = _ZERO
                pos.cost = ctx.multiply(px, new) if new else _ZERO  # a flip opens a new trip here
        order.status = OrderStatus.FILLED
        self.open_orders.pop(order.client_order_id, None)
        self._trade_seq += 1
        rec = FillRecord(ts, order.symbol, order.side.value, q, px, fee, order.client_order_id, order.strategy_id)
        self.fills.append(rec)
        coid = order.client_order_id
        self._publish(order.topic, OrderFilled.make(coid, order.venue, order.symbol, "v" + coid,
                                                    "bt" + str(self._trade_seq), order.side, order.quantity, price,
                                                    fee_money, LiquiditySide.TAKER, ts, ts))
        for listener in self.fill_listeners:
            listener(rec)

    def _fee_prec(self, symbol: str) -> int:
        inst = self.instruments[symbol]
        return min(18, inst.price_precision + inst.size_precision + 6)

    def order_closed(self, order: SimOrder, status: OrderStatus) -> None:
        order.status = status
        self.open_orders.pop(order.client_order_id, None)

    # --- read-outs -----------------------------------------------------------------------------------
    def equity(self, marks: dict[str, float]) -> Decimal:
        """Exact: cash + sum(position * mark); a float mark is taken at its shortest repr."""
        eq = self.cash
        for sym, pos in self.positions.items():
            if pos.qty:
                m = marks.get(sym)
                if m is not None:
                    eq += EXACT.multiply(pos.qty, Decimal(repr(m)))
        return eq

    def equity_float(self, marks: dict[str, float]) -> float:
        eq = float(self.cash)
        for sym, pos in self.positions.items():
            if pos.qty:
                m = marks.get(sym)
                if m is not None:
                    eq += float(pos.qty) * m
        return eq

    def exposed(self) -> bool:
        return any(p.qty for p in self.positions.values())

"""A small stand-in for the kernel, implementing the bridge's EngineFacade over the real
SimMarket and MessageBus. Deterministic: market data moves only when `pump(n)` is called
(or when `run_feed` is started), order ids count up, time is the sim's.

It lets the UI be tested on its own terms; end-to-end tests use the real kernel.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from quantai_tui.connectors.sim import SimMarket, sim_instruments
from quantai_tui.core import events as ev
from quantai_tui.core.book import OrderBook
from quantai_tui.core.commands import (
    CancelAllOrders,
    CancelOrder,
    Command,
    EngageKillSwitch,
    ReleaseKillSwitch,
    SubmitOrder,
)
from quantai_tui.core.enums import ConnectionState, OrderSide, OrderStatus, OrderType, PositionSide, TradingMode, TradingState
from quantai_tui.core.errors import KillSwitchEngaged as KillSwitchError
from quantai_tui.core.errors import RiskDenied
from quantai_tui.core.instruments import Instrument
from quantai_tui.core.values import Money, Price, Quantity
from quantai_tui.engine.bus import MessageBus
from quantai_tui.tui.views import AccountView, OrderView, PositionView

MAX_NOTIONAL = Decimal("50000")


class FakeEngine:
    def __init__(self, seed: int = 7, symbols: tuple[str, ...] = ("BTC/USDT", "ETH/USDT"),
                 mode: TradingMode = TradingMode.PAPER, venue: str = "sim", rate: float = 200.0) -> None:
        self.bus = MessageBus()
        self.venue = venue
        self.mode = mode
        self.account_name = "paper"
        self._symbols = symbols
        self.market = SimMarket(seed, symbols, rate=rate)
        self._instruments = sim_instruments()
        self._orders: dict[str, OrderView] = {}
        self._positions: dict[str, tuple[Decimal, Decimal, Decimal]] = {}  # qty, avg, realised
        self._state = TradingState.ACTIVE
        self._kill = False
        self._conn = ConnectionState.DISCONNECTED
        self._n = 0
        self._feed: asyncio.Task[None] | None = None
        self.commands: list[Command] = []
        self.started = False
        self.strategies: list[str] = []

    # --- facade ------------------------------------------------------------------------------
    @property
    def symbols(self) -> tuple[str, ...]:
        return self._symbols

    async def call(self, coro: Any) -> Any:
        return await coro  # one loop: the UI's

    def soon(self, fn: Any) -> None:
        asyncio.get_running_loop().call_soon(fn)

    async def start(self) -> None:
        self.started = True
        self._conn = ConnectionState.CONNECTED
        self.bus.publish("connector.sim", ev.VenueConnected("sim", ts_event=self.now, ts_init=self.now))

    async def stop(self) -> None:
        self.stop_feed()
        self.started = False

    def instrument(self, symbol: str) -> Instrument | None:
        return self._instruments.get(symbol)

    def book(self, symbol: str) -> OrderBook | None:
        return self.market.book(symbol) if symbol in self._symbols else None

    def orders(self) -> list[OrderView]:
        return sorted(self._orders.values(), key=lambda o: o.ts_ns, reverse=True)

    def positions(self) -> list[PositionView]:
        out = []
        for sym, (qty, avg, realised) in sorted(self._positions.items()):
            mark = self._mark(sym)
            upnl = (mark - avg) * qty if mark is not None else Decimal(0)
            out.append(PositionView("sim", sym, qty, avg, mark, upnl.quantize(Decimal("0.01")), realised))
        return out

    def account(self) -> AccountView:
        pnl = sum((p.unrealized_pnl + p.realized_pnl for p in self.positions()), Decimal(0))
        return AccountView(Decimal("10000") + pnl, pnl)

    def trading_state(self) -> TradingState:
        return self._state

    def kill_switch_engaged(self) -> bool:
        return self._kill

    def connection_state(self) -> ConnectionState:
        return self._conn

    def strategy_names(self) -> list[str]:
        return ["ma_crossover", "market_maker"]

    def running_strategies(self) -> list[str]:
        return list(self.strategies)

    async def start_strategy(self, name: str, params: dict[str, str]) -> str:
        self.strategies.append(name)
        return name

    async def stop_strategy(self, strategy_id: str) -> None:
        self.strategies.remove(strategy_id)

    async def execute(self, command: Command) -> Any:
        self.commands.append(command)
        if isinstance(command, SubmitOrder):
            return self._submit(command)
        if isinstance(command, CancelOrder):
            self._cancel(command.client_order_id)
        elif isinstance(command, CancelAllOrders):
            for o in list(self._orders.values()):
                if o.is_open:
                    self._cancel(o.client_order_id)
        elif isinstance(command, EngageKillSwitch):
            for o in list(self._orders.values()):
                if o.is_open:
                    self._cancel(o.client_order_id, "kill switch")
            self._kill, self._state = True, TradingState.HALTED
            self.bus.publish("risk", ev.KillSwitchEngaged(command.reason, command.source,
                                                          ts_event=self.now, ts_init=self.now))
        elif isinstance(command, ReleaseKillSwitch):
            self._kill, self._state = False, TradingState.ACTIVE
            self.bus.publish("risk", ev.KillSwitchReleased(command.reason, command.source,
                                                           ts_event=self.now, ts_init=self.now))
        return None

    # --- market data ---------------------------------------------------------------------------
    @property
    def now(self) -> int:
        return self.market.next_ts or self.market.start_ns

    def pump(self, n: int) -> None:
        for topic, e in self.market.generate(n):
            self.bus.publish(topic, e)

    def run_feed(self, rate_per_s: float, batch: int = 50) -> None:
        async def feed() -> None:
            while True:
                self.pump(batch)
                await asyncio.sleep(batch / rate_per_s)

        self._feed = asyncio.get_running_loop().create_task(feed(), name="fake-feed")

    def stop_feed(self) -> None:
        if self._feed is not None:
            self._feed.cancel()
            self._feed = None

    def _mark(self, symbol: str) -> Decimal | None:
        mid = self.market.book(symbol).mid()
        return Decimal(str(round(mid, 2))) if mid is not None else None

    # --- orders ------------------------------------------------------------------------------
    def _submit(self, c: SubmitOrder) -> str:
        self._n += 1
        coid = f"qafake{self._n:06d}"
        t = self.now + self._n
        view = OrderView(coid, c.venue, c.symbol, c.side.value, c.order_type.value, str(c.quantity), "0",
                         str(c.price) if c.price is not None else "", OrderStatus.SUBMITTED, c.strategy_id, t,
                         trigger=str(c.trigger_price) if c.trigger_price is not None else "")
        price = c.price.as_decimal() if c.price is not None else (self._mark(c.symbol) or Decimal(0))
        notional = price * c.quantity.as_decimal()
        if self._kill or notional > MAX_NOTIONAL:
            check = "kill_switch" if self._kill else "max_order_notional"
            reason = "trading is halted" if self._kill else f"notional {notional:,.2f} > max {MAX_NOTIONAL:,.2f}"
            self._orders[coid] = _replace(view, status=OrderStatus.DENIED, reason=reason)
            self.bus.publish(f"orders.sim.{c.symbol}", ev.OrderDenied(coid, c.strategy_id, "sim", c.symbol, check,
                                                                      reason, ts_event=t, ts_init=t))
            self.bus.publish("risk", ev.OrderDenied(coid, c.strategy_id, "sim", c.symbol, check, reason,
                                                    ts_event=t, ts_init=t))
            if self._kill:
                raise KillSwitchError(reason)
            raise RiskDenied(check, reason)
        self._orders[coid] = _replace(view, status=OrderStatus.ACCEPTED)
        topic = f"orders.sim.{c.symbol}"
        self.bus.publish(topic, ev.OrderSubmitted(coid, "sim", c.symbol, c.strategy_id, c.side, c.order_type,
                                                  c.quantity, c.price, ts_event=t, ts_init=t))
        self.bus.publish(topic, ev.OrderAccepted(coid, "sim", c.symbol, f"v{self._n}", ts_event=t, ts_init=t))
        if c.order_type is OrderType.MARKET:
            self._fill(coid, c, price, t)
        return coid

    def _fill(self, coid: str, c: SubmitOrder, price: Decimal, t: int) -> None:
        inst = self._instruments[c.symbol]
        px = inst.make_price(price)
        self._orders[coid] = _replace(self._orders[coid], status=OrderStatus.FILLED, filled=str(c.quantity))
        self.bus.publish(f"orders.sim.{c.symbol}", ev.OrderFilled(
            coid, "sim", c.symbol, f"v{self._n}", f"t{self._n}", c.side, c.quantity, px,
            Money("0", "USDT", 2), ts_event=t, ts_init=t))
        qty, avg, realised = self._positions.get(c.symbol, (Decimal(0), Decimal(0), Decimal(0)))
        signed = c.quantity.as_decimal() * (1 if c.side is OrderSide.BUY else -1)
        new = qty + signed
        if qty == 0 or (qty > 0) == (signed > 0):
            avg = (avg * abs(qty) + price * abs(signed)) / abs(new) if new else Decimal(0)
        else:
            realised += (price - avg) * min(abs(signed), abs(qty)) * (1 if qty > 0 else -1)
        self._positions[c.symbol] = (new, avg.quantize(Decimal("0.01")), realised.quantize(Decimal("0.01")))
        self.bus.publish(f"positions.sim.{c.symbol}", ev.PositionChanged(
            "sim", c.symbol, PositionSide.LONG if new > 0 else PositionSide.SHORT if new < 0 else PositionSide.FLAT,
            Quantity(abs(new)), Price(self._positions[c.symbol][1]), Money(realised, "USDT", 2),
            Money("0", "USDT", 2), ts_event=t, ts_init=t))

    def _cancel(self, coid: str, reason: str = "") -> None:
        o = self._orders.get(coid)
        if o is None or not o.is_open:
            return
        self._orders[coid] = _replace(o, status=OrderStatus.CANCELED)
        self.bus.publish(f"orders.sim.{o.symbol}", ev.OrderCanceled(coid, "sim", o.symbol, reason=reason,
                                                                    ts_event=self.now, ts_init=self.now))


def _replace(o: OrderView, **kw: Any) -> OrderView:
    from dataclasses import replace

    return replace(o, **kw)

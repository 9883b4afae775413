"""The trading context a strategy (or the AI, or a script) trades through: the kernel's OMS,
risk and portfolio behind a small interface. It satisfies engine.strategy.TradingContext and
adds read-outs (open orders, positions, books, equity) and timers.

Every order goes through the same risk checks and audit log as the UI's and the CLI's. A
denial is an OrderDenied event (on `risk`), never an exception in the strategy. On the backtest
path nothing here suspends.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from quantai_tui.core.book import OrderBook
from quantai_tui.core.clock import Clock, TimeEvent
from quantai_tui.core.commands import CancelAllOrders, CancelOrder, ModifyOrder, SubmitOrder
from quantai_tui.core.enums import OrderSide, OrderType, TimeInForce
from quantai_tui.core.instruments import Instrument
from quantai_tui.core.orders import Order
from quantai_tui.core.positions import NettingPosition

_ZERO = Decimal(0)

if TYPE_CHECKING:
    from quantai_tui.engine.cache import Cache
    from quantai_tui.engine.oms import OrderManager
    from quantai_tui.engine.portfolio import Portfolio


class KernelTradingContext:
    def __init__(self, *, oms: OrderManager, portfolio: Portfolio, cache: Cache, clock: Clock,
                 strategy_id: str = "manual", default_venue: str = "") -> None:
        self._oms = oms
        self._portfolio = portfolio
        self._positions = portfolio.ledger.positions
        self._cache = cache
        self._clock = clock
        self.strategy_id = strategy_id
        self.default_venue = default_venue
        self.pre_submit: Callable[[str], Any] | None = None  # told the order id before the order is sent

    # --- the TradingContext protocol -------------------------------------------------------------
    @property
    def clock(self) -> Clock:
        return self._clock

    def instrument(self, venue: str, symbol: str) -> Instrument:
        return self._cache.instrument(venue or self.default_venue, symbol)

    def next_client_order_id(self) -> str:
        """An id to put in SubmitOrder.client_order_id before submitting, so events that arrive
        while the submit is still running (an immediate fill) can be recognised as this order's."""
        return self._oms.next_client_order_id()

    def submit_now(self, venue: str, symbol: str, side: OrderSide, order_type: OrderType, quantity: Any, price: Any,
                   trigger_price: Any, time_in_force: TimeInForce, post_only: bool, reduce_only: bool,
                   strategy_id: str) -> str | None:
        """The order of `submit_order`, without a command object or an await, when the whole path
        completes without suspending (a backtest); None, with nothing done, when it cannot: then
        use `await submit_order(...)`. The same checks, events and ids."""
        return self._oms.submit_now(venue or self.default_venue, symbol, side, order_type, quantity, price,
                                    trigger_price, time_in_force, post_only, reduce_only, strategy_id, self.pre_submit)

    async def submit_order(self, command: SubmitOrder) -> str:
        coid = command.client_order_id or self._oms.next_client_order_id()
        if self.pre_submit is not None:
            self.pre_submit(coid)
        await self._oms.submit(command, client_order_id=coid)
        return coid

    async def cancel_order(self, command: CancelOrder) -> None:
        await self._oms.cancel(command.client_order_id)

    async def cancel_all_orders(self, command: CancelAllOrders) -> None:
        await self._oms.cancel_all(command.venue, command.symbol, command.strategy_id)

    async def modify_order(self, command: ModifyOrder) -> bool:
        return await self._oms.modify(command)

    def position_qty(self, venue: str, symbol: str) -> Decimal:
        # Portfolio.position_qty, inline (strategies ask on their hot path)
        p = self._positions.get((venue or self.default_venue, symbol))
        return p.qty if p is not None else _ZERO

    def balance(self, venue: str, asset: str) -> Decimal:
        return self._portfolio.balance(venue or self.default_venue, asset)

    def open_order_ids(self, venue: str | None = None, symbol: str | None = None,
                       strategy_id: str | None = None) -> list[str]:
        return [o.client_order_id for o in self._oms.open_orders(venue, symbol, strategy_id)]

    # --- conveniences ----------------------------------------------------------------------------
    async def submit(self, symbol: str, side: OrderSide, quantity: Any, *, venue: str | None = None,
                     order_type: OrderType | None = None, price: Any = None, trigger_price: Any = None,
                     time_in_force: TimeInForce = TimeInForce.GTC, post_only: bool = False,
                     reduce_only: bool = False) -> str:
        """Quantities and prices in any form (Decimal, str, float), snapped to the instrument."""
        v = venue or self.default_venue
        inst = self.instrument(v, symbol)
        qty = inst.make_qty(quantity)
        px = None if price is None else inst.make_price(price)
        trig = None if trigger_price is None else inst.make_price(trigger_price)
        if order_type is None:
            order_type = OrderType.LIMIT if px is not None else OrderType.MARKET
        return await self.submit_order(SubmitOrder(v, symbol, side, order_type, qty, px, trig, time_in_force, post_only,
                                                   reduce_only, self.strategy_id))

    def open_orders(self, venue: str | None = None, symbol: str | None = None,
                    strategy_id: str | None = None) -> list[Order]:
        return self._oms.open_orders(venue, symbol, strategy_id)

    def order(self, client_order_id: str) -> Order | None:
        return self._oms.get(client_order_id)

    def position(self, venue: str, symbol: str) -> NettingPosition | None:
        return self._portfolio.position(venue or self.default_venue, symbol)

    def positions(self, venue: str | None = None) -> list[NettingPosition]:
        return self._portfolio.positions(venue)

    def balances(self, venue: str | None = None) -> dict[str, dict[str, Decimal]]:
        return self._portfolio.balances(venue)

    def equity(self, venue: str | None = None) -> float:
        return self._portfolio.equity(venue)

    def book(self, venue: str, symbol: str) -> OrderBook | None:
        return self._cache.book(venue or self.default_venue, symbol)

    def mid(self, venue: str, symbol: str) -> float | None:
        return self._cache.mid(venue or self.default_venue, symbol)

    def last_price(self, venue: str, symbol: str) -> float | None:
        return self._cache.last(venue or self.default_venue, symbol)

    def set_timer(self, name: str, interval_s: float, callback: Callable[[TimeEvent], Any]) -> None:
        self._clock.set_timer(f"{self.strategy_id}:{name}", int(interval_s * 1e9), callback)

    def cancel_timer(self, name: str) -> None:
        self._clock.cancel_timer(f"{self.strategy_id}:{name}")


"""The bridge's EngineFacade over the real Kernel: the one small adapter between the UI's
needs and the engine's objects. Reads take immutable views of the kernel's cache; commands go
through `kernel.execute`, so every order passes the same risk checks and audit log as a
strategy's or the CLI's.

With `threaded=True` (the app) the kernel runs on its own loop in its own thread
(engine_thread.py): commands cross over with `call`; the bridge does its reads there too.
Reads copy the cache's dicts first (one C-level copy, atomic under the GIL), so a reader on
another thread (the assistant's tools) never trips over a dict that changes size."""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
from collections.abc import Callable, Coroutine, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from quantai_tui.core.commands import Command, SubmitOrder
from quantai_tui.core.enums import ConnectionState, TradingMode, TradingState
from quantai_tui.core.errors import OrderError, RiskDenied
from quantai_tui.core.instruments import Instrument
from quantai_tui.tui.engine_thread import EngineThread
from quantai_tui.tui.views import AccountView, OrderView, PositionView

if TYPE_CHECKING:
    from quantai_tui.core.book import OrderBook
    from quantai_tui.core.orders import Order
    from quantai_tui.engine.kernel import Kernel

T = TypeVar("T")
RECENT_CLOSED = 50
_CENT = Decimal("0.01")


def order_view(o: Order) -> OrderView:
    return OrderView(
        client_order_id=o.client_order_id, venue=o.venue, symbol=o.symbol, side=o.side.value,
        order_type=o.order_type.value, quantity=str(o.quantity), filled=str(o.filled_qty),
        price=str(o.price) if o.price is not None else "", status=o.status, strategy_id=o.strategy_id,
        ts_ns=o.ts_last or o.ts_submitted, reason=o.last_reason,
        trigger=str(o.trigger_price) if o.trigger_price is not None else "",
    )


class KernelFacade:
    def __init__(self, kernel: Kernel, account_name: str = "", *, threaded: bool = False) -> None:
        self.kernel = kernel
        self.bus = kernel.bus
        self.venue = kernel.venue
        self.mode: TradingMode = kernel.mode
        self.account_name = account_name or ("paper" if kernel.mode is not TradingMode.LIVE else "")
        self.thread = EngineThread() if threaded else None
        self._advisors: dict[str, Any] = {}  # strategy id -> LLMAdvisor, closed when it stops
        self.start_error = ""  # why the engine did not start, if it did not

    @property
    def symbols(self) -> Sequence[str]:
        return self.kernel.config.symbols

    # --- the engine's loop ------------------------------------------------------------------------
    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        if self.thread is None:
            return await coro
        self.thread.start()
        return await self.thread.call(coro)

    def soon(self, fn: Callable[[], Any]) -> None:
        if self.thread is None:
            asyncio.get_running_loop().call_soon(fn)
        else:
            self.thread.soon(fn)

    async def start(self) -> None:
        try:
            await self.call(self.kernel.start())
        except Exception as exc:
            self.start_error = str(exc) or type(exc).__name__  # the status bar says so
            raise

    async def stop(self) -> None:
        await self.call(self.kernel.stop("the TUI was closed"))
        for strategy_id in list(self._advisors):
            await self.call(self._close_advisor(strategy_id))
        if self.thread is not None:
            await asyncio.to_thread(self.thread.stop)

    async def execute(self, command: Command) -> Any:
        """Run a command; a refusal raises (RiskDenied names the check), so the UI shows it in place."""
        return await self.call(self._execute(command))

    async def _execute(self, command: Command) -> Any:
        k = self.kernel
        if isinstance(command, SubmitOrder) and command.client_order_id is None:
            # our id up front: the denial (if any) is then found by id, not by position
            command = dataclasses.replace(command, client_order_id=k.oms.next_client_order_id())
        res = await k.execute(command)
        if isinstance(command, SubmitOrder):
            if not res.ok:
                d = next((d for d in reversed(k.oms.denials) if d.client_order_id == command.client_order_id), None)
                if d is not None:
                    raise RiskDenied(d.check, d.reason)
                raise OrderError(res.message)
            return res.client_order_id
        if not res.ok:
            raise OrderError(res.message)
        return res

    # --- reads ------------------------------------------------------------------------------------
    def instrument(self, symbol: str) -> Instrument | None:
        return self.kernel.cache.find_instrument(self.venue, symbol)

    def book(self, symbol: str) -> OrderBook | None:
        return self.kernel.cache.book(self.venue, symbol)

    def orders(self) -> list[OrderView]:
        cache = self.kernel.cache
        open_ = [order_view(o) for o in list(cache.open.values())]
        closed = heapq.nlargest(RECENT_CLOSED, (o for o in list(cache.orders.values()) if not o.is_open),
                                key=lambda o: o.ts_last or o.ts_submitted)
        out = open_ + [order_view(o) for o in closed]
        out.sort(key=lambda v: v.ts_ns, reverse=True)
        return out

    def positions(self) -> list[PositionView]:
        k = self.kernel
        out = []
        for p in list(k.cache.positions.values()):
            if not p.qty:
                continue
            mark = k.cache.mark(p.venue, p.symbol)
            upnl = p.unrealized(mark) if mark is not None else 0.0
            out.append(PositionView(
                p.venue, p.symbol, p.qty, p.avg_price, Decimal(repr(mark)) if mark is not None else None,
                Decimal(repr(upnl)).quantize(_CENT), p.realized_pnl.quantize(_CENT), k.portfolio.currency))
        out.sort(key=lambda v: (v.venue, v.symbol))
        return out

    def account(self) -> AccountView:
        pf = self.kernel.portfolio
        eq = pf.equity()
        day = pf.day_pnl_view(eq)  # read only: the engine sets the day's baseline
        return AccountView(Decimal(repr(eq)).quantize(_CENT), Decimal(repr(day)).quantize(_CENT), pf.currency)

    def trading_state(self) -> TradingState:
        return self.kernel.risk.state

    def kill_switch_engaged(self) -> bool:
        return bool(self.kernel.kill_switch.engaged)

    def connection_state(self) -> ConnectionState:
        if not self.kernel.started:
            return ConnectionState.DISCONNECTED if self.start_error else ConnectionState.CONNECTING
        md = self.kernel.market_data.get(self.venue)
        return md.state if md is not None else ConnectionState.CONNECTED

    # --- strategies -------------------------------------------------------------------------------
    def strategy_names(self) -> list[str]:
        from quantai_tui.engine.strategy_loader import list_strategies

        return sorted(list_strategies())

    def running_strategies(self) -> list[str]:
        return list(self.kernel.strategies)

    async def start_strategy(self, name: str, params: dict[str, str]) -> str:
        """Load and build the strategy here (the caller's thread), run it on the engine's loop."""
        from quantai_tui.ai.advisor import attach_advisor
        from quantai_tui.engine.strategy_loader import load_strategy

        strategy = load_strategy(name)(params)
        if attach_advisor(strategy, self.kernel.settings):  # ai_guided asks the configured model, if any
            self._advisors[strategy.id] = strategy.advisor
        return await self.call(self.kernel.add_strategy(strategy))

    async def stop_strategy(self, strategy_id: str) -> None:
        await self.call(self.kernel.stop_strategy(strategy_id))
        await self.call(self._close_advisor(strategy_id))

    async def _close_advisor(self, strategy_id: str) -> None:
        advisor = self._advisors.pop(strategy_id, None)
        if advisor is not None:
            from quantai_tui.ai.advisor import close_advisor

            await close_advisor(advisor, strategy_id)

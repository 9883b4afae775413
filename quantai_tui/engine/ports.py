"""The engine's ports: what it needs from the store, market data and venues, as Protocols.

Concrete parts (store/, connectors/) satisfy these structurally and never import the engine;
the kernel wires them. Everything a venue or data client tells the engine arrives as a core
event through the callables it was given (`publish` for market data, `report` for execution).

Backtests drive the same async code without an event loop: an awaited call on the backtest
path (MemoryStore.append, the simulated venue) must complete without suspending, so the
replay can run a coroutine to completion with a single `send(None)`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, Protocol, runtime_checkable

from quantai_tui.core.book import OrderBook
from quantai_tui.core.enums import ConnectionState
from quantai_tui.core.events import Event
from quantai_tui.core.execution import (  # noqa: F401 - re-exported: the contract lives here
    AccountReport,
    FillReport,
    OrderRequest,
    OrderStatusReport,
    PositionReport,
)
from quantai_tui.core.instruments import Instrument
from quantai_tui.core.values import Price, Quantity

Publish = Callable[[str, Event], None]  # bus.publish(topic, event)
Report = Callable[[Event], None]  # execution events back to the OMS


# --- store -------------------------------------------------------------------------------------
@runtime_checkable
class EventStorePort(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...
    def append_nowait(self, event: Event, topic: str = "") -> int: ...
    async def append(self, event: Event, durable: bool = True, topic: str = "") -> int: ...
    async def flush(self) -> None: ...
    def replay(self, from_seq: int = 0, types: Iterable[str] | None = None) -> AsyncIterator[tuple[int, Event]]: ...
    def add_commit_listener(self, listener: Callable[[list[tuple[int, Event]]], Any]) -> None: ...
    @property
    def last_seq(self) -> int: ...
    @property
    def committed_seq(self) -> int: ...


# --- market data -------------------------------------------------------------------------------
MARKET_KINDS = ("trades", "book", "quotes", "bars")


@runtime_checkable
class MarketDataClient(Protocol):
    """A venue's public market data. Publishes TradeTick, QuoteTick, OrderBookDeltas, Bar and
    connector events through the `publish` callable it was built with."""

    venue: str

    @property
    def state(self) -> ConnectionState: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def subscribe(self, symbol: str, kinds: Iterable[str] = MARKET_KINDS) -> None: ...
    async def load_instruments(self) -> dict[str, Instrument]: ...
    def book(self, symbol: str) -> OrderBook | None: ...
    def stats(self) -> dict[str, int | float]: ...


# --- execution ---------------------------------------------------------------------------------
@runtime_checkable
class ExecutionClient(Protocol):
    """A venue that takes orders. Results come back as order events through `report`:
    OrderAccepted, OrderRejected, OrderFilled, OrderCanceled, OrderCancelRejected, OrderExpired,
    OrderUpdated. A submit that times out must not be retried: report OrderStatusUnknown and
    let the OMS resolve it with `query_order`."""

    venue: str
    supports_amend: bool

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def submit(self, order: OrderRequest) -> None: ...
    async def cancel(self, client_order_id: str, symbol: str) -> None: ...
    async def cancel_all(self, symbol: str | None = None) -> None: ...
    async def modify(
        self, client_order_id: str, symbol: str, quantity: Quantity | None, price: Price | None,
        trigger_price: Price | None = None,
    ) -> None: ...
    async def query_order(self, client_order_id: str, symbol: str) -> OrderStatusReport | None: ...
    async def open_orders(self, symbol: str | None = None) -> list[OrderStatusReport]: ...
    async def fills_since(self, ts_ns: int, symbol: str | None = None) -> list[FillReport]: ...
    async def account(self) -> AccountReport: ...

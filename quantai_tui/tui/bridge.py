"""The one place where engine events become Textual messages and keys become engine commands.

The UI talks to an `EngineFacade`: a small interface over the kernel (see kernel_adapter.py),
so the screens never import the engine's internals. Market data reaches the UI through the
bus's async subscribers, which coalesce to the latest book per symbol and fire at most
`max_fps` times a second: publishing never waits for the UI, and the UI draws the newest
state instead of a backlog.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from textual.message import Message

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
from quantai_tui.core.enums import ConnectionState, TradingMode, TradingState
from quantai_tui.core.instruments import Instrument
from quantai_tui.engine.bus import AsyncSubscriber, MessageBus
from quantai_tui.tui import messages as m
from quantai_tui.tui.candles import TIMEFRAMES, CandleSeries
from quantai_tui.tui.formatting import describe_event
from quantai_tui.tui.views import AccountView, BookView, ChartView, OrderView, PositionView, StatusView

log = logging.getLogger("quantai.tui")
STALE_AFTER_S = 5.0


@runtime_checkable
class EngineFacade(Protocol):
    """What the UI needs from the engine. The kernel adapter implements it; tests fake it."""

    bus: MessageBus
    venue: str
    mode: TradingMode
    account_name: str

    @property
    def symbols(self) -> Sequence[str]: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def execute(self, command: Command) -> Any: ...
    def instrument(self, symbol: str) -> Instrument | None: ...
    def book(self, symbol: str) -> OrderBook | None: ...
    def orders(self) -> list[OrderView]: ...
    def positions(self) -> list[PositionView]: ...
    def account(self) -> AccountView: ...
    def trading_state(self) -> TradingState: ...
    def kill_switch_engaged(self) -> bool: ...
    def connection_state(self) -> ConnectionState: ...
    def strategy_names(self) -> list[str]: ...
    def running_strategies(self) -> list[str]: ...
    async def start_strategy(self, name: str, params: dict[str, str]) -> str: ...
    async def stop_strategy(self, strategy_id: str) -> None: ...


class TuiLogHandler(logging.Handler):
    """Engine log records -> LogLine messages. Safe from any thread (post_message is)."""

    def __init__(self, post: Callable[[Message], Any], level: int = logging.INFO) -> None:
        super().__init__(level)
        self._post = post

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = f"{record.name.removeprefix('quantai.')}: {record.getMessage()}"
            self._post(m.LogLine(record.levelno, text, int(record.created * 1e9), "log"))
        except Exception:  # a log handler must never raise into the engine
            self.handleError(record)


class Bridge:
    """Subscribes the UI to the engine's bus and turns UI intents into commands."""

    def __init__(
        self,
        engine: EngineFacade,
        post: Callable[[Message], Any],
        *,
        max_fps: float = 20.0,
        depth: int = 14,
        timeframe: str = "1s",
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.post = post
        self.max_fps = max(1.0, float(max_fps))
        self.depth = depth
        self.timeframe = timeframe
        self.monotonic = monotonic  # staleness clock (tests freeze it)
        self.active_symbol = engine.symbols[0] if engine.symbols else ""
        self._candles: dict[str, CandleSeries] = {}
        self._last_trade: dict[str, tuple[float, int, int]] = {}  # symbol -> (price, side, seq)
        self._last_market: dict[str, float] = {}  # symbol -> monotonic time of last data
        self._subs: list[AsyncSubscriber] = []
        self._log_handler: TuiLogHandler | None = None
        self.frames = {"book": 0, "chart": 0}
        self.kill_latencies_ms: list[float] = []

    # --- lifecycle ------------------------------------------------------------------------
    def subscribe(self) -> None:
        """Subscribe before the engine starts, so no early event is missed."""
        bus = self.engine.bus
        frame = 1.0 / self.max_fps
        add = self._subs.append
        # every trade feeds the candles (cheap, O(1)); frames are coalesced separately
        add(bus.subscribe_async("trades.>", self._on_trade, maxsize=200_000, name="tui.candles"))
        add(bus.subscribe_async("book.>", self._on_book_frame, coalesce=True, min_interval_s=frame, name="tui.book"))
        add(bus.subscribe_async("trades.>", self._on_chart_frame, coalesce=True, min_interval_s=frame, name="tui.chart"))
        add(bus.subscribe_async("orders.>", self._on_order_table, coalesce=True, min_interval_s=frame, name="tui.orders"))
        add(bus.subscribe_async("positions.>", self._on_positions, coalesce=True, min_interval_s=frame,
                                name="tui.positions"))
        for pattern in ("orders.>", "positions.>", "risk", "risk.>", "connector.>"):
            add(bus.subscribe_async(pattern, self._on_event, name=f"tui.log:{pattern}"))

    async def start(self, start_engine: bool = True) -> None:
        if not self._subs:
            self.subscribe()
        for s in self._subs:
            s.start()
        if start_engine:
            await self.engine.start()

    async def stop(self) -> None:
        for s in self._subs:
            self.engine.bus.unsubscribe(s)
        self._subs.clear()
        self.remove_log_handler()
        await self.engine.stop()

    def install_log_handler(self, level: int = logging.INFO, logger_name: str = "quantai") -> None:
        self._log_handler = TuiLogHandler(self.post, level)
        logging.getLogger(logger_name).addHandler(self._log_handler)

    def remove_log_handler(self, logger_name: str = "quantai") -> None:
        if self._log_handler is not None:
            logging.getLogger(logger_name).removeHandler(self._log_handler)
            self._log_handler = None

    # --- bus handlers (run in the subscribers' tasks, never in publish) ---------------------
    def _on_trade(self, t: ev.TradeTick) -> None:
        series = self._candles.get(t.symbol)
        if series is None:
            series = self._candles[t.symbol] = CandleSeries()
        series.add(t.price, t.size, t.ts_event)
        prev = self._last_trade.get(t.symbol)
        self._last_trade[t.symbol] = (t.price, int(t.aggressor), (prev[2] + 1) if prev else 1)
        self._last_market[t.symbol] = self.monotonic()

    def _on_book_frame(self, d: ev.OrderBookDeltas) -> None:
        self._last_market[d.symbol] = self.monotonic()
        if d.symbol == self.active_symbol:
            self.frames["book"] += 1
            self.post(m.BookUpdated(self.book_view(d.symbol)))

    def _on_chart_frame(self, t: ev.TradeTick) -> None:
        if t.symbol == self.active_symbol:
            self.frames["chart"] += 1
            self.post(m.ChartUpdated(self.chart_view(t.symbol)))

    def _on_order_table(self, _e: Any) -> None:
        self.post(m.OrdersChanged())

    def _on_positions(self, _e: Any) -> None:
        self.post(m.PositionsChanged())

    def _on_event(self, e: Any) -> None:
        level, text = describe_event(e)
        if level >= logging.INFO:
            self.post(m.LogLine(level, text, e.ts_event, "event"))
        if isinstance(e, ev.KillSwitchEngaged):
            self.post(m.KillSwitchChanged(True, e.reason, e.source))
        elif isinstance(e, ev.KillSwitchReleased):
            self.post(m.KillSwitchChanged(False, e.reason, e.source))
        elif isinstance(e, ev.OrderDenied):
            self.post(m.OrderDeniedNotice(e.client_order_id, e.check, e.reason))
        if isinstance(e, (ev.RiskEvent, ev.ConnectorEvent)):
            self.post(m.StatusChanged())

    # --- views (read the engine's cache on demand) -----------------------------------------
    def book_view(self, symbol: str | None = None) -> BookView:
        symbol = symbol or self.active_symbol
        book = self.engine.book(symbol)
        inst = self.engine.instrument(symbol)
        last = self._last_trade.get(symbol)
        bids = tuple(book.bids.top(self.depth)) if book else ()
        asks = tuple(book.asks.top(self.depth)) if book else ()
        return BookView(
            venue=self.engine.venue,
            symbol=symbol,
            bids=bids,
            asks=asks,
            price_precision=inst.price_precision if inst else 2,
            size_precision=inst.size_precision if inst else 4,
            last_price=last[0] if last else None,
            last_side=last[1] if last else 0,
            last_seq=last[2] if last else 0,
        )

    def chart_view(self, symbol: str | None = None, limit: int = 240) -> ChartView:
        symbol = symbol or self.active_symbol
        series = self._candles.get(symbol)
        inst = self.engine.instrument(symbol)
        candles = series.candles(TIMEFRAMES.get(self.timeframe), limit) if series else ()
        return ChartView(symbol, self.timeframe, candles, inst.price_precision if inst else 2)

    def status(self) -> StatusView:
        e = self.engine
        seen = self._last_market.get(self.active_symbol)
        stale = seen is not None and self.monotonic() - seen > STALE_AFTER_S
        return StatusView(
            venue=e.venue,
            symbol=self.active_symbol,
            mode=e.mode,
            connection=e.connection_state(),
            stale=stale,
            account=e.account(),
            trading_state=e.trading_state(),
            kill_switch=e.kill_switch_engaged(),
            account_name=e.account_name,
            strategies=tuple(e.running_strategies()),
        )

    def orders(self) -> list[OrderView]:
        return self.engine.orders()

    def open_orders(self) -> list[OrderView]:
        return [o for o in self.engine.orders() if o.is_open]

    def positions(self) -> list[PositionView]:
        return self.engine.positions()

    def set_active_symbol(self, symbol: str) -> None:
        self.active_symbol = symbol
        self.post(m.BookUpdated(self.book_view(symbol)))
        self.post(m.ChartUpdated(self.chart_view(symbol)))
        self.post(m.StatusChanged())

    def refresh_all(self) -> None:
        """Post every view now (after a switch, and before a snapshot)."""
        self.set_active_symbol(self.active_symbol)
        self.post(m.OrdersChanged())
        self.post(m.PositionsChanged())

    # --- commands ---------------------------------------------------------------------------
    async def engage_kill_switch(self, reason: str = "kill key", source: str = "tui") -> None:
        t0 = time.perf_counter()
        await self.engine.execute(EngageKillSwitch(reason=reason, source=source))
        self.kill_latencies_ms.append((time.perf_counter() - t0) * 1000)

    async def release_kill_switch(self, reason: str = "released in the TUI", source: str = "tui") -> None:
        await self.engine.execute(ReleaseKillSwitch(reason=reason, source=source))

    async def submit(self, command: SubmitOrder) -> Any:
        """Send an order; raises the engine's error (RiskDenied, KillSwitchEngaged ...) if refused."""
        return await self.engine.execute(command)

    async def cancel(self, client_order_id: str) -> None:
        o = next((o for o in self.engine.orders() if o.client_order_id == client_order_id), None)
        await self.engine.execute(
            CancelOrder(client_order_id, venue=o.venue if o else "", symbol=o.symbol if o else "")
        )

    async def cancel_all(self, symbol: str | None = None) -> None:
        await self.engine.execute(CancelAllOrders(symbol=symbol))

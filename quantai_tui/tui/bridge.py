"""The one place where engine events become Textual messages and keys become engine commands.

The UI talks to an `EngineFacade`: a small interface over the kernel (see kernel_adapter.py).
The engine may run on its own loop and thread (it does in the app); so everything that reads
engine state runs on the engine's loop, here in the bridge, and reaches the UI as immutable
views inside messages. The UI thread only reads the latest views the bridge kept.

Market data reaches the bridge through the bus's async subscribers (the book one keeps only
the latest message per symbol); they mark the next frame dirty, and one frame — book and chart
together — goes out at most `max_fps` times a second. Publishing never waits for the UI.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

from textual.message import Message

from quantai_tui.core import events as ev
from quantai_tui.core.book import OrderBook
from quantai_tui.core.commands import (
    CancelAllOrders,
    CancelOrder,
    Command,
    EngageKillSwitch,
    ModifyOrder,
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
T = TypeVar("T")
STALE_AFTER_S = 5.0
KILL_HOLD_S = 0.5  # at most: frames resume as soon as the kill command returns
STATUS_EVERY_S = 0.25
MARKS_EVERY_S = 1.0


@runtime_checkable
class EngineFacade(Protocol):
    """What the UI needs from the engine. The kernel adapter implements it; tests fake it.
    `call` and `soon` run work on the engine's loop (the caller's own loop when they share one);
    every other method is called on that loop only."""

    bus: MessageBus
    venue: str
    mode: TradingMode
    account_name: str

    @property
    def symbols(self) -> Sequence[str]: ...
    async def call(self, coro: Coroutine[Any, Any, T]) -> T: ...
    def soon(self, fn: Callable[[], Any]) -> None: ...
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
        if getattr(record, "restates_event", False):
            return  # the event's own line is in the pane already
        try:
            text = f"{record.name.removeprefix('quantai.')}: {record.getMessage()}"
            self._post(m.LogLine(record.levelno, text, int(record.created * 1e9), "log"))
        except Exception:  # a log handler must never raise into the engine
            self.handleError(record)


class Bridge:
    """Subscribes the UI to the engine's bus and turns UI intents into commands."""

    def __init__(self, engine: EngineFacade, post: Callable[[Message], Any], *, max_fps: float = 20.0,
                 depth: int = 14, timeframe: str = "1s", monotonic: Callable[[], float] = time.monotonic) -> None:
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
        self._loop: asyncio.AbstractEventLoop | None = None  # the engine's loop
        self._ticker: asyncio.Task[None] | None = None
        self.frames = {"book": 0, "chart": 0, "posted": 0}
        self._hold_until = 0.0  # drawing deferred until then (the kill switch gets the CPU)
        self._dirty_book = self._dirty_chart = False
        self._frame_handle: asyncio.TimerHandle | None = None
        self._last_frame = self._last_chart = 0.0
        self.kill_latencies_ms: list[float] = []
        self._kill_task: asyncio.Task[None] | None = None
        # the latest views, written on the engine's loop, read by the UI (whole-object swaps)
        self.last_book: dict[str, BookView] = {}
        self.last_orders: list[OrderView] = []
        self.last_positions: list[PositionView] = []
        self.last_status: StatusView | None = None

    # --- lifecycle (called from the UI) ------------------------------------------------------
    async def start(self, start_engine: bool = True) -> None:
        await self.engine.call(self._attach())  # subscribed before the engine starts: no event missed
        if start_engine:
            await self.engine.start()
        self.engine.soon(self.refresh_all)

    async def _attach(self) -> None:
        self._loop = asyncio.get_running_loop()
        bus = self.engine.bus
        frame = 1.0 / self.max_fps
        add = self._subs.append
        # every trade feeds the candles (cheap, O(1)); the book subscriber keeps only the latest
        # message per symbol; both just mark the next frame dirty
        add(bus.subscribe_async("trades.>", self._on_trade, maxsize=200_000, name="tui.candles"))
        add(bus.subscribe_async("book.>", self._on_book, coalesce=True, min_interval_s=frame, name="tui.book"))
        add(bus.subscribe_async("orders.>", self._on_orders, coalesce=True, min_interval_s=frame, name="tui.orders"))
        add(bus.subscribe_async("positions.>", self._on_positions, coalesce=True, min_interval_s=frame,
                                name="tui.positions"))
        for pattern in ("orders.>", "positions.>", "risk", "risk.>", "connector.>"):
            add(bus.subscribe_async(pattern, self._on_event, name=f"tui.log:{pattern}"))
        for s in self._subs:
            s.start()
        self._ticker = self._loop.create_task(self._tick(), name="tui.status")

    async def stop(self) -> None:
        await self.engine.call(self._detach())
        self.remove_log_handler()
        await self.engine.stop()

    async def _detach(self) -> None:
        if self._frame_handle is not None:
            self._frame_handle.cancel()
            self._frame_handle = None
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        for s in self._subs:
            self.engine.bus.unsubscribe(s)
        self._subs.clear()

    def install_log_handler(self, level: int = logging.INFO, logger_name: str = "quantai") -> None:
        self._log_handler = TuiLogHandler(self.post, level)
        logging.getLogger(logger_name).addHandler(self._log_handler)

    def remove_log_handler(self, logger_name: str = "quantai") -> None:
        if self._log_handler is not None:
            logging.getLogger(logger_name).removeHandler(self._log_handler)
            self._log_handler = None

    # --- bus handlers (engine loop, in the subscribers' tasks, never in publish) -------------
    def _on_trade(self, t: ev.TradeTick) -> None:
        series = self._candles.get(t.symbol)
        if series is None:
            series = self._candles[t.symbol] = CandleSeries()
        series.add(t.price, t.size, t.ts_event)
        prev = self._last_trade.get(t.symbol)
        self._last_trade[t.symbol] = (t.price, int(t.aggressor), (prev[2] + 1) if prev else 1)
        self._last_market[t.symbol] = self.monotonic()
        if t.symbol == self.active_symbol:
            self._dirty_chart = True
            self._schedule_frame()

    def _on_book(self, d: ev.OrderBookDeltas) -> None:
        self._last_market[d.symbol] = self.monotonic()
        if d.symbol == self.active_symbol:
            self._dirty_book = True
            self._schedule_frame()

    def _on_orders(self, _e: Any) -> None:
        self.last_orders = self.engine.orders()
        self.post(m.OrdersChanged(self.last_orders))
        self._dirty_book = True  # the ladder marks our resting orders
        self._schedule_frame()

    def _on_positions(self, _e: Any) -> None:
        self._post_positions()

    def _post_positions(self) -> None:
        self.last_positions = self.engine.positions()
        self.post(m.PositionsChanged(self.last_positions))

    def _on_event(self, e: Any) -> None:
        level, text = describe_event(e)
        if level >= logging.INFO:
            self.post(m.LogLine(level, text, e.ts_event, "event"))
        if isinstance(e, ev.KillSwitchEngaged):
            if self._kill_task is None or self._kill_task.done():
                self.post(m.KillSwitchChanged(True, e.reason, e.source))
            # else: our own kill is still sweeping; its end posts this (the screen redraw waits)
        elif isinstance(e, ev.KillSwitchReleased):
            self.post(m.KillSwitchChanged(False, e.reason, e.source))
        elif isinstance(e, ev.OrderDenied):
            self.post(m.OrderDeniedNotice(e.client_order_id, e.check, e.reason))
        if isinstance(e, (ev.RiskEvent, ev.ConnectorEvent)):
            self._post_status()

    async def _tick(self) -> None:
        """Status at 4 Hz (staleness must show even when nothing arrives), marks at 1 Hz."""
        n = 0
        while True:
            await asyncio.sleep(STATUS_EVERY_S)
            if self.holding():
                continue
            n += 1
            self._post_status(only_if_changed=True)
            if n % round(MARKS_EVERY_S / STATUS_EVERY_S) == 0 and self.last_positions or n == 1:
                self._post_positions()

    def _post_status(self, only_if_changed: bool = False) -> None:
        view = self.status_now()
        if only_if_changed and view == self.last_status:
            return
        self.last_status = view
        self.post(m.StatusChanged(view))

    # --- frames: book and chart together, at most max_fps a second (engine loop) -------------
    def holding(self) -> bool:
        """True while the kill switch runs: the UI defers its own drawing."""
        return time.monotonic() < self._hold_until

    def _schedule_frame(self) -> None:
        if self._frame_handle is not None or self._loop is None:
            return
        now = time.monotonic()
        wait = max(0.0, self._last_frame + 1.0 / self.max_fps - now, self._hold_until - now)
        self._frame_handle = self._loop.call_later(wait, self._emit_frame)

    def _emit_frame(self) -> None:
        """One message per frame, so the book and the chart are drawn in one screen update."""
        self._frame_handle = None
        now = time.monotonic()
        if now < self._hold_until:
            self._schedule_frame()
            return
        self._last_frame = now
        book = chart = None
        if self._dirty_book:
            self._dirty_book = False
            book = self.book_view_now()
            self.frames["book"] += 1
        if self._dirty_chart:
            if now - self._last_chart >= 2.0 / self.max_fps:  # 1 s candles: half the book's rate
                self._dirty_chart = False
                self._last_chart = now
                chart = self.chart_view_now()
                self.frames["chart"] += 1
            else:
                self._schedule_frame()
        if book is not None or chart is not None:
            self.frames["posted"] += 1
            self.post(m.FrameUpdated(book, chart))

    # --- views (engine loop) -------------------------------------------------------------------
    def book_view_now(self, symbol: str | None = None) -> BookView:
        symbol = symbol or self.active_symbol
        book = self.engine.book(symbol)
        inst = self.engine.instrument(symbol)
        last = self._last_trade.get(symbol)
        view = BookView(
            venue=self.engine.venue, symbol=symbol,
            bids=tuple(book.bids.top(self.depth)) if book else (),
            asks=tuple(book.asks.top(self.depth)) if book else (),
            price_precision=inst.price_precision if inst else 2, size_precision=inst.size_precision if inst else 4,
            last_price=last[0] if last else None, last_side=last[1] if last else 0, last_seq=last[2] if last else 0,
            mine=frozenset(round(float(o.price), inst.price_precision if inst else 2) for o in self.last_orders
                           if o.price and o.is_open and o.symbol == symbol),
        )
        self.last_book[symbol] = view
        return view

    def chart_view_now(self, symbol: str | None = None, limit: int = 240) -> ChartView:
        symbol = symbol or self.active_symbol
        series = self._candles.get(symbol)
        inst = self.engine.instrument(symbol)
        candles = series.candles(TIMEFRAMES.get(self.timeframe), limit) if series else ()
        return ChartView(symbol, self.timeframe, candles, inst.price_precision if inst else 2)

    def status_now(self) -> StatusView:
        e = self.engine
        seen = self._last_market.get(self.active_symbol)
        stale = seen is not None and self.monotonic() - seen > STALE_AFTER_S
        return StatusView(
            venue=e.venue, symbol=self.active_symbol, mode=e.mode, connection=e.connection_state(), stale=stale,
            account=e.account(), trading_state=e.trading_state(), kill_switch=e.kill_switch_engaged(),
            account_name=e.account_name, strategies=tuple(e.running_strategies()),
            engine_error=getattr(e, "start_error", ""),
        )

    def refresh_all(self) -> None:
        """Post every view now (engine loop): after a switch, a theme change, before a snapshot."""
        self.post(m.FrameUpdated(self.book_view_now(), self.chart_view_now()))
        self._on_orders(None)
        self._post_positions()
        self._post_status()

    # --- what the UI reads and asks (UI loop) ------------------------------------------------
    def orders(self) -> list[OrderView]:
        return self.last_orders

    def open_orders(self) -> list[OrderView]:
        return [o for o in self.last_orders if o.is_open]

    def positions(self) -> list[PositionView]:
        return self.last_positions

    def book_view(self, symbol: str | None = None) -> BookView | None:
        return self.last_book.get(symbol or self.active_symbol)

    def set_active_symbol(self, symbol: str) -> None:
        self.active_symbol = symbol
        self.engine.soon(self.refresh_all)

    def request_refresh(self) -> None:
        self.engine.soon(self.refresh_all)

    async def engage_kill_switch(self, reason: str = "kill key", source: str = "tui") -> None:
        # No drawing while the engine halts and sweeps: frames, log lines and the status wait
        # (at most KILL_HOLD_S), so the engine's thread gets the interpreter to itself.
        self._hold_until = time.monotonic() + KILL_HOLD_S
        t0 = time.perf_counter()
        try:
            await self.engine.execute(EngageKillSwitch(reason=reason, source=source))
        finally:
            self._hold_until = 0.0
            self.kill_latencies_ms.append((time.perf_counter() - t0) * 1000)
            self.engine.soon(self.refresh_all)

    def engage_threadsafe(self, reason: str, source: str) -> None:
        """From any thread (the terminal's input thread): engage on the engine's loop now."""
        loop = self._loop
        if loop is None:
            return
        self._hold_until = time.monotonic() + KILL_HOLD_S
        loop.call_soon_threadsafe(self._spawn_kill, reason, source)

    def _spawn_kill(self, reason: str, source: str) -> None:
        assert self._loop is not None
        self._kill_task = self._loop.create_task(self._kill(reason, source), name="tui.kill")

    async def _kill(self, reason: str, source: str) -> None:
        t0 = time.perf_counter()
        try:
            await self.engine.execute(EngageKillSwitch(reason=reason, source=source))
        except Exception:
            log.exception("the kill switch failed")
            self.post(m.LogLine(logging.CRITICAL, "KILL SWITCH FAILED: see the log file", 0, "key"))
        else:
            self.post(m.KillSwitchChanged(True, reason, source))
        finally:
            self._hold_until = 0.0
            self.kill_latencies_ms.append((time.perf_counter() - t0) * 1000)
            self.refresh_all()

    async def release_kill_switch(self, reason: str = "released in the TUI", source: str = "tui") -> None:
        await self.engine.execute(ReleaseKillSwitch(reason=reason, source=source))

    async def submit(self, command: SubmitOrder) -> Any:
        """Send an order; raises the engine's error (RiskDenied, KillSwitchEngaged ...) if refused."""
        return await self.engine.execute(command)

    async def cancel(self, client_order_id: str) -> None:
        o = next((o for o in self.last_orders if o.client_order_id == client_order_id), None)
        await self.engine.execute(CancelOrder(client_order_id, venue=o.venue if o else "",
                                              symbol=o.symbol if o else ""))

    async def cancel_all(self, symbol: str | None = None) -> None:
        await self.engine.execute(CancelAllOrders(symbol=symbol))

    async def amend(self, command: ModifyOrder) -> None:
        """Move a resting order; raises the engine's refusal (the venue cannot amend, risk ...)."""
        await self.engine.execute(command)

"""The trading panes (Order Book, chart, Positions, Orders, Log, Chat), shared by the main and
replay screens. Bridge messages are posted here; what is not handled bubbles to the screen.

One grid, every pane a direct child with its own border: a frame then composites three widgets
(screen, grid, pane), not a tower of containers.

    ┌ book ┐┌ chart ──────────┐┌ chat ┐
    │      │├ positions ──────┤│      │
    ├ orders ────────┐┌ log ──┤│      │
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.containers import Container
from textual.widgets import Input

from quantai_tui.tui import messages as m
from quantai_tui.tui.widgets.chart import PriceChart
from quantai_tui.tui.widgets.chat import ChatPane
from quantai_tui.tui.widgets.log_pane import LogPane
from quantai_tui.tui.widgets.order_book import OrderBookLadder
from quantai_tui.tui.widgets.tables import OrdersTable, PositionsTable

if TYPE_CHECKING:
    from quantai_tui.tui.bridge import Bridge


class TradingPanes(Container):
    DEFAULT_CSS = """
    TradingPanes {
        layout: grid; grid-size: 4 3; grid-columns: 36 1fr 1fr 38; grid-rows: 3fr 2fr 3fr;
        height: 1fr;
    }
    TradingPanes.-no-chat { grid-size: 3 3; grid-columns: 36 1fr 1fr; }
    TradingPanes .pane {
        border: round $panel-lighten-2; border-title-color: $accent; border-title-style: bold;
        background: $surface; height: 1fr; width: 1fr;
    }
    TradingPanes .pane:focus-within { border: round $accent; }
    TradingPanes #book { row-span: 2; }
    TradingPanes #chart { column-span: 2; }
    TradingPanes #chat { row-span: 3; }
    TradingPanes #positions { column-span: 2; min-height: 5; }
    TradingPanes #orders { column-span: 2; min-height: 6; }
    TradingPanes #log { min-height: 6; }
    TradingPanes.-narrow { grid-columns: 30 1fr 1fr 30; }
    TradingPanes.-compact { grid-size: 3 3; grid-columns: 30 1fr 1fr; }
    TradingPanes.-compact #chat { display: none; dock: right; width: 34; }
    TradingPanes.-compact.-chat-open #chat { display: block; }
    TradingPanes.-killed .pane { border: heavy $error; border-title-color: $error; }
    """

    def __init__(self, bridge: Bridge, *, flash: bool = True, show_time: bool = True, blink: bool = True,
                 chat: bool = True, log_level: int = 20) -> None:
        super().__init__(id="panes", classes="" if chat else "-no-chat")
        self.bridge = bridge
        self._flash = flash
        self._show_time = show_time
        self._blink = blink
        self._chat = chat
        self._log_level = log_level

    def compose(self) -> ComposeResult:
        # grid order: row 1 book, chart, chat; row 2 positions; row 3 orders, log
        yield OrderBookLadder(flash=self._flash, id="book", classes="pane")
        yield PriceChart(id="chart", classes="pane")
        if self._chat:
            yield ChatPane(blink=self._blink, id="chat", classes="pane")
        yield PositionsTable(id="positions", classes="pane")
        yield OrdersTable(id="orders", classes="pane")
        yield LogPane(level=self._log_level, show_time=self._show_time, id="log", classes="pane",
                      batch_s=0.2 if self._flash else 0.0, held=self.bridge.holding)

    def on_mount(self) -> None:
        for pane_id, title in (("positions", "Positions"), ("orders", "Orders"), ("chat", "Chat")):
            for pane in self.query(f"#{pane_id}"):
                pane.border_title = title
        self.set_book_title()
        self.set_log_title()
        self.set_chart_title()

    def on_resize(self) -> None:
        # small terminals: narrower side panes; below 110 columns the chat opens on demand (/)
        width = self.size.width
        self.set_class(width < 140, "-narrow")
        self.set_class(width < 110 and self._chat, "-compact")

    def open_chat(self, on: bool = True) -> None:
        self.set_class(on, "-chat-open")

    def set_chart_title(self) -> None:
        chart = self.query_one(PriceChart)
        chart.border_title = f"{self.bridge.active_symbol} {self.bridge.timeframe} · {chart.style_name}"

    def set_log_title(self) -> None:
        log = self.query_one(LogPane)
        log.border_title = f"Log ≥ {log.level_name}"

    def set_book_title(self) -> None:
        self.query_one(OrderBookLadder).border_title = f"Order Book · {self.bridge.active_symbol}"

    @on(Input.Blurred, "#chat-input")
    def _chat_closed(self) -> None:
        self.open_chat(False)

    @on(m.FrameUpdated)
    def _frame(self, msg: m.FrameUpdated) -> None:
        msg.stop()
        symbol = self.bridge.active_symbol
        if msg.book is not None and msg.book.symbol == symbol:
            self.query_one(OrderBookLadder).update_view(msg.book)
        if msg.chart is not None and msg.chart.symbol == symbol:
            self.query_one(PriceChart).update_view(msg.chart)

    @on(m.OrdersChanged)
    def _orders(self, msg: m.OrdersChanged) -> None:
        msg.stop()
        self.query_one(OrdersTable).show(msg.orders)

    @on(m.PositionsChanged)
    def _positions(self, msg: m.PositionsChanged) -> None:
        msg.stop()
        self.query_one(PositionsTable).show(msg.positions)

    @on(m.LogLine)
    def _log(self, msg: m.LogLine) -> None:
        msg.stop()
        self.query_one(LogPane).add(msg.level, msg.text, msg.ts_ns, msg.source)

    def note(self, text: str, level: int = 20, source: str = "key") -> None:
        """A line in the Log pane from the UI itself (key actions, chat commands)."""
        self.query_one(LogPane).add(level, text, 0, source)

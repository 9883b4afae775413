"""The trading panes (Order Book, chart, Positions, Orders, Log, Chat), shared by the main and
replay screens. Bridge messages are posted here; what is not handled bubbles to the screen."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.widgets import Input
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical

from quantai_tui.tui import messages as m
from quantai_tui.tui.widgets.chart import PriceChart
from quantai_tui.tui.widgets.chat import ChatPane
from quantai_tui.tui.widgets.log_pane import LogPane
from quantai_tui.tui.widgets.order_book import OrderBookLadder
from quantai_tui.tui.widgets.tables import OrdersTable, PositionsTable

if TYPE_CHECKING:
    from quantai_tui.tui.bridge import Bridge


class TradingPanes(Horizontal):
    DEFAULT_CSS = """
    TradingPanes { height: 1fr; }
    TradingPanes .pane {
        border: round $panel-lighten-2; border-title-color: $accent; border-title-style: bold;
        background: $surface;
    }
    TradingPanes .pane:focus-within { border: round $accent; }
    TradingPanes #left { width: 1fr; }
    TradingPanes #upper { height: 3fr; }
    TradingPanes #lower { height: 2fr; min-height: 7; }
    TradingPanes #book-pane { width: 36; }
    TradingPanes #mid { width: 1fr; }
    TradingPanes #chart-pane { height: 3fr; }
    TradingPanes #positions-pane { height: 2fr; min-height: 5; }
    TradingPanes #orders-pane { width: 3fr; }
    TradingPanes #log-pane { width: 2fr; }
    TradingPanes #chat-pane { width: 38; }
    TradingPanes.-narrow #book-pane { width: 30; }
    TradingPanes.-narrow #chat-pane { width: 30; }
    TradingPanes.-compact #chat-pane { display: none; }
    TradingPanes.-compact.-chat-open #chat-pane { display: block; }
    TradingPanes.-compact.-chat-open #book-pane { display: none; }
    TradingPanes.-killed .pane { border: heavy $error; border-title-color: $error; }
    TradingPanes DataTable { background: $surface; }
    """

    def __init__(self, bridge: Bridge, *, flash: bool = True, show_time: bool = True, blink: bool = True,
                 chat: bool = True, log_level: int = 20) -> None:
        super().__init__(id="panes")
        self.bridge = bridge
        self._flash = flash
        self._show_time = show_time
        self._blink = blink
        self._chat = chat
        self._log_level = log_level

    def compose(self) -> ComposeResult:
        with Vertical(id="left"):
            with Horizontal(id="upper"):
                with Vertical(id="book-pane", classes="pane"):
                    yield OrderBookLadder(flash=self._flash, id="book")
                with Vertical(id="mid"):
                    with Vertical(id="chart-pane", classes="pane"):
                        yield PriceChart(id="chart")
                    with Vertical(id="positions-pane", classes="pane"):
                        yield PositionsTable(id="positions")
            with Horizontal(id="lower"):
                with Vertical(id="orders-pane", classes="pane"):
                    yield OrdersTable(id="orders")
                with Vertical(id="log-pane", classes="pane"):
                    yield LogPane(level=self._log_level, show_time=self._show_time, id="log")
        if self._chat:
            with Vertical(id="chat-pane", classes="pane"):
                yield ChatPane(blink=self._blink, id="chat")

    def on_mount(self) -> None:
        titles = {"book-pane": "Order Book", "positions-pane": "Positions", "orders-pane": "Orders",
                  "chat-pane": "Chat"}
        for pane_id, title in titles.items():
            for pane in self.query(f"#{pane_id}"):
                pane.border_title = title
        self.set_log_title()
        self.set_chart_title()

    def on_resize(self) -> None:
        # small terminals: narrower side panes; below 110 columns the chat opens on demand (/)
        width = self.size.width
        self.set_class(width < 140, "-narrow")
        self.set_class(width < 110, "-compact")

    def open_chat(self, on: bool = True) -> None:
        self.set_class(on, "-chat-open")

    def set_chart_title(self) -> None:
        chart = self.query_one(PriceChart)
        self.query_one("#chart-pane").border_title = (
            f"{self.bridge.active_symbol} {self.bridge.timeframe} · {chart.style_name}"
        )

    def set_log_title(self) -> None:
        self.query_one("#log-pane").border_title = f"Log ≥ {self.query_one(LogPane).level_name}"

    def set_book_title(self) -> None:
        self.query_one("#book-pane").border_title = f"Order Book · {self.bridge.active_symbol}"

    @on(Input.Blurred, "#chat-input")
    def _chat_closed(self) -> None:
        self.open_chat(False)

    @on(m.BookUpdated)
    def _book(self, msg: m.BookUpdated) -> None:
        msg.stop()
        if msg.view.symbol == self.bridge.active_symbol:
            self.query_one(OrderBookLadder).update_view(msg.view)

    @on(m.ChartUpdated)
    def _chart(self, msg: m.ChartUpdated) -> None:
        msg.stop()
        if msg.view.symbol == self.bridge.active_symbol:
            self.query_one(PriceChart).update_view(msg.view)

    @on(m.OrdersChanged)
    def _orders(self, msg: m.OrdersChanged) -> None:
        msg.stop()
        self.query_one(OrdersTable).show(self.bridge.orders())

    @on(m.PositionsChanged)
    def _positions(self, msg: m.PositionsChanged) -> None:
        msg.stop()
        self.query_one(PositionsTable).show(self.bridge.positions())

    @on(m.LogLine)
    def _log(self, msg: m.LogLine) -> None:
        msg.stop()
        self.query_one(LogPane).add(msg.level, msg.text, msg.ts_ns, msg.source)

    def note(self, text: str, level: int = 20, source: str = "key") -> None:
        """A line in the Log pane from the UI itself (key actions, chat commands)."""
        self.query_one(LogPane).add(level, text, 0, source)

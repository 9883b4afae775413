"""The main screen: status bar, kill banner, the trading panes, the footer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer

from quantai_tui.tui import messages as m
from quantai_tui.tui.keys import textual_bindings
from quantai_tui.tui.widgets.chat import ChatPane
from quantai_tui.tui.widgets.kill_banner import KillBanner
from quantai_tui.tui.widgets.panes import TradingPanes
from quantai_tui.tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from quantai_tui.tui.app import QuantAIApp
    from quantai_tui.tui.bridge import Bridge


class MainScreen(Screen[None]):
    BINDINGS = textual_bindings("main")
    AUTO_FOCUS = "#orders"  # `c` cancels the highlighted order
    DEFAULT_CSS = """
    MainScreen { background: $background; }
    MainScreen > #top { dock: top; height: auto; }
    """

    def __init__(self, bridge: Bridge, *, deterministic: bool = False, log_level: int = 20) -> None:
        super().__init__(id="main")
        self.bridge = bridge
        self.deterministic = deterministic
        self._log_level = log_level

    @property
    def qapp(self) -> QuantAIApp:
        return self.app  # type: ignore[return-value]

    @property
    def panes(self) -> TradingPanes:
        return self.query_one(TradingPanes)

    def compose(self) -> ComposeResult:
        with Vertical(id="top"):  # one docked container: docked siblings would overlap
            yield StatusBar(id="status")
            yield KillBanner(id="kill-banner")
        d = self.deterministic
        yield TradingPanes(self.bridge, flash=not d, show_time=not d, blink=not d, log_level=self._log_level)
        yield Footer(compact=True)

    def refresh_status(self) -> None:
        if self.bridge.last_status is not None:
            self.query_one(StatusBar).show(self.bridge.last_status)

    def show_kill(self, engaged: bool, reason: str = "", source: str = "") -> None:
        banner = self.query_one(KillBanner)
        if engaged:
            banner.engage(reason, source, self.qapp.key_display("release_kill_switch"))
        else:
            banner.release()
        self.panes.set_class(engaged, "-killed")  # red borders on every pane: one restyle, not two
        self.refresh_status()

    @on(m.StatusChanged)
    def _status(self, msg: m.StatusChanged) -> None:
        self.query_one(StatusBar).show(msg.view)

    @on(m.KillSwitchChanged)
    def _kill(self, msg: m.KillSwitchChanged) -> None:
        self.qapp.resume_drawing()  # the engine has answered: draw again, banner first
        self.show_kill(msg.engaged, msg.reason, msg.source)

    @on(m.OrderDeniedNotice)
    def _denied(self, msg: m.OrderDeniedNotice) -> None:
        # the ticket that sent the order shows the denial in place
        for screen in self.app.screen_stack:
            if screen is not self:
                screen.post_message(m.OrderDeniedNotice(msg.client_order_id, msg.check, msg.reason))

    @on(ChatPane.Submitted)
    async def _chat(self, msg: ChatPane.Submitted) -> None:
        await self.qapp.handle_chat(msg.text)

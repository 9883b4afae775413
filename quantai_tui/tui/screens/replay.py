"""The replay screen: a recorded market at 1×, 10× or full speed through the same panes as the
main screen, with a strategy trading it on a paper venue. The replay engine comes from the
app's `replay_factory` (the CLI wires it to the kernel); this screen only drives a bridge."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Label, RadioButton, RadioSet, Select, Static

from quantai_tui.settings.schema import TuiSettings
from quantai_tui.tui import messages as m
from quantai_tui.tui.bridge import Bridge
from quantai_tui.tui.widgets.panes import TradingPanes

if TYPE_CHECKING:
    from quantai_tui.tui.bridge import EngineFacade

SPEEDS = {"1×": 1.0, "10×": 10.0, "full": 0.0}  # 0: as fast as possible


@dataclass(frozen=True)
class ReplayRequest:
    data: str  # a named source or a recording file
    speed: float  # 1.0 real time, 10.0 ten times faster, 0 as fast as possible
    strategy: str = ""  # "" : watch only
    params: dict[str, str] | None = None


class ReplayScreen(Screen[None]):
    DEFAULT_CSS = """
    ReplayScreen { background: $background; }
    ReplayScreen #controls { height: auto; background: $panel; padding: 0 1; }
    ReplayScreen #controls > Vertical { height: auto; width: 1fr; padding-right: 1; }
    ReplayScreen #controls Label { color: $foreground-muted; }
    ReplayScreen #controls RadioSet { layout: horizontal; height: auto; }
    ReplayScreen #buttons { width: 30; height: auto; padding-top: 1; }
    ReplayScreen #replay-status { height: 1; padding: 0 1; color: $accent; }
    ReplayScreen #replay-status.-error { color: $error; text-style: bold; }
    """
    BINDINGS = [Binding("escape", "back", "back", id="replay_back")]

    def __init__(self, *, tui: TuiSettings, deterministic: bool = False) -> None:
        super().__init__(id="replay")
        self.tui = tui
        self.deterministic = deterministic
        self.bridge: Bridge | None = None
        self.engine: EngineFacade | None = None

    def compose(self) -> ComposeResult:
        app: Any = self.app
        choices = app.options.replay_choices
        data = choices() if choices is not None else [d for d in app.backtest_service.data_choices()
                                                      if d.endswith(".parquet")]
        strategies = ["(watch only)", *app.backtest_service.strategies()]
        with Horizontal(id="controls"):
            with Vertical():
                yield Label("Recording")
                yield Select([(d, d) for d in data], value=data[0] if data else Select.NULL, id="data")
            with Vertical():
                yield Label("Strategy")
                yield Select([(s, s) for s in strategies], value=strategies[0], allow_blank=False, id="strategy")
            with Vertical():
                yield Label("Speed")
                with RadioSet(id="speed"):
                    for i, name in enumerate(SPEEDS):
                        yield RadioButton(name, value=i == 0)
            with Horizontal(id="buttons"):
                yield Button("Start", id="start", variant="primary")
                yield Button("Stop", id="stop", disabled=True)
        yield Static("pick a recording and press Start", id="replay-status")
        yield Vertical(id="replay-panes")
        yield Footer()

    def _status(self, text: str, error: bool = False) -> None:
        s = self.query_one("#replay-status", Static)
        s.update(text)
        s.set_class(error, "-error")

    def _post(self, message: Message) -> None:
        for panes in self.query(TradingPanes):
            panes.post_message(message)

    @on(Button.Pressed, "#start")
    async def start(self) -> None:
        app: Any = self.app
        factory = app.options.replay_factory
        data = self.query_one("#data", Select).value
        if factory is None:
            self._status("replay is not available in this build", error=True)
            return
        if data is Select.NULL:
            self._status("no recording: record one with `quantai record --exchange sim --duration 1m`", error=True)
            return
        speed_name = list(SPEEDS)[self.query_one("#speed", RadioSet).pressed_index or 0]
        strategy = str(self.query_one("#strategy", Select).value)
        req = ReplayRequest(str(data), SPEEDS[speed_name], "" if strategy.startswith("(") else strategy)
        await self.stop()
        try:
            self.engine = factory(req)
        except Exception as exc:
            self._status(f"cannot replay: {exc}", error=True)
            return
        self.bridge = Bridge(self.engine, self._post, max_fps=self.tui.max_fps)
        holder = self.query_one("#replay-panes")
        await holder.remove_children()
        d = self.deterministic
        await holder.mount(TradingPanes(self.bridge, flash=not d, show_time=not d, blink=not d, chat=False))
        self.query_one("#start", Button).disabled = True
        self.query_one("#stop", Button).disabled = False
        self._status(f"replaying {req.data} at {speed_name}" + (f" with {req.strategy}" if req.strategy else ""))
        await self.bridge.start()

    @on(Button.Pressed, "#stop")
    async def stop(self) -> None:
        if self.bridge is not None:
            await self.bridge.stop()
            self.bridge = None
            self._status("stopped")
        self.query_one("#start", Button).disabled = False
        self.query_one("#stop", Button).disabled = True

    @on(m.StatusChanged)
    def _status_changed(self, msg: m.StatusChanged) -> None:
        if self.bridge is not None:
            a = msg.view.account
            self.query_one("#replay-status", Static).update(
                f"replay · equity {a.equity:,.2f} · day {a.day_pnl:+,.2f}")

    async def action_back(self) -> None:
        await self.stop()
        self.app.pop_screen()

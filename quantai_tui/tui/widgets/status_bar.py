"""Status bar: venue and connection (stale data flagged), PAPER/LIVE badge, equity, day P&L,
risk state. One line drawn as text with component styles (theme variables): updating it never
changes the layout, so a 4 Hz refresh costs one line, not a relayout of the screen."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from quantai_tui.core.enums import ConnectionState, TradingMode, TradingState
from quantai_tui.tui.formatting import fmt_num
from quantai_tui.tui.views import StatusView


class StatusBar(Widget):
    COMPONENT_CLASSES = {
        "status--title", "status--text", "status--ok", "status--bad", "status--paper", "status--live",
        "status--up", "status--down", "status--active", "status--reducing", "status--halted",
    }
    DEFAULT_CSS = """
    StatusBar { height: 1; width: 1fr; background: $panel; color: $foreground; }
    StatusBar > .status--title { color: $accent; text-style: bold; }
    StatusBar > .status--text { color: $foreground; }
    StatusBar > .status--ok { color: $success; }
    StatusBar > .status--bad { color: $background; background: $warning; text-style: bold; }
    StatusBar > .status--paper { background: $primary; color: $background; text-style: bold; }
    StatusBar > .status--live { background: $error; color: $text; text-style: bold; }
    StatusBar > .status--up { color: $success; }
    StatusBar > .status--down { color: $error; }
    StatusBar > .status--active { color: $success; text-style: bold; }
    StatusBar > .status--reducing { background: $warning; color: $background; text-style: bold; }
    StatusBar > .status--halted { background: $error; color: $background; text-style: bold; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view: StatusView | None = None

    def show(self, v: StatusView) -> None:
        if v != self.view:  # redraw only what changed
            self.view = v
            self.refresh()

    def render(self) -> Text:
        if self.view is None:
            return Text(" QuantAI ", self.get_component_rich_style("status--title"))
        width = self.size.width
        for compact in (False, True):  # the badge and the risk state always fit: they matter most
            left, right = self._parts(self.view, compact)
            if left.cell_len + right.cell_len < width:
                break
        gap = width - left.cell_len - right.cell_len
        return left + Text(" " * max(1, gap)) + right

    def _parts(self, v: StatusView, compact: bool) -> tuple[Text, Text]:
        s = self.get_component_rich_style
        left = Text(no_wrap=True, overflow="crop")
        if not compact:
            left.append(" QuantAI ", s("status--title"))
        left.append(f" {v.venue} · {v.symbol} ", s("status--text"))
        ok = v.connection is ConnectionState.CONNECTED and not v.stale
        conn = "STALE DATA" if v.connection is ConnectionState.CONNECTED and v.stale else v.connection.value.lower()
        left.append(f" {'●' if ok else '▲'} {conn} ", s("status--ok" if ok else "status--bad"))
        if v.strategies and not compact:
            left.append(f"  ⚙ {', '.join(v.strategies)}", s("status--text"))
        right = Text(no_wrap=True, overflow="crop")
        live = v.mode is TradingMode.LIVE
        right.append(" ● LIVE ● " if live else " PAPER ", s("status--live" if live else "status--paper"))
        a = v.account
        if v.connection is ConnectionState.CONNECTING or v.engine_error:  # no account: not 0.00
            if v.engine_error:
                right.append("  engine not running (see Log)  ", s("status--bad"))
            else:
                right.append("  starting the engine…  ", s("status--text"))
            state = TradingState.HALTED if v.kill_switch else v.trading_state
            right.append(f" {state.value} ", s(f"status--{state.value.lower()}"))
            return left, right
        right.append(f" {fmt_num(a.equity)}" if compact else f"  equity {fmt_num(a.equity)} {a.currency}",
                     s("status--text"))
        pnl_style = "status--up" if a.day_pnl > 0 else "status--down" if a.day_pnl < 0 else "status--text"
        right.append(f" {fmt_num(a.day_pnl, sign=True)} " if compact else f"  day {fmt_num(a.day_pnl, sign=True)}  ",
                     s(pnl_style))
        state = TradingState.HALTED if v.kill_switch else v.trading_state
        right.append(f" {state.value} ", s(f"status--{state.value.lower()}"))
        right.append(" ")
        return left, right

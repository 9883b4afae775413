"""Status bar: venue and connection (stale data flagged), PAPER/LIVE badge, equity, day P&L,
risk state. Colours come from CSS classes on theme variables."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label

from quantai_tui.core.enums import ConnectionState, TradingMode, TradingState
from quantai_tui.tui.formatting import fmt_num
from quantai_tui.tui.views import StatusView


class StatusBar(Horizontal):
    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; }
    StatusBar > Label { padding: 0 1; height: 1; }
    StatusBar > #sb-title { text-style: bold; color: $accent; }
    StatusBar > #sb-venue { color: $foreground; }
    StatusBar > #sb-conn.-ok { color: $success; }
    StatusBar > #sb-conn.-bad { color: $background; background: $warning; text-style: bold; }
    StatusBar > #sb-spacer { width: 1fr; padding: 0; }
    StatusBar > #sb-badge.-paper { background: $primary; color: $background; text-style: bold; }
    StatusBar > #sb-badge.-live { background: $error; color: $text; text-style: bold; }
    StatusBar > #sb-pnl.-up { color: $success; }
    StatusBar > #sb-pnl.-down { color: $error; }
    StatusBar > #sb-risk.-ACTIVE { color: $success; text-style: bold; }
    StatusBar > #sb-risk.-REDUCING { background: $warning; color: $background; text-style: bold; }
    StatusBar > #sb-risk.-HALTED { background: $error; color: $background; text-style: bold; }
    """

    def compose(self) -> ComposeResult:
        yield Label("QuantAI", id="sb-title")
        yield Label("", id="sb-venue")
        yield Label("", id="sb-conn")
        yield Label("", id="sb-strategies")
        yield Label("", id="sb-spacer")
        yield Label("", id="sb-badge")
        yield Label("", id="sb-equity")
        yield Label("", id="sb-pnl")
        yield Label("", id="sb-risk")

    def show(self, v: StatusView) -> None:
        q = self.query_one
        q("#sb-venue", Label).update(f"{v.venue} · {v.symbol}")
        conn = q("#sb-conn", Label)
        ok = v.connection is ConnectionState.CONNECTED and not v.stale
        text = v.connection.value.lower()
        if v.connection is ConnectionState.CONNECTED and v.stale:
            text = "STALE DATA"
        conn.update(("● " if ok else "▲ ") + text)
        conn.set_class(ok, "-ok")
        conn.set_class(not ok, "-bad")
        q("#sb-strategies", Label).update(("⚙ " + ", ".join(v.strategies)) if v.strategies else "")
        badge = q("#sb-badge", Label)
        live = v.mode is TradingMode.LIVE
        badge.update(" ● LIVE ● " if live else " PAPER ")
        badge.set_class(live, "-live")
        badge.set_class(not live, "-paper")
        a = v.account
        q("#sb-equity", Label).update(f"equity {fmt_num(a.equity)} {a.currency}")
        pnl = q("#sb-pnl", Label)
        pnl.update(f"day {fmt_num(a.day_pnl, sign=True)}")
        pnl.set_class(a.day_pnl > 0, "-up")
        pnl.set_class(a.day_pnl < 0, "-down")
        risk = q("#sb-risk", Label)
        state = TradingState.HALTED if v.kill_switch else v.trading_state
        risk.update(state.value)
        for s in TradingState:
            risk.set_class(s is state, f"-{s.value}")

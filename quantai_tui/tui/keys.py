"""Every key binding, named once. Keys are configuration: `[tui.keys]` in config.toml maps a
binding id to a key (or a comma-separated list), e.g. `kill_switch = "ctrl+x"`.

No textual import here, so the CLI and docs can list the bindings cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class KeySpec:
    id: str
    key: str  # default key(s), Textual spelling
    action: str
    description: str
    scope: str  # "app" (works everywhere) or "main" (the main screen)
    show: bool = True
    priority: bool = False


KEY_SPECS: tuple[KeySpec, ...] = (
    # priority: the kill switch must work even while typing in the chat or a ticket
    KeySpec("kill_switch", "ctrl+k", "kill_switch", "KILL", "app", priority=True),
    KeySpec("release_kill_switch", "ctrl+r", "release_kill_switch", "release kill", "app", show=False),
    KeySpec("command_palette", "ctrl+p", "command_palette", "palette", "app", show=False, priority=True),
    KeySpec("help", "question_mark", "help", "help", "app"),
    KeySpec("quit", "q", "quit_app", "quit", "app"),
    KeySpec("buy", "b", "app.order_ticket('BUY')", "buy", "main"),
    KeySpec("sell", "s", "app.order_ticket('SELL')", "sell", "main"),
    KeySpec("cancel_order", "c", "app.cancel_selected", "cancel", "main"),
    KeySpec("cancel_all", "C", "app.cancel_all", "cancel all", "main", show=False),
    KeySpec("focus_chat", "slash", "app.focus_chat", "chat", "main"),
    KeySpec("focus_orders", "o", "app.focus_orders", "orders", "main", show=False),
    KeySpec("next_symbol", "n", "app.next_symbol", "symbol", "main"),
    KeySpec("chart_style", "v", "app.chart_style", "candles/line", "main", show=False),
    KeySpec("log_level", "l", "app.log_level", "log level", "main", show=False),
    KeySpec("backtest", "t", "app.backtest", "backtest", "main"),
    KeySpec("replay", "r", "app.replay", "replay", "main", show=False),
)

SPECS_BY_ID = {s.id: s for s in KEY_SPECS}

# How keys read on screen (Textual names -> what the user types).
_DISPLAY = {"question_mark": "?", "slash": "/", "escape": "esc"}


def display_key(key: str) -> str:
    out = []
    for k in key.split(","):
        k = k.strip()
        k = _DISPLAY.get(k, k)
        if k.startswith("ctrl+"):
            k = "^" + k[5:]
        out.append(k)
    return " ".join(out)


def effective_keys(remap: dict[str, str]) -> dict[str, str]:
    """Binding id -> key after applying the user's remapping."""
    return {s.id: remap.get(s.id, s.key) for s in KEY_SPECS}


def unknown_ids(remap: dict[str, str]) -> list[str]:
    return sorted(k for k in remap if k not in SPECS_BY_ID)


def textual_bindings(scope: str) -> list:  # list[textual.binding.Binding]
    """The Binding objects of one scope; textual is imported only here, on demand."""
    from textual.binding import Binding

    return [
        Binding(s.key, s.action, s.description, show=s.show, priority=s.priority, id=s.id)
        for s in KEY_SPECS
        if s.scope == scope
    ]

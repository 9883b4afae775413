"""The `?` screen: every key binding with its current key (after remapping) and the chat's
slash commands."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from quantai_tui.tui.chat_commands import HELP_TEXT
from quantai_tui.tui.keys import KEY_SPECS, display_key


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; background: $background 60%; }
    HelpScreen > VerticalScroll {
        width: 84; max-height: 90%; height: auto; border: thick $primary; background: $surface; padding: 0 1;
    }
    HelpScreen > VerticalScroll { border-title-color: $accent; border-title-style: bold; }
    HelpScreen #keys { height: auto; }
    HelpScreen #slash { height: auto; margin-top: 1; color: $foreground-muted; }
    HelpScreen #remap { height: auto; margin-top: 1; color: $foreground-muted; }
    """
    BINDINGS = [Binding("escape,q,question_mark", "close", "close", id="help_close")]

    def __init__(self, keymap: dict[str, str]) -> None:
        super().__init__()
        self._keymap = keymap

    def compose(self) -> ComposeResult:
        table = Table(box=None, expand=True, show_header=True, header_style="bold")
        table.add_column("key", width=12)
        table.add_column("action")
        table.add_column("binding id", style="dim")
        for spec in KEY_SPECS:
            key = display_key(self._keymap.get(spec.id, spec.key))
            where = "" if spec.scope == "app" else " (main screen)"
            table.add_row(Text(key, style="bold"), spec.description + where, spec.id)
        with VerticalScroll() as scroll:
            scroll.border_title = "Keys · esc to close"
            yield Static(table, id="keys")
            yield Static(HELP_TEXT, id="slash")
            yield Static(
                "Remap any key in config.toml, by binding id:\n  [tui.keys]\n  kill_switch = \"ctrl+x\"\n"
                "  buy = \"B\"", id="remap")

    def action_close(self) -> None:
        self.dismiss(None)

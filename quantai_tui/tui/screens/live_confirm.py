"""Before a live session starts: name the venue and account, and make the trader type the
venue's name. Nothing connects to a live account until this returns True."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Input, Label, Static


class LiveConfirmScreen(Screen[bool]):
    DEFAULT_CSS = """
    LiveConfirmScreen { align: center middle; background: $background; }
    LiveConfirmScreen > #live { width: 72; height: auto; border: heavy $error; padding: 1 2; background: $surface; }
    LiveConfirmScreen #banner { background: $error; color: $text; text-style: bold; width: 100%;
                                content-align: center middle; height: 3; }
    LiveConfirmScreen #facts { margin: 1 0; height: auto; }
    LiveConfirmScreen #error { color: $error; height: 1; }
    LiveConfirmScreen #buttons { height: auto; align-horizontal: right; }
    LiveConfirmScreen Button { margin-left: 2; }
    """
    BINDINGS = [Binding("escape", "abort", "abort", id="live_abort")]

    def __init__(self, venue: str, account: str, symbols: list[str], key_source: str) -> None:
        super().__init__()
        self.venue, self.account, self.symbols, self.key_source = venue, account, symbols, key_source

    def compose(self) -> ComposeResult:
        with Vertical(id="live"):
            yield Static("● LIVE TRADING · REAL MONEY ●", id="banner")
            yield Static(
                f"Venue:    {self.venue}\nAccount:  {self.account or '(unnamed: set exchanges.' + self.venue + '.account)'}\n"
                f"Symbols:  {', '.join(self.symbols)}\nAPI key:  from {self.key_source}\n\n"
                "Orders you place will be sent to this account. The kill switch (ctrl+k) cancels them all.",
                id="facts",
            )
            yield Label(f"Type the venue name ({self.venue}) to go live:")
            yield Input(placeholder=self.venue, id="typed")
            yield Static("", id="error")
            with Horizontal(id="buttons"):
                yield Button("Abort (esc)", id="abort")
                yield Button("Go live", id="go", variant="error")

    def on_mount(self) -> None:
        self.query_one("#typed", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#go")
    def _go(self) -> None:
        if self.query_one("#typed", Input).value.strip().lower() == self.venue.lower():
            self.dismiss(True)
        else:
            self.query_one("#error", Static).update(f"type {self.venue!r} exactly, or press esc to abort")

    @on(Button.Pressed, "#abort")
    def action_abort(self) -> None:
        self.dismiss(False)

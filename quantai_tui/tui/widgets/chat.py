"""Chat pane: a transcript and a prompt. Lines starting with '/' are slash commands (no model
needed); anything else goes to the assistant when one is configured."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input

from quantai_tui.tui.widgets.chat_ai import ChatTranscript
from quantai_tui.tui.widgets.theme_style import theme_style

_WHO = {"you": ("› ", "accent"), "system": ("", "foreground-muted"), "assistant": ("", "foreground"),
        "error": ("✗ ", "error"), "ok": ("✓ ", "success")}


class ChatPane(Vertical):
    DEFAULT_CSS = """
    ChatPane { height: 1fr; }
    ChatPane > Input { dock: bottom; border: tall $panel; }
    ChatPane > Input:focus { border: tall $accent; }
    """

    BINDINGS = [Binding("escape", "leave", "leave chat", show=False, id="chat_leave")]

    class Submitted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, *, blink: bool = True, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._blink = blink

    def compose(self) -> ComposeResult:
        yield ChatTranscript(id="chat-log", max_lines=500)
        prompt = Input(placeholder="/help · /buy 0.01 · ask…", id="chat-input")
        prompt.cursor_blink = self._blink
        yield prompt

    def on_mount(self) -> None:
        greeting = getattr(self.app, "chat_greeting", "")
        if greeting:
            self.say(greeting)

    def say(self, text: str, who: str = "system") -> None:
        prefix, var = _WHO.get(who, _WHO["system"])
        self.transcript.write(Text(prefix + text, style=theme_style(self.app, var)))

    @property
    def transcript(self) -> ChatTranscript:
        return self.query_one("#chat-log", ChatTranscript)

    def clear(self) -> None:
        self.transcript.clear()

    def action_leave(self) -> None:
        target = self.screen.query("#orders")
        self.screen.set_focus(target.first() if target else None)

    def focus_prompt(self) -> None:
        self.query_one("#chat-input", Input).focus()

    @on(Input.Submitted, "#chat-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        event.input.value = ""
        if text:
            self.say(text, "you")
            self.post_message(self.Submitted(text))

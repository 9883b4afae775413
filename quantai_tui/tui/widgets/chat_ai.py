"""The chat pane's model half: a transcript that holds text lines, streaming answers, tool calls
as collapsible blocks (arguments and result) and knowledge-base citations; and the controller
that runs one assistant turn in a worker through the app's AIService.

The widgets only draw what the service reports; the service (tui/ai_service.py) is the only
thing that talks to the model or the knowledge base.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Collapsible, Static

from quantai_tui.tui.widgets.theme_style import theme_style

if TYPE_CHECKING:
    from quantai_tui.ai.agent import AgentAnswer, AgentEvent
    from quantai_tui.ai.drafts import OrderDraft
    from quantai_tui.ai.tools import ToolOutcome
    from quantai_tui.tui.app import QuantAIApp
    from quantai_tui.tui.widgets.chat import ChatPane

log = logging.getLogger("quantai.tui.ai")
RESULT_SHOWN = 3000  # characters of a tool result drawn in its block


class ChatTranscript(VerticalScroll):
    """What the chat shows, one child per entry; the oldest are dropped past `max_lines`."""

    DEFAULT_CSS = """
    ChatTranscript { height: 1fr; background: $surface; scrollbar-size-vertical: 1; overflow-x: hidden;
                     scrollbar-gutter: stable; }
    ChatTranscript > Static { width: 100%; height: auto; }
    ChatTranscript > .reply { margin-top: 0; }
    ChatTranscript > Collapsible { background: $surface; border-top: none; padding: 0; margin: 0; }
    ChatTranscript > Collapsible > Contents { padding: 0 0 0 2; height: auto; }
    ChatTranscript > Collapsible CollapsibleTitle { padding: 0; color: $foreground-muted; }
    ChatTranscript > Collapsible.-failed CollapsibleTitle { color: $error; }
    ChatTranscript .tool-body { color: $foreground-muted; }
    ChatTranscript > .citations { color: $foreground-muted; }
    """

    def __init__(self, *, max_lines: int = 500, id: str | None = None) -> None:
        super().__init__(id=id, can_focus=False)
        self.max_lines = max_lines

    def write(self, renderable: RenderableType) -> Static:
        """Add a line (RichLog's `write`, so the pane's slash-command lines work unchanged)."""
        # through rich (a Group), so lines wrap exactly as they did in the pane's old RichLog
        line = Static(Group(renderable))
        line.plain = renderable.plain if isinstance(renderable, Text) else str(renderable)  # type: ignore[attr-defined]
        self.add(line)
        return line

    def plain(self) -> str:
        """Everything written so far as plain text (tests, copying)."""
        out = []
        for child in self.children:
            if isinstance(child, ToolCallBlock):
                out.append(str(child.title))
            else:
                out.append(getattr(child, "plain", "") or str(getattr(child, "content", "")))
        return "\n".join(out)

    def add(self, widget: Widget) -> Widget:
        self.mount(widget)
        extra = len(self.children) - self.max_lines
        if extra > 0:
            for old in list(self.children)[:extra]:
                old.remove()
        self.call_after_refresh(self.scroll_end, animate=False)
        return widget

    def clear(self) -> None:
        self.remove_children()


class ToolCallBlock(Collapsible):
    """One tool call: `⚙ name(args)` while it runs, then ✓/✗ with its time; open it for the
    arguments and the result exactly as the model received it."""

    def __init__(self, call_id: str, name: str, arguments: str, *, show_time: bool = True) -> None:
        from quantai_tui.ai.agent import describe_call

        self.show_time = show_time  # off in snapshot tests
        self.call_id = call_id
        self.tool_name = name
        self._label = describe_call(name, arguments, limit=120)
        self.body = Static(_section("arguments", arguments) + "\n" + Text("result: running…"), classes="tool-body")
        super().__init__(self.body, title=f"⚙ {self._label}", collapsed=True)

    def finish(self, outcome: ToolOutcome) -> None:
        mark = "✓" if outcome.ok else "✗"
        self.title = f"{mark} {self._label}" + (f" · {outcome.elapsed_s:.1f}s" if self.show_time else "")
        self.set_class(not outcome.ok, "-failed")
        args = json.dumps(outcome.arguments, ensure_ascii=False, default=str) if outcome.arguments is not None else ""
        self.body.update(_section("arguments", args or "(unreadable)") + "\n" + _section("result", outcome.content))


def _section(label: str, raw: str) -> Text:
    try:
        pretty = json.dumps(json.loads(raw), indent=1, ensure_ascii=False)
    except (ValueError, TypeError):
        pretty = raw
    if len(pretty) > RESULT_SHOWN:
        pretty = pretty[:RESULT_SHOWN] + f"\n… ({len(pretty) - RESULT_SHOWN:,} more characters)"
    return Text(f"{label}: ", style="bold") + Text(pretty)


class TurnView:
    """Draws one assistant turn from the agent's events, in the order they happen."""

    def __init__(self, app: QuantAIApp, transcript: ChatTranscript) -> None:
        self.app = app
        self.transcript = transcript
        self.reply: Static | None = None
        self.reply_text = ""
        self.reply_round = -1
        self.blocks: dict[str, ToolCallBlock] = {}

    def on_event(self, ev: AgentEvent) -> None:
        from quantai_tui.ai.agent import AnswerDelta, LLMRetrying, ToolFinished, ToolStarted

        if isinstance(ev, AnswerDelta):
            if self.reply is None or ev.round != self.reply_round:
                self.reply, self.reply_text, self.reply_round = Static("", classes="reply"), "", ev.round
                self.transcript.add(self.reply)
            self.reply_text += ev.text
            self.reply.update(Text(self.reply_text, style=theme_style(self.app, "foreground")))
            self.reply.plain = self.reply_text  # type: ignore[attr-defined]
            self.transcript.call_after_refresh(self.transcript.scroll_end, animate=False)
        elif isinstance(ev, ToolStarted):
            self.reply = None  # text after the tool results is a new paragraph
            block = ToolCallBlock(ev.call_id, ev.name, ev.arguments, show_time=not self.app.options.deterministic)
            self.blocks[ev.call_id] = block
            self.transcript.add(block)
        elif isinstance(ev, ToolFinished):
            block = self.blocks.get(ev.outcome.call_id)
            if block is not None:
                block.finish(ev.outcome)
        elif isinstance(ev, LLMRetrying):
            n = ev.notice
            self.line(f"… the model did not answer ({n.reason}); retry {n.attempt}/{n.max_retries} in {n.delay:.1f}s",
                      "warning")

    def line(self, text: str, var: str = "foreground-muted") -> None:
        self.transcript.write(Text(text, style=theme_style(self.app, var)))

    def finish(self, answer: AgentAnswer) -> None:
        if self.reply is None:  # a non-streamed answer, or text only in the last round
            self.reply = Static(Text(answer.text, style=theme_style(self.app, "foreground")), classes="reply")
            self.transcript.add(self.reply)
        elif self.reply_text.strip() != answer.text:
            self.reply.update(Text(answer.text, style=theme_style(self.app, "foreground")))
        self.reply.plain = answer.text  # type: ignore[attr-defined]
        if answer.citations:
            lines = "\n".join(["Sources:"] + [_citation(c) for c in answer.citations])
            self.transcript.write(Text(lines, style=theme_style(self.app, "foreground-muted")))
        for d in answer.drafts:
            self.line(f"order draft {d.draft_id} waits for your confirmation (nothing sent): {d.summary()}", "warning")


def _citation(c: dict[str, Any]) -> str:
    section = f" § {c['section']}" if c.get("section") and c["section"] != c.get("title") else ""
    return f"[{c['n']}] {c['title']}{section} ({c['source']})"


# -- the controller ------------------------------------------------------------------------------


def start_ai_turn(app: QuantAIApp, chat: ChatPane, text: str) -> None:
    """Run one question in a worker; the pane stays responsive (and the kill key works)."""
    from quantai_tui.tui.chat_commands import NO_MODEL_TEXT

    service = app.options.ai
    if service is None or not service.configured:
        reason = service.problem if service is not None else None
        chat.say(f"{reason}\n\n{NO_MODEL_TEXT}" if reason else NO_MODEL_TEXT, "system")
        return
    if any(w.group == "ai" and w.is_running for w in app.workers):
        chat.say("the assistant is still answering the last question", "error")
        return
    app.run_worker(_turn(app, chat, text), group="ai", name="ai-turn", exit_on_error=False)


async def _turn(app: QuantAIApp, chat: ChatPane, text: str) -> None:
    service = app.options.ai
    assert service is not None
    service.attach(app.engine)
    view = TurnView(app, chat.transcript)
    try:
        answer = await service.ask(text, view.on_event)
    except asyncio.CancelledError:
        view.line("stopped", "warning")
        raise
    except Exception as exc:  # the model failing is a chat line, never a crash
        log.warning("assistant failed: %s", exc)
        view.line(f"assistant failed: {' '.join(str(exc).split())}", "error")
        return
    if service.tools_error and not service.tools_error_shown:
        service.tools_error_shown = True
        view.line(f"[ai] tools_module not loaded: {service.tools_error}", "error")
    view.finish(answer)
    await asyncio.to_thread(
        service.append_history,
        {"role": "user", "content": text},
        {"role": "assistant", "content": answer.text, "tools": [o.name for o in answer.outcomes],
         "citations": [_citation(c) for c in answer.citations]},
    )
    if answer.drafts:
        review_drafts(app, list(answer.drafts))


def review_drafts(app: QuantAIApp, drafts: list[OrderDraft]) -> None:
    """Open the confirmation modal for each draft in turn."""
    from quantai_tui.tui.screens.order_draft import OrderDraftScreen

    if not drafts:
        return
    service = app.options.ai
    draft = drafts[0]

    def done(result: str | None) -> None:
        if service is not None:
            service.drafts.take(draft.draft_id)  # a draft is used once, confirmed or not
        chat = app.panes.query_one("#chat")
        if result:
            chat.say(f"sent draft {draft.draft_id}: {draft.summary()}", "ok")  # type: ignore[attr-defined]
            app.note(f"order from assistant draft {draft.draft_id} confirmed and sent")
        else:
            chat.say(f"draft {draft.draft_id} rejected: nothing sent", "system")  # type: ignore[attr-defined]
        review_drafts(app, drafts[1:])

    app.push_screen(OrderDraftScreen(app.bridge, draft, blink=not app.options.deterministic), done)


def restore_history(app: QuantAIApp) -> None:
    """Redraw the last few messages of the profile's history (read in a thread)."""
    service = app.options.ai
    if service is None or service.history_file is None:
        return

    def load() -> None:
        items = service.load_history()
        if items:
            app.call_from_thread(_show_history, app, items[-8:])

    app.run_worker(load, thread=True, group="ai-history", name="chat-history", exit_on_error=False)


def _show_history(app: QuantAIApp, items: list[dict[str, Any]]) -> None:
    chat = app.panes.query_one("#chat")
    transcript: ChatTranscript = chat.transcript  # type: ignore[attr-defined]
    muted = theme_style(app, "foreground-muted")
    transcript.write(Text("── earlier ──", style=muted))
    for item in items:
        prefix = "› " if item.get("role") == "user" else ""
        transcript.write(Text(prefix + str(item.get("content", "")), style=muted))
    transcript.write(Text("──", style=muted))

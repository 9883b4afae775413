"""The chat pane's /kb command, driven by Pilot with no model configured: /kb list, /kb search
(the best passages with their source), /kb add PATH in a thread worker, and its errors, on a
tiny knowledge base in tmp_path."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from quantai_tui.ai.kb import KnowledgeBase
from quantai_tui.tui.chat_commands import HELP_TEXT, SlashError, parse_slash
from quantai_tui.tui.widgets.chat_ai import ChatTranscript
from tests.ai.test_ai_tui import FIXED_TS, service
from tests.tui.helpers import SIZE, make_app, settle


def test_parse_kb() -> None:
    assert (s := parse_slash("/kb search who pays  funding")).target == "search" and s.text == "who pays  funding"
    assert parse_slash("/KB list").target == "list"
    assert parse_slash('/kb add "/tmp/my notes.md"').text == "/tmp/my notes.md"  # quoted, spaces kept
    assert parse_slash("/kb add https://example.com/a.html").text == "https://example.com/a.html"
    for bad, says in [("/kb", "usage: /kb search QUERY | /kb list | /kb add PATH_OR_URL"),
                      ("/kb search", "usage: /kb search QUERY"), ("/kb add", "usage: /kb add PATH_OR_URL"),
                      ("/kb list x", "usage: /kb"), ("/kb drop x", "usage: /kb")]:
        with pytest.raises(SlashError, match=says.replace("|", r"\|")):
            parse_slash(bad)
    assert "/kb search QUERY" in HELP_TEXT and "/kb add PATH" in HELP_TEXT


def tiny_kb(path: Path) -> Path:
    kb = KnowledgeBase(path, clock=lambda: FIXED_TS, embed_threads=1)
    kb.add_text("# Funding rates\n\nLongs pay shorts every eight hours when the perpetual trades above the index.",
                source="notes/funding.md", kind="md", title="Funding rates")
    kb.add_text("# Order types\n\nA post-only limit order is cancelled instead of taking liquidity.",
                source="notes/orders.md", kind="md", title="Order types")
    kb.close()
    return path


async def slash(pilot: Any, text: str) -> str:
    """Type a line into the chat and wait for its workers; what the transcript gained."""
    app = pilot.app
    t = app.panes.query_one(ChatTranscript)
    before = t.plain()
    app.action_focus_chat()
    app.panes.query_one("#chat-input").value = text
    await pilot.press("enter")
    for _ in range(2):
        await app.workers.wait_for_complete()
        await pilot.pause()
    after = t.plain()
    assert after.startswith(before)
    return after[len(before):]


async def test_kb_slash_lists_searches_and_adds_without_a_model(tmp_path: Path) -> None:
    svc = service(tmp_path, None, kb_dir=tiny_kb(tmp_path / "kb"))
    assert not svc.configured
    threads: list[str] = []
    kb_add, kb_search = svc.kb_add, svc.kb_search

    def add_spy(*a: Any, **kw: Any) -> Any:
        threads.append(threading.current_thread().name)
        return kb_add(*a, **kw)

    def search_spy(*a: Any, **kw: Any) -> Any:
        threads.append(threading.current_thread().name)
        return kb_search(*a, **kw)

    svc.kb_add, svc.kb_search = add_spy, search_spy  # type: ignore[method-assign]
    doc = tmp_path / "sizing notes.md"
    doc.write_text("# Position sizing\n\nRisk at most one percent of equity per trade.\n")
    app = make_app(ai=svc)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        out = await slash(pilot, "/kb list")
        assert "2 document(s) in the knowledge base:" in out
        assert "Funding rates (md, 1 chunk) notes/funding.md" in out
        assert "Order types (md, 1 chunk) notes/orders.md" in out

        out = await slash(pilot, "/kb search who pays funding")
        assert "passage(s) for 'who pays funding':" in out
        first = out.split("[1] ", 1)[1].splitlines()
        assert first[0].startswith("Funding rates (notes/funding.md)  · ")  # the top hit, with its source
        assert "Longs pay shorts every eight hours" in first[1]

        out = await slash(pilot, f"/kb add {doc}")
        assert f"adding {doc} to the knowledge base…" in out
        assert f"✓ added: Position sizing (1 chunk, {doc.resolve()})" in out
        out = await slash(pilot, "/kb search how much to risk per trade")
        assert out.split("[1] ", 1)[1].startswith(f"Position sizing ({doc.resolve()})")
        assert "3 document(s)" in await slash(pilot, "/kb list")

        out = await slash(pilot, f"/kb add {tmp_path / 'missing.md'}")
        assert "✗ /kb add: no such file" in out
        assert "✗ usage: /kb search QUERY | /kb list | /kb add PATH_OR_URL" in await slash(pilot, "/kb")
        assert "/kb search QUERY" in await slash(pilot, "/help")
    # the knowledge base was called from worker threads, never from the UI's
    assert threads and threading.main_thread().name not in threads


async def test_kb_slash_without_a_knowledge_base_is_a_chat_line(tmp_path: Path) -> None:
    app = make_app()  # no AI service at all
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert "✗ the knowledge base is not available here" in await slash(pilot, "/kb list")

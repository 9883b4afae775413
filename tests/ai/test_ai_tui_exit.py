"""Quitting the app closes the AI service's model client (its HTTP connections to the model),
on the UI loop where the chat opened them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.ai.test_ai_tui import answer, ask, service
from tests.fakes.openai_server import FakeOpenAIServer
from tests.tui.helpers import SIZE, make_app, settle


async def test_quitting_closes_the_model_client(tmp_path: Path, fake_openai: FakeOpenAIServer) -> None:
    fake_openai.enqueue(answer("Flat."))
    svc = service(tmp_path, fake_openai)
    app = make_app(ai=svc)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await ask(pilot, "what do I hold")
        assert len(fake_openai.chat_requests) == 1
        session: Any = svc._session
        llm = session.client
        http = llm._client  # the openai.AsyncOpenAI the question went through
        assert http is not None and not http.is_closed()
        app.action_focus_orders()  # out of the chat input: q is the quit key again
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0
    assert http.is_closed() and llm._client is None
    assert svc._session is None


async def test_aclose_also_closes_a_session_left_by_an_engine_switch(tmp_path: Path,
                                                                     fake_openai: FakeOpenAIServer) -> None:
    fake_openai.enqueue(answer("Flat."))
    svc = service(tmp_path, fake_openai)
    await svc.ask("what do I hold", lambda _ev: None)
    old: Any = svc._session
    http = old.client._client
    svc.attach(object())  # type: ignore[arg-type]  # another engine: the session goes stale
    assert svc._session is None and not http.is_closed()
    await svc.aclose()
    assert http.is_closed()

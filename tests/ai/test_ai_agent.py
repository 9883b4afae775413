"""The tool loop over the real `openai` client and a scripted local OpenAI-compatible server."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from quantai_tui.ai.agent import AnswerDelta, LLMRetrying, ToolFinished, ToolStarted, describe_call
from quantai_tui.ai.assistant import Session, build_session
from quantai_tui.ai.llm import LLMClient, LLMConfig
from quantai_tui.ai.llm_types import LLMStatusError
from quantai_tui.core.events import ToolCalled, ToolResult
from quantai_tui.paths import Paths
from quantai_tui.settings.schema import Settings
from tests.ai.ai_helpers import API_KEY, FakeView
from tests.fakes.openai_server import (
    FakeOpenAIServer,
    error_reply,
    stream_reply,
    text_chunks,
    text_reply,
    tool_call_chunks,
    tool_call_reply,
)


class NoSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, d: float) -> None:
        self.delays.append(d)


def session(server: FakeOpenAIServer, tmp_path: Path, *, stream: bool = True, max_rounds: int = 8,
            max_retries: int = 3, sleeps: NoSleep | None = None) -> tuple[Session, list[Any]]:
    settings = Settings()
    settings.ai.max_tool_rounds = max_rounds
    settings.llm.max_retries = max_retries
    cfg = LLMConfig.from_settings(settings.llm)
    cfg = LLMConfig(base_url=server.base_url, model="fake-model", max_retries=max_retries,
                    temperature=cfg.temperature)
    client = LLMClient(cfg, env={"OPENAI_API_KEY": API_KEY}, sleep=sleeps or NoSleep(), rng=random.Random(1))
    events: list[Any] = []
    s = build_session(settings, Paths(), engine=FakeView(), sink=events.append, client=client, stream=stream)
    return s, events


def streamed_call(name: str, args: str, call_id: str = "call_1", pieces: int = 1) -> Any:
    step = max(1, len(args) // pieces)
    frags = [args[i:i + step] for i in range(0, len(args), step)] or [""]
    return stream_reply(tool_call_chunks([(call_id, name, frags)]), usage=(30, 9))


def streamed_text(text: str) -> Any:
    return stream_reply(text_chunks([text[: len(text) // 2], text[len(text) // 2:]]), usage=(40, 12))


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QUANTAI_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


async def test_tool_call_then_answer(tmp_path: Path) -> None:
    with FakeOpenAIServer([streamed_call("get_positions", "{}"), streamed_text("You hold 0.05 BTC.")]) as srv:
        s, events = session(srv, tmp_path)
        seen: list[Any] = []
        answer = await s.ask("what do I hold?", on_event=seen.append)
        await s.aclose()
    assert answer.text == "You hold 0.05 BTC."
    assert answer.rounds == 2 and answer.stopped == "answer"
    assert [o.name for o in answer.outcomes] == ["get_positions"] and answer.outcomes[0].ok
    assert answer.usage is not None and answer.usage.prompt_tokens == 70 and answer.usage.completion_tokens == 21
    kinds = [type(e) for e in seen]
    assert ToolStarted in kinds and ToolFinished in kinds and AnswerDelta in kinds
    assert "".join(e.text for e in seen if isinstance(e, AnswerDelta)) == "You hold 0.05 BTC."
    # the second request carries the tool result, addressed to the call
    msgs = srv.chat_requests[1].json["messages"]
    assert msgs[0]["role"] == "system" and "untrusted" in msgs[0]["content"]
    assert msgs[-2]["role"] == "assistant" and msgs[-2]["tool_calls"][0]["function"]["name"] == "get_positions"
    assert msgs[-1]["role"] == "tool" and msgs[-1]["tool_call_id"] == "call_1"
    assert json.loads(msgs[-1]["content"])["positions"][0]["quantity"] == "0.05"
    # tools offered by schema, every call audited
    names = [t["function"]["name"] for t in srv.chat_requests[0].json["tools"]]
    assert "propose_order" in names and "run_backtest" in names
    assert [type(e) for e in events] == [ToolCalled, ToolResult]


async def test_non_streaming_mode(tmp_path: Path) -> None:
    with FakeOpenAIServer([tool_call_reply("get_orders", '{"status": "open"}'), text_reply("One open order.")]) as srv:
        s, _ = session(srv, tmp_path, stream=False)
        answer = await s.ask("orders?")
        await s.aclose()
    assert answer.text == "One open order." and answer.outcomes[0].ok
    assert "stream" not in srv.chat_requests[0].json


async def test_streamed_arguments_in_fragments(tmp_path: Path) -> None:
    args = json.dumps({"status": "all", "limit": 3})
    with FakeOpenAIServer([streamed_call("get_orders", args, pieces=len(args)), streamed_text("done")]) as srv:
        s, _ = session(srv, tmp_path)
        answer = await s.ask("orders?")
        await s.aclose()
    assert len(args) > 10
    o = answer.outcomes[0]
    assert o.ok and o.arguments == {"status": "all", "limit": 3}
    assert srv.chat_requests[1].json["messages"][-2]["tool_calls"][0]["function"]["arguments"] == args


async def test_two_calls_in_one_round_interleaved(tmp_path: Path) -> None:
    chunks = tool_call_chunks([("a", "get_positions", ["{", "}"]), ("b", "get_orders", ['{"lim', 'it": 1}'])])
    with FakeOpenAIServer([stream_reply(chunks), streamed_text("ok")]) as srv:
        s, events = session(srv, tmp_path)
        answer = await s.ask("everything")
        await s.aclose()
    assert [(o.call_id, o.name, o.ok) for o in answer.outcomes] == [("a", "get_positions", True),
                                                                   ("b", "get_orders", True)]
    tool_msgs = [m for m in srv.chat_requests[1].json["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_msgs] == ["a", "b"]
    assert len(events) == 4


async def test_unknown_tool_goes_back_as_a_tool_error(tmp_path: Path) -> None:
    with FakeOpenAIServer([streamed_call("place_order", '{"symbol": "BTC/USDT", "qty": 10}'),
                           streamed_text("I cannot place orders.")]) as srv:
        s, events = session(srv, tmp_path)
        answer = await s.ask("buy 10 BTC")
        await s.aclose()
    o = answer.outcomes[0]
    assert not o.ok and "unknown tool 'place_order'" in o.content
    assert srv.chat_requests[1].json["messages"][-1]["content"].startswith("error: unknown tool")
    assert answer.text == "I cannot place orders."
    assert isinstance(events[1], ToolResult) and not events[1].ok


async def test_malformed_json_arguments_go_back_as_a_tool_error(tmp_path: Path) -> None:
    with FakeOpenAIServer([streamed_call("get_orders", '{"status": "open", limit: 5', pieces=3),
                           streamed_call("get_orders", '{"status": "open"}', call_id="call_2"),
                           streamed_text("fixed")]) as srv:
        s, _ = session(srv, tmp_path)
        answer = await s.ask("orders?")
        await s.aclose()
    bad, good = answer.outcomes
    assert not bad.ok and "not valid JSON" in bad.content and good.ok
    echoed = srv.chat_requests[1].json["messages"][-2]["tool_calls"][0]["function"]["arguments"]
    assert echoed == "{}"  # malformed history is not echoed back to strict servers
    assert answer.text == "fixed"


async def test_invalid_argument_types_go_back_as_a_tool_error(tmp_path: Path) -> None:
    with FakeOpenAIServer([streamed_call("get_orders", '{"status": "closed"}'), streamed_text("ok")]) as srv:
        s, _ = session(srv, tmp_path)
        answer = await s.ask("orders?")
        await s.aclose()
    assert "status must be one of 'open', 'all'" in answer.outcomes[0].content


async def test_429_then_success(tmp_path: Path) -> None:
    sleeps = NoSleep()
    with FakeOpenAIServer([error_reply(429, "slow down", retry_after="0.25"), streamed_call("get_positions", "{}"),
                           error_reply(429, "again"), streamed_text("flat")]) as srv:
        s, _ = session(srv, tmp_path, sleeps=sleeps)
        seen: list[Any] = []
        answer = await s.ask("positions?", on_event=seen.append)
        await s.aclose()
    assert answer.text == "flat"
    retries = [e for e in seen if isinstance(e, LLMRetrying)]
    assert len(retries) == 2 and "429" in retries[0].notice.reason
    assert sleeps.delays[0] >= 0.25
    assert len(srv.chat_requests) == 4


async def test_500_fails_after_retries_with_one_line(tmp_path: Path) -> None:
    with FakeOpenAIServer([error_reply(500, "model crashed")] * 3) as srv:
        s, _ = session(srv, tmp_path, max_retries=2)
        with pytest.raises(LLMStatusError) as info:
            await s.ask("hello")
        await s.aclose()
    assert info.value.status == 500 and "model crashed" in str(info.value)
    assert API_KEY not in str(info.value) and "\n" not in str(info.value)
    assert len(srv.chat_requests) == 3


async def test_500_then_success(tmp_path: Path) -> None:
    with FakeOpenAIServer([error_reply(500, "hiccup"), streamed_text("fine")]) as srv:
        s, _ = session(srv, tmp_path)
        answer = await s.ask("hello")
        await s.aclose()
    assert answer.text == "fine"


async def test_tool_rounds_are_bounded(tmp_path: Path) -> None:
    script = [streamed_call("get_positions", "{}", call_id=f"c{i}") for i in range(3)] + [streamed_text("enough")]
    with FakeOpenAIServer(script) as srv:
        s, _ = session(srv, tmp_path, max_rounds=2)
        answer = await s.ask("loop")
        await s.aclose()
    # two rounds with tools, then a request without them that must answer
    assert "tools" in srv.chat_requests[0].json and "tools" in srv.chat_requests[1].json
    assert "tools" not in srv.chat_requests[2].json
    assert "used all 2 rounds" in srv.chat_requests[2].json["messages"][-1]["content"]
    assert len(answer.outcomes) == 2
    # the script's third tool call came back without tools offered: refused, not executed
    assert answer.stopped == "max_rounds"
    assert answer.text.startswith("(no answer")


async def test_history_is_replayed(tmp_path: Path) -> None:
    with FakeOpenAIServer([streamed_text("first"), streamed_text("second")]) as srv:
        s, _ = session(srv, tmp_path)
        await s.ask("one")
        await s.ask("two")
        await s.aclose()
    msgs = srv.chat_requests[1].json["messages"]
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    assert msgs[2]["content"] == "first"


def test_describe_call() -> None:
    assert describe_call("run_backtest", '{"strategy": "ma", "params": {"fast": 10}}') == \
        'run_backtest(strategy="ma", params={"fast": 10})'
    assert describe_call("x", "{bad") == "x({bad)"

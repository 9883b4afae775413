"""ai/llm.py against a local OpenAI-compatible server, through the real `openai` client."""

from __future__ import annotations

import json
import logging
import random
import socket
import subprocess
import sys
from typing import Any

import pytest

from quantai_tui.ai.llm import LLMClient, LLMConfig
from quantai_tui.ai.llm_types import (
    ChatResult,
    Completed,
    LLMConfigError,
    LLMConnectionError,
    LLMProtocolError,
    LLMRateLimitError,
    LLMStatusError,
    LLMTimeoutError,
    Retrying,
    StreamEvent,
    TextDelta,
    ToolArgumentsError,
    ToolCallDelta,
    ToolCallStarted,
)
from tests.fakes.openai_server import (
    FakeOpenAIServer,
    Reply,
    error_reply,
    raw_reply,
    stream_reply,
    text_chunks,
    text_reply,
    tool_call_chunks,
    tool_call_reply,
)

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "run_backtest",
            "description": "Run a backtest and return its metrics.",
            "parameters": {
                "type": "object",
                "properties": {
                    "strategy": {"type": "string"},
                    "fast": {"type": "integer"},
                    "slow": {"type": "integer"},
                },
                "required": ["strategy"],
            },
        },
    },
    {"type": "function", "function": {"name": "get_positions", "parameters": {"type": "object", "properties": {}}}},
]
API_KEY = "sk-test-DO-NOT-LEAK-7f3a9c2e41b8"
ASK = [{"role": "user", "content": "backtest a 10/50 MA crossover"}]


class Sleeps:
    """Stands in for asyncio.sleep: records the backoff delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def make_client(server: FakeOpenAIServer, sleeps: Sleeps | None = None, **cfg: Any) -> LLMClient:
    config = LLMConfig(base_url=server.base_url, model="fake-model", **cfg)
    return LLMClient(config, env={"OPENAI_API_KEY": API_KEY}, sleep=sleeps or Sleeps(), rng=random.Random(7))


async def collect(client: LLMClient, messages: list[dict[str, Any]], **kw: Any) -> list[StreamEvent]:
    return [event async for event in client.stream(messages, **kw)]


def final(events: list[StreamEvent]) -> ChatResult:
    done = [e for e in events if isinstance(e, Completed)]
    assert len(done) == 1 and events[-1] is done[0], "a stream ends with exactly one Completed"
    return done[0].result


# -- the tool-calling round trip -------------------------------------------------------------


async def test_tool_call_then_answer(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.enqueue(
        tool_call_reply("run_backtest", '{"strategy": "ma_crossover", "fast": 10, "slow": 50}', call_id="call_bt"),
        text_reply("Sharpe 1.42, return 8.1%.", usage=(40, 12)),
    )
    async with make_client(fake_openai) as client:
        first = await client.complete(ASK, tools=TOOLS)
        assert first.finish_reason == "tool_calls"
        assert [(c.id, c.name) for c in first.tool_calls] == [("call_bt", "run_backtest")]
        assert first.tool_calls[0].parse_arguments() == {"strategy": "ma_crossover", "fast": 10, "slow": 50}

        history = [*ASK, first.assistant_message(),
                   {"role": "tool", "tool_call_id": "call_bt", "content": '{"sharpe": 1.42}'}]  # fmt: skip
        answer = await client.complete(history, tools=TOOLS)

    assert answer.content == "Sharpe 1.42, return 8.1%." and not answer.tool_calls
    sent = fake_openai.chat_requests[1].json
    assert sent["model"] == "fake-model" and sent["tools"][0]["function"]["name"] == "run_backtest"
    assert sent["messages"][1]["tool_calls"][0]["function"]["name"] == "run_backtest"
    assert sent["messages"][2] == {"role": "tool", "tool_call_id": "call_bt", "content": '{"sharpe": 1.42}'}
    # Tokens are summed over the session: (20, 8) for the tool call + (40, 12) for the answer.
    assert (client.usage.prompt_tokens, client.usage.completion_tokens, client.usage.requests) == (60, 20, 2)
    assert client.usage.total_tokens == 80


async def test_stream_yields_text_deltas_and_counts_usage_from_final_chunk(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.enqueue(stream_reply(text_chunks(["Sharpe ", "1.4", "2, max DD 4.3%"]), usage=(33, 9)))
    async with make_client(fake_openai) as client:
        events = await collect(client, ASK)
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Sharpe ", "1.4", "2, max DD 4.3%"]
    result = final(events)
    assert result.content == "Sharpe 1.42, max DD 4.3%" and result.finish_reason == "stop"
    assert result.usage is not None and (result.usage.prompt_tokens, result.usage.completion_tokens) == (33, 9)
    assert (client.usage.prompt_tokens, client.usage.completion_tokens) == (33, 9)
    body = fake_openai.chat_requests[0].json
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


async def test_streamed_tool_call_arguments_are_assembled_by_index(fake_openai: FakeOpenAIServer) -> None:
    calls = [
        ("call_a", "run_backtest", ['{"strat', 'egy": "ma_cross', 'over", "fast"', ": 10, ", '"slow": 50}']),
        ("call_b", "get_positions", ["{", "}"]),
    ]
    fake_openai.enqueue(stream_reply(tool_call_chunks(calls), usage=(50, 30)))
    async with make_client(fake_openai) as client:
        events = await collect(client, ASK, tools=TOOLS)

    started = [e for e in events if isinstance(e, ToolCallStarted)]
    assert [(e.index, e.id, e.name) for e in started] == [(0, "call_a", "run_backtest"), (1, "call_b", "get_positions")]
    frags: dict[int, str] = {}
    for e in events:
        if isinstance(e, ToolCallDelta):
            frags[e.index] = frags.get(e.index, "") + e.arguments
    assert frags == {0: '{"strategy": "ma_crossover", "fast": 10, "slow": 50}', 1: "{}"}
    result = final(events)
    assert result.finish_reason == "tool_calls" and result.content == ""
    assert [(c.id, c.name) for c in result.tool_calls] == [("call_a", "run_backtest"), ("call_b", "get_positions")]
    assert result.tool_calls[0].parse_arguments() == {"strategy": "ma_crossover", "fast": 10, "slow": 50}
    assert result.tool_calls[1].parse_arguments() == {}
    assert result.assistant_message()["tool_calls"][0]["function"]["arguments"] == frags[0]


async def test_unknown_tool_is_passed_through_unchanged(fake_openai: FakeOpenAIServer) -> None:
    # The client reports exactly what the model asked for; the tool loop refuses unknown names.
    fake_openai.enqueue(tool_call_reply("launch_rockets", '{"count": 3}'))
    async with make_client(fake_openai) as client:
        result = await client.complete(ASK, tools=TOOLS)
    assert [(c.name, c.parse_arguments()) for c in result.tool_calls] == [("launch_rockets", {"count": 3})]


@pytest.mark.parametrize("arguments", ['{"strategy": "ma", ', "[1, 2]", "not json"])
async def test_malformed_tool_arguments_raise_a_tool_error_not_a_crash(
    fake_openai: FakeOpenAIServer, arguments: str
) -> None:
    fake_openai.enqueue(stream_reply(tool_call_chunks([("call_x", "run_backtest", [arguments[:5], arguments[5:]])])))
    async with make_client(fake_openai) as client:
        result = final(await collect(client, ASK, tools=TOOLS))
    call = result.tool_calls[0]
    assert call.arguments == arguments  # kept verbatim, so the error can be shown to the model
    with pytest.raises(ToolArgumentsError, match="run_backtest") as info:
        call.parse_arguments()
    assert "\n" not in str(info.value)


# -- retries, backoff, timeouts ---------------------------------------------------------------


async def test_429_then_success_waits_what_retry_after_asks(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.enqueue(error_reply(429, "rate limited", retry_after="2"), text_reply("ok", usage=(5, 1)))
    sleeps = Sleeps()
    notices: list[Retrying] = []
    client = make_client(fake_openai, sleeps)
    client._on_retry = notices.append
    result = await client.complete(ASK)
    await client.aclose()
    assert result.content == "ok"
    assert len(fake_openai.chat_requests) == 2
    assert len(sleeps.delays) == 1 and 2.0 <= sleeps.delays[0] <= 2.2  # Retry-After plus a little jitter
    assert notices[0].attempt == 1 and "429" in notices[0].reason
    assert client.usage.requests == 1 and client.usage.prompt_tokens == 5  # failed attempts cost nothing


async def test_retry_after_ms_header_is_honoured(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.enqueue(Reply(status=429, body={"error": {"message": "slow"}}, headers={"retry-after-ms": "1500"}),
                        text_reply("ok"))  # fmt: skip
    sleeps = Sleeps()
    async with make_client(fake_openai, sleeps) as client:
        assert (await client.complete(ASK)).content == "ok"
    assert 1.5 <= sleeps.delays[0] <= 1.7


async def test_500s_back_off_exponentially_then_give_up(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.enqueue(*[error_reply(500, "boom")] * 4)
    sleeps = Sleeps()
    async with make_client(fake_openai, sleeps, max_retries=3, backoff_base=0.5) as client:
        with pytest.raises(LLMStatusError) as info:
            await client.complete(ASK)
    assert info.value.status == 500 and info.value.retryable and "boom" in str(info.value)
    assert len(fake_openai.chat_requests) == 4  # one try + three retries
    # Jitter keeps each delay within [50%, 100%] of base * 2**n, so they can only grow.
    for n, delay in enumerate(sleeps.delays):
        assert 0.5 * 0.5 * 2**n <= delay <= 0.5 * 2**n
    assert sleeps.delays == sorted(sleeps.delays)


async def test_stream_retries_a_500_and_reports_the_wait(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.enqueue(error_reply(503, "overloaded"), stream_reply(text_chunks(["fine"]), usage=(3, 1)))
    async with make_client(fake_openai) as client:
        events = await collect(client, ASK)
    assert isinstance(events[0], Retrying) and "503" in events[0].reason
    assert final(events).content == "fine"


async def test_client_errors_are_not_retried(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.enqueue(error_reply(400, "model 'fake' does not support tools"))
    sleeps = Sleeps()
    async with make_client(fake_openai, sleeps) as client:
        with pytest.raises(LLMStatusError, match="does not support tools") as info:
            await client.complete(ASK)
    assert info.value.status == 400 and not info.value.retryable
    assert sleeps.delays == [] and len(fake_openai.chat_requests) == 1


async def test_too_long_retry_after_fails_fast(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.enqueue(error_reply(429, "quota", retry_after="3600"))
    sleeps = Sleeps()
    async with make_client(fake_openai, sleeps) as client:
        with pytest.raises(LLMRateLimitError, match="3600s"):
            await client.complete(ASK)
    assert sleeps.delays == []


async def test_timeout_is_retried_then_succeeds(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.enqueue(Reply(delay=3.0, body={}), text_reply("late but fine"))
    sleeps = Sleeps()
    async with make_client(fake_openai, sleeps, timeout=1.0, max_retries=1) as client:
        assert (await client.complete(ASK)).content == "late but fine"
    assert len(sleeps.delays) == 1


async def test_timeout_after_retries_raises_timeout_error(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.enqueue(Reply(delay=3.0, body={}), Reply(delay=3.0, body={}))
    async with make_client(fake_openai, timeout=1.0, max_retries=1) as client:
        with pytest.raises(LLMTimeoutError):
            await client.complete(ASK)


async def test_unreachable_server_raises_connection_error() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = LLMConfig(base_url=f"http://127.0.0.1:{port}/v1", model="m", max_retries=1)
    sleeps = Sleeps()
    async with LLMClient(config, env={"OPENAI_API_KEY": API_KEY}, sleep=sleeps) as client:
        with pytest.raises(LLMConnectionError, match="cannot reach"):
            await client.complete(ASK)
    assert len(sleeps.delays) == 1


async def test_malformed_stream_data_is_a_protocol_error(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.enqueue(stream_reply([text_chunks(["ok"])[0], "{not json"]))
    async with make_client(fake_openai) as client:
        with pytest.raises(LLMProtocolError):
            await collect(client, ASK)


async def test_malformed_json_body_is_a_protocol_error(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.enqueue(raw_reply(b'{"choices": [}'))
    async with make_client(fake_openai) as client:
        with pytest.raises(LLMProtocolError):
            await client.complete(ASK)


async def test_error_mid_stream_is_raised_after_the_text_already_shown(fake_openai: FakeOpenAIServer) -> None:
    chunks = [*text_chunks(["partial "])[:-1], {"error": {"message": "upstream overloaded"}}]
    fake_openai.enqueue(stream_reply(chunks, done=False))
    seen: list[StreamEvent] = []
    async with make_client(fake_openai) as client:
        with pytest.raises(LLMProtocolError, match="upstream overloaded"):
            async for event in client.stream(ASK):
                seen.append(event)
    assert [e.text for e in seen if isinstance(e, TextDelta)] == ["partial "]
    assert len(fake_openai.chat_requests) == 1  # output was already shown: no silent retry


# -- configuration and the secret key ---------------------------------------------------------


def test_config_falls_back_to_openai_environment_variables() -> None:
    env = {"OPENAI_API_KEY": API_KEY, "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    r = LLMConfig(model="m", api_key_env="MY_LLM_KEY").resolve(env)
    assert r.base_url == "http://127.0.0.1:9/v1" and r.api_key.reveal() == API_KEY
    assert r.api_key.source == "OPENAI_API_KEY"
    r = LLMConfig(model="m", api_key_env="MY_LLM_KEY", base_url="http://h/v1").resolve({**env, "MY_LLM_KEY": "sk-mine"})
    assert r.base_url == "http://h/v1" and r.api_key.reveal() == "sk-mine" and r.api_key.source == "MY_LLM_KEY"


def test_config_errors_say_how_to_configure() -> None:
    with pytest.raises(LLMConfigError, match=r"\[llm\] model"):
        LLMConfig().resolve({"OPENAI_API_KEY": API_KEY})
    with pytest.raises(LLMConfigError, match="OPENAI_API_KEY"):
        LLMConfig(model="gpt-4o-mini").resolve({})


def test_from_settings_reads_the_llm_table() -> None:
    class Llm:
        base_url, model, api_key_env, timeout_s, max_retries, temperature = "http://x/v1", "m", "K", 5.0, 1, 0.2

    c = LLMConfig.from_settings(Llm())
    assert (c.base_url, c.model, c.api_key_env, c.timeout, c.max_retries, c.temperature) == (
        "http://x/v1",
        "m",
        "K",
        5.0,
        1,
        0.2,
    )


def test_from_settings_uses_defaults_for_missing_fields() -> None:
    class Partial:
        model = "m"

    c = LLMConfig.from_settings(Partial())
    assert (c.model, c.base_url, c.api_key_env) == ("m", "", "OPENAI_API_KEY")
    assert (c.timeout, c.max_retries) == (LLMConfig().timeout, LLMConfig().max_retries)


async def test_local_server_without_a_key_works(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.enqueue(text_reply("hi from ollama"))
    async with LLMClient(LLMConfig(base_url=fake_openai.base_url, model="llama3"), env={}) as client:
        assert (await client.complete(ASK)).content == "hi from ollama"


async def test_api_key_never_appears_in_reprs_logs_errors_or_events(
    fake_openai: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, including openai's and httpx's
    echo = f"invalid key {API_KEY}"  # a careless server that echoes the key back
    fake_openai.enqueue(error_reply(429, echo, retry_after="0"), stream_reply(text_chunks(["x"]), usage=(1, 1)),
                        error_reply(401, echo))  # fmt: skip
    texts: list[str] = []
    async with make_client(fake_openai, temperature=0.1) as client:
        texts += [repr(client), repr(client.config), repr(client.resolved), str(client.resolved.api_key)]
        texts += [repr(e) for e in await collect(client, ASK)]
        with pytest.raises(LLMStatusError) as info:
            await client.complete(ASK)
        texts += [str(info.value), repr(info.value)]
    texts += [r.getMessage() for r in caplog.records]
    assert fake_openai.chat_requests[0].headers["authorization"] == f"Bearer {API_KEY}"  # it was really used
    assert any("429" in t for t in texts) and "***" in str(info.value)
    leaks = [t for t in texts if API_KEY in t or API_KEY[8:] in t]
    assert leaks == []
    assert info.value.__suppress_context__  # the openai error (with the echoed body) is not chained


def test_importing_the_ai_modules_loads_no_heavy_or_ui_package() -> None:
    code = (
        "import sys, quantai_tui.ai.llm, quantai_tui.ai.llm_types, quantai_tui.ai.kb, quantai_tui.ai.embedding; "
        "print(sorted(m for m in ('openai', 'chromadb', 'numpy', 'tokenizers', 'textual', 'rich') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.replace("'", '"')) == []


async def test_credentials_in_the_base_url_stay_out_of_errors() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = LLMConfig(base_url=f"http://proxyuser:hunter2@127.0.0.1:{port}/v1?token=abc", model="m", max_retries=0)
    async with LLMClient(config, env={"OPENAI_API_KEY": API_KEY}) as client:
        with pytest.raises(LLMConnectionError) as info:
            await client.complete(ASK)
    assert f"127.0.0.1:{port}/v1" in str(info.value)
    assert "hunter2" not in str(info.value) and "token=abc" not in str(info.value)

"""The LLM advisor of strategies/ai_guided.py, over the fake server and the real openai client."""

from __future__ import annotations

import json
import random

from quantai_tui.ai.advisor import LLMAdvisor, attach_advisor, parse_reply
from quantai_tui.ai.llm import LLMClient, LLMConfig
from quantai_tui.engine.strategy_loader import load_strategy
from quantai_tui.settings.schema import Settings
from tests.ai.ai_helpers import API_KEY
from tests.fakes.openai_server import FakeOpenAIServer, error_reply, text_reply

REQUEST = {"strategy": "ai_guided", "symbol": "BTC/USDT", "price": 70000.0, "return_pct": 2.5,
           "current": {"regime": "range", "fast": 10, "slow": 30}, "allowed_regimes": ["trend", "range", "flat"],
           "param_bounds": {"fast": [2, 500], "slow": [3, 2000]}}


async def noop_sleep(_d: float) -> None:
    pass


def client(srv: FakeOpenAIServer) -> LLMClient:
    return LLMClient(LLMConfig(base_url=srv.base_url, model="fake-model", max_retries=1),
                     env={"OPENAI_API_KEY": API_KEY}, sleep=noop_sleep, rng=random.Random(0))


def test_parse_reply() -> None:
    assert parse_reply('Sure!\n```json\n{"regime": "trend", "params": {"fast": 12}}\n```') == \
        {"regime": "trend", "params": {"fast": 12}}
    assert parse_reply("no json here") is None
    assert parse_reply("[1, 2]") is None


async def test_advisor_asks_the_model_and_returns_its_json() -> None:
    with FakeOpenAIServer([text_reply('{"regime": "trend", "params": {"fast": 12, "slow": 40}}')]) as srv:
        adv = LLMAdvisor(client(srv))
        reply = await adv(REQUEST)
        await adv.aclose()
    assert reply == {"regime": "trend", "params": {"fast": 12, "slow": 40}}
    sent = srv.chat_requests[0].json
    assert "tools" not in sent  # an advisor can do nothing but answer
    assert json.loads(sent["messages"][1]["content"])["symbol"] == "BTC/USDT"


async def test_advisor_failure_is_none_and_the_strategy_falls_back() -> None:
    with FakeOpenAIServer([error_reply(500, "down"), error_reply(500, "down"), text_reply("I think trend")]) as srv:
        adv = LLMAdvisor(client(srv))
        assert await adv(REQUEST) is None
        assert await adv(REQUEST) is None  # prose, not JSON
        await adv.aclose()
    assert adv.failures == 2


def test_attach_only_to_strategies_that_ask_and_only_with_a_model() -> None:
    guided = load_strategy("ai_guided")({})
    plain = load_strategy("ma_crossover")({})
    s = Settings()
    assert not attach_advisor(guided, s, env={})  # no model configured: offline rule
    s.llm.model = "fake-model"
    s.llm.base_url = "http://127.0.0.1:9/v1"
    assert attach_advisor(guided, s, env={}) and isinstance(guided.advisor, LLMAdvisor)
    assert not attach_advisor(guided, s, env={})  # already has one
    assert not attach_advisor(plain, s, env={})

"""A strategy started from the TUI (palette → Start strategy) runs on the engine's own thread, and
`ai_guided`'s advisor asks the configured model there and is closed when the strategy stops."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from quantai_tui.commands.tui_engine import build_engine
from quantai_tui.core.enums import TradingMode
from quantai_tui.paths import Paths
from quantai_tui.settings.schema import Settings
from tests.fakes.openai_server import FakeOpenAIServer, text_reply

API_KEY = "sk-tui-strategy-test-0123456789"


async def test_palette_strategy_runs_on_the_engine_thread_and_closes_its_advisor(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    with FakeOpenAIServer([text_reply('{"regime": "trend"}')] * 20) as srv:
        settings = Settings()
        settings.llm.model = "fake-model"
        settings.llm.base_url = srv.base_url
        facade = build_engine(settings, Paths(), "sim", ["BTC/USDT"], TradingMode.PAPER)
        loops: list[asyncio.AbstractEventLoop] = []
        add = facade.kernel.add_strategy

        async def add_strategy(strategy: Any) -> str:
            loops.append(asyncio.get_running_loop())
            return await add(strategy)

        facade.kernel.add_strategy = add_strategy  # type: ignore[method-assign]
        await facade.start()
        try:
            sid = await facade.start_strategy("ai_guided", {"interval_s": "1"})
            strategy: Any = facade.kernel.strategies[sid][0]  # (strategy, its subscriptions)
            advisor = strategy.advisor
            assert advisor is not None
            for _ in range(200):  # the sim market's clock reaches the first timer within seconds
                if srv.chat_requests:
                    break
                await asyncio.sleep(0.05)
            assert srv.chat_requests, "the advisor never asked the model"
            assert facade.thread is not None
            assert loops == [facade.thread.loop] and loops[0] is not asyncio.get_running_loop()
            http = advisor.client._client
            assert http is not None and not http.is_closed()
            await facade.stop_strategy(sid)
            assert sid not in facade.kernel.strategies
            assert http.is_closed()
        finally:
            await facade.stop()

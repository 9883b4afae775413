"""The LLM-backed advisor for strategies that ask one (strategies/ai_guided.py).

    strategy.advisor = LLMAdvisor(LLMClient(LLMConfig.from_settings(settings.llm)))
    # or: attach_advisor(strategy, settings)  -> True when a model is configured

The strategy sends a small JSON request (symbol, price, recent return, its regime and the
allowed parameter bounds); the model answers with JSON {"regime": ..., "params": {...}}. The
advisor never raises and never waits long: any failure, timeout or unparsable reply is None,
and the strategy falls back to its offline rule. It has no tools, so it can change nothing but
the strategy's own regime and parameters, which the strategy checks against its bounds.

Live and paper only: a backtest must not await the network (the replay cannot suspend).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from quantai_tui.ai.llm import LLMClient, LLMConfig
from quantai_tui.core.errors import AIError
from quantai_tui.settings.schema import Settings

__all__ = ["ADVISOR_PROMPT", "LLMAdvisor", "attach_advisor", "parse_reply"]

log = logging.getLogger("quantai.ai.advisor")

ADVISOR_PROMPT = """You advise a crypto trading strategy about the market regime. You receive one JSON object \
describing the market and the strategy's current settings. Reply with ONE JSON object and nothing else:
{"regime": "trend" | "range" | "flat", "params": {...}}
- trend: a sustained directional move (the strategy trades a fast/slow moving-average crossover);
- range: mean-reverting chop (it fades Bollinger bands);
- flat: too volatile or unclear (it closes its position and waits).
"params" is optional; use only keys from "param_bounds" and values inside those bounds, with fast < slow."""

_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def parse_reply(text: str) -> dict[str, Any] | None:
    """The first JSON object in `text` (models wrap JSON in prose or ``` fences), else None."""
    m = _OBJECT.search(text or "")
    if m is None:
        return None
    try:
        value = json.loads(m.group(0))
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


class LLMAdvisor:
    def __init__(self, client: LLMClient, *, timeout_s: float = 30.0) -> None:
        self.client = client
        self.timeout_s = timeout_s
        self.calls = 0
        self.failures = 0

    async def __call__(self, request: Mapping[str, Any]) -> dict[str, Any] | None:
        self.calls += 1
        messages = [{"role": "system", "content": ADVISOR_PROMPT},
                    {"role": "user", "content": json.dumps(request, default=str)}]
        try:
            result = await asyncio.wait_for(self.client.complete(messages), self.timeout_s)
        except (AIError, TimeoutError) as e:
            self.failures += 1
            log.warning("advisor: no reply (%s); the strategy uses its offline rule", e)
            return None
        reply = parse_reply(result.content)
        if reply is None:
            self.failures += 1
            log.warning("advisor: the model's reply was not a JSON object")
        return reply

    async def aclose(self) -> None:
        await self.client.aclose()


def attach_advisor(strategy: Any, settings: Settings, env: Mapping[str, str] | None = None) -> bool:
    """Plug an LLMAdvisor into a strategy that asks for advice, when a model is configured and
    the strategy has none yet. Returns whether one was attached."""
    wants = getattr(strategy, "uses_advisor", False) or type(strategy).strategy_name() == "ai_guided"
    if not wants or getattr(strategy, "advisor", None) is not None:
        return False
    from quantai_tui.ai.llm_types import LLMConfigError

    try:
        client = LLMClient(LLMConfig.from_settings(settings.llm), env=env)
    except LLMConfigError as e:
        log.info("%s runs on its offline rule: %s", strategy.id, e)
        return False
    strategy.advisor = LLMAdvisor(client, timeout_s=min(60.0, float(settings.llm.timeout_s)))
    return True


async def close_advisor(advisor: Any, owner: str) -> None:
    """Close an attached advisor's model client (its HTTP connections); a failure to close is
    only logged: the strategy has stopped either way."""
    if advisor is None:
        return
    try:
        await advisor.aclose()
    except Exception:
        log.debug("closing the advisor of %s failed", owner, exc_info=True)

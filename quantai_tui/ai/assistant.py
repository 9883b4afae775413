"""One assistant session, assembled from settings: the model client, the tools (built-in plus the
user's `[ai] tools_module`), the tool context, the audit sink and the agent loop.

    session = build_session(settings, paths, engine=KernelView(kernel), sink=kernel_sink(kernel))
    answer = await session.ask("how did ma_crossover do on BTC/USDT last week?", on_event=...)
    await session.aclose()

`quantai ask` and the TUI's AI service both use this; neither can send an order through it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from quantai_tui.ai.agent import Agent, AgentAnswer, AgentEvent
from quantai_tui.ai.context import EngineView, ToolContext
from quantai_tui.ai.drafts import DraftBook
from quantai_tui.ai.llm import LLMClient, LLMConfig
from quantai_tui.ai.tools import EventSink, ToolRegistry, ToolRunner, load_tools_module
from quantai_tui.settings.schema import Settings

if TYPE_CHECKING:
    from quantai_tui.ai.kb import KnowledgeBase
    from quantai_tui.paths import Paths

__all__ = ["Session", "build_registry", "build_session", "model_config_error"]


def build_registry(settings: Settings, *, base_dir: Any = None) -> ToolRegistry:
    """Built-in tools plus the user's module; ToolDefinitionError (file:line) if that fails."""
    from quantai_tui.ai.tools_builtin import builtin_registry

    reg = builtin_registry()
    if settings.ai.tools_module.strip():
        load_tools_module(settings.ai.tools_module, reg, base_dir=base_dir)
    return reg


def model_config_error(settings: Settings, env: Mapping[str, str] | None = None) -> str | None:
    """None when a model is configured, else one line saying how to configure one."""
    from quantai_tui.ai.llm_types import LLMConfigError

    try:
        LLMConfig.from_settings(settings.llm).resolve(env)
    except LLMConfigError as e:
        return str(e)
    return None


@dataclass
class Session:
    client: LLMClient
    runner: ToolRunner
    agent: Agent
    history: list[dict[str, Any]] = field(default_factory=list)
    max_history: int = 20  # user/assistant messages replayed to the model

    @property
    def context(self) -> ToolContext:
        return self.runner.context

    @property
    def drafts(self) -> DraftBook:
        return self.runner.context.drafts

    async def ask(self, question: str, on_event: Callable[[AgentEvent], Any] | None = None,
                  history: Sequence[Mapping[str, Any]] | None = None) -> AgentAnswer:
        past = self.history[-self.max_history:] if history is None else list(history)
        answer = await self.agent.ask(question, past, on_event)
        self.history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.text}]
        del self.history[: -self.max_history * 2]
        return answer

    async def aclose(self) -> None:
        await self.client.aclose()
        kb = self.context._kb  # noqa: SLF001 - only closed if it was opened
        if kb is not None:
            kb.close()


def build_session(
    settings: Settings,
    paths: Paths | None,
    *,
    engine: EngineView | None = None,
    sink: EventSink | None = None,
    headless: bool = False,
    drafts: DraftBook | None = None,
    kb_factory: Callable[[], KnowledgeBase] | None = None,
    registry: ToolRegistry | None = None,
    env: Mapping[str, str] | None = None,
    client: LLMClient | None = None,
    stream: bool = True,
) -> Session:
    """Raises LLMConfigError when no model is configured, ToolDefinitionError for a bad tools module."""
    client = client or LLMClient(LLMConfig.from_settings(settings.llm), env=env)
    registry = registry if registry is not None else build_registry(settings)
    ctx = ToolContext(settings=settings, paths=paths, engine=engine, kb_factory=kb_factory,
                      drafts=drafts or DraftBook(), headless=headless, secrets=(client.resolved.api_key,))
    runner = ToolRunner(registry, ctx, sink=sink, max_chars=settings.ai.tool_result_max_chars,
                        secrets=(client.resolved.api_key,))
    agent = Agent(client, runner, max_rounds=settings.ai.max_tool_rounds, stream=stream)
    return Session(client, runner, agent)

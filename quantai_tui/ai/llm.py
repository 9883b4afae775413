"""OpenAI-compatible chat client (OpenAI, Ollama, vLLM, LM Studio, OpenRouter) over `openai.AsyncOpenAI`.

- Config: `[llm] base_url, model, api_key_env`, falling back to OPENAI_BASE_URL / OPENAI_API_KEY.
- Streaming yields text deltas and assembles tool calls whose arguments arrive in fragments.
- Retries on 408/409/429/5xx, connection errors and timeouts are ours (the openai client is built
  with max_retries=0): exponential backoff with jitter, honouring Retry-After. The sleep and the
  random source are injectable so tests need not wait.
- Token usage is summed per client (one client per chat session), from `usage` or, when
  streaming, from the final chunk requested with stream_options.include_usage.
- The API key lives in a `Secret`; it is never in a repr, log line, exception message or event.

openai is imported on first request, not at module import.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import random
import sys
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from quantai_tui.ai.llm_types import (
    ChatResult,
    Completed,
    LLMConfigError,
    LLMConnectionError,
    LLMError,
    LLMProtocolError,
    LLMRateLimitError,
    LLMStatusError,
    LLMTimeoutError,
    Retrying,
    SessionUsage,
    StreamEvent,
    TextDelta,
    ToolCall,
    Usage,
)
from quantai_tui.ai.llm_wire import PartialCall, error_detail, merge_tool_delta, next_chunk, usage_of
from quantai_tui.ai.llm_wire import retry_after as retry_after_of
from quantai_tui.core.secrets import Secret, redact

if TYPE_CHECKING:
    from openai import AsyncOpenAI

__all__ = ["LLMClient", "LLMConfig", "ResolvedLLM"]

log = logging.getLogger(__name__)
T = TypeVar("T")
Message = Mapping[str, Any]
# Local servers (Ollama, LM Studio, vLLM) accept any key, but the openai client insists on one.
_PLACEHOLDER_KEY = "no-key-needed"


@dataclass(frozen=True, slots=True)
class LLMConfig:
    """Where the model is and how patiently to talk to it. Holds the key's env var, not the key."""

    base_url: str = ""  # empty: OPENAI_BASE_URL, else OpenAI's own endpoint
    model: str = ""  # empty: no model configured
    api_key_env: str = "OPENAI_API_KEY"  # falls back to OPENAI_API_KEY when this one is unset
    timeout: float = 60.0  # seconds to connect and between bytes of the reply
    max_retries: int = 3
    backoff_base: float = 0.5  # first retry waits ~this long, doubling each time
    backoff_max: float = 20.0
    max_retry_after: float = 60.0  # a longer Retry-After is not waited for: fail instead
    temperature: float | None = None
    stream_usage: bool = True  # ask for usage in the last chunk (stream_options.include_usage)

    @classmethod
    def from_settings(cls, llm: Any) -> LLMConfig:
        """From the settings tree's `[llm]` table (attributes base_url, model, api_key_env, ...)."""
        default = cls()  # slotted dataclass: class attributes are descriptors, not defaults
        return cls(
            base_url=getattr(llm, "base_url", "") or "",
            model=getattr(llm, "model", "") or "",
            api_key_env=getattr(llm, "api_key_env", "") or "OPENAI_API_KEY",
            timeout=float(getattr(llm, "timeout_s", default.timeout)),
            max_retries=int(getattr(llm, "max_retries", default.max_retries)),
            temperature=getattr(llm, "temperature", None),
        )

    def resolve(self, env: Mapping[str, str] | None = None) -> ResolvedLLM:
        """Apply the environment fallbacks; LLMConfigError (saying how to fix it) if unusable."""
        env = os.environ if env is None else env
        base_url = self.base_url or env.get("OPENAI_BASE_URL", "")
        key_env = self.api_key_env or "OPENAI_API_KEY"
        value = env.get(key_env, "")
        if not value and key_env != "OPENAI_API_KEY":
            key_env, value = "OPENAI_API_KEY", env.get("OPENAI_API_KEY", "")
        if not self.model:
            raise LLMConfigError(
                "no model configured: set [llm] model (and base_url for a local server such as "
                "Ollama) in config.toml, or QUANTAI_LLM__MODEL"
            )
        if not value and not base_url:
            raise LLMConfigError(
                f"no API key: set {self.api_key_env or 'OPENAI_API_KEY'} (or [llm] base_url for a "
                "local server that needs none)"
            )
        key = Secret(value, key_env) if value else Secret(_PLACEHOLDER_KEY, "placeholder")
        return ResolvedLLM(base_url=base_url or None, model=self.model, api_key=key)


@dataclass(frozen=True, slots=True)
class ResolvedLLM:
    base_url: str | None
    model: str
    api_key: Secret  # repr shows Secret('***')


class LLMClient:
    """One chat session's connection to the model; usage totals accumulate in `usage`."""

    def __init__(
        self,
        config: LLMConfig,
        *,
        env: Mapping[str, str] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        on_retry: Callable[[Retrying], None] | None = None,
    ) -> None:
        self.config = config
        self.resolved = config.resolve(env)
        self.usage = SessionUsage()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._on_retry = on_retry
        self._client: AsyncOpenAI | None = None

    def __repr__(self) -> str:
        return f"LLMClient(model={self.resolved.model!r}, base_url={self.resolved.base_url!r})"

    @property
    def model(self) -> str:
        return self.resolved.model

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- requests --------------------------------------------------------------------------

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        **params: Any,
    ) -> ChatResult:
        """One non-streaming chat completion (retried on transient failures)."""
        kwargs = self._request(messages, tools, tool_choice, params)
        client = await self._ready()
        resp = await self._with_retries(lambda: client.chat.completions.create(**kwargs))
        try:
            choice = resp.choices[0]
            msg = choice.message
            calls = tuple(
                ToolCall(tc.id or f"call_{i}", tc.function.name or "", tc.function.arguments or "")
                for i, tc in enumerate(msg.tool_calls or [])
                if getattr(tc, "function", None) is not None
            )
            result = ChatResult(
                content=msg.content or "",
                tool_calls=calls,
                finish_reason=choice.finish_reason,
                usage=usage_of(getattr(resp, "usage", None)),
                model=getattr(resp, "model", "") or self.model,
            )
        except (AttributeError, IndexError, TypeError) as e:
            raise LLMProtocolError(f"malformed chat completion from the server ({type(e).__name__})") from None
        self.usage.add(result.usage)
        return result

    async def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        **params: Any,
    ) -> AsyncIterator[StreamEvent]:
        """Stream a completion: TextDelta / ToolCallStarted / ToolCallDelta / Retrying events, then
        one Completed with the assembled result. Failures before the first chunk are retried; a
        failure mid-stream raises (text already shown cannot be taken back)."""
        kwargs = self._request(messages, tools, tool_choice, params)
        kwargs["stream"] = True
        if self.config.stream_usage:
            kwargs["stream_options"] = {"include_usage": True}
        client = await self._ready()
        attempt = 0
        while True:  # retried until the first chunk arrives; Retrying events show the wait
            stream = None
            try:
                stream = await client.chat.completions.create(**kwargs)
                first = await next_chunk(stream)
                break
            except Exception as e:
                if stream is not None:
                    with contextlib.suppress(Exception):
                        await stream.close()
                notice = self._retry_or_raise(e, attempt)
                attempt += 1
                yield notice
                await self._sleep(notice.delay)
        text: list[str] = []
        calls: dict[int, PartialCall] = {}
        finish: str | None = None
        usage: Usage | None = None
        model = self.model
        try:
            chunk = first
            while chunk is not None:
                model = getattr(chunk, "model", None) or model
                usage = usage_of(getattr(chunk, "usage", None)) or usage
                for choice in getattr(chunk, "choices", None) or []:
                    delta = choice.delta
                    if delta is not None and delta.content:
                        text.append(delta.content)
                        yield TextDelta(delta.content)
                    for pos, tc in enumerate((delta.tool_calls if delta is not None else None) or []):
                        for event in merge_tool_delta(calls, tc, pos):
                            yield event
                    finish = choice.finish_reason or finish
                chunk = await next_chunk(stream)
        except LLMError:
            raise
        except Exception as e:
            raise self._translate(e) from None
        finally:
            await stream.close()
        result = ChatResult(
            content="".join(text),
            tool_calls=tuple(c.done(i) for i, c in sorted(calls.items())),
            finish_reason=finish,
            usage=usage,
            model=model,
        )
        self.usage.add(usage)
        yield Completed(result)

    # -- internals -------------------------------------------------------------------------

    def _request(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]] | None,
        tool_choice: str | Mapping[str, Any] | None,
        params: dict[str, Any],
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"model": self.model, "messages": list(messages), **params}
        if tools:
            kwargs["tools"] = list(tools)
            if tool_choice is not None:
                kwargs["tool_choice"] = tool_choice
        if self.config.temperature is not None and "temperature" not in params:
            kwargs["temperature"] = self.config.temperature
        log.debug("chat request: model=%s messages=%d tools=%d", self.model, len(messages), len(tools or ()))
        return kwargs

    async def _ready(self) -> AsyncOpenAI:
        """The client, importing `openai` (1-2 s) in a thread the first time: the caller's loop (the
        engine's for an advisor, the UI's for the chat) keeps running meanwhile."""
        if self._client is None and "openai" not in sys.modules:
            with contextlib.suppress(ImportError):  # _openai says it in one line
                await asyncio.to_thread(importlib.import_module, "openai")
        return self._openai()

    def _openai(self) -> AsyncOpenAI:
        if self._client is None:
            try:
                from openai import AsyncOpenAI
            except ImportError:
                raise LLMConfigError("the 'openai' package is not installed") from None
            self._client = AsyncOpenAI(
                api_key=self.resolved.api_key.reveal(),
                base_url=self.resolved.base_url,
                timeout=self.config.timeout,
                max_retries=0,  # retries are ours: testable, logged, and they honour Retry-After
            )
        return self._client

    async def _with_retries(self, op: Callable[[], Awaitable[T]]) -> T:
        attempt = 0
        while True:
            try:
                return await op()
            except Exception as e:
                notice = self._retry_or_raise(e, attempt)
                attempt += 1
                await self._sleep(notice.delay)

    def _retry_or_raise(self, e: Exception, attempt: int) -> Retrying:
        """The notice for retry number attempt+1, or raise our error if it is not worth retrying."""
        err = self._translate(e)
        if not err.retryable or attempt >= self.config.max_retries:
            raise err from None
        retry_after = err.retry_after if isinstance(err, LLMStatusError) else None
        if isinstance(err, LLMStatusError) and retry_after is not None and retry_after > self.config.max_retry_after:
            raise type(err)(
                f"{err} (server asks to wait {retry_after:.0f}s; giving up)", status=err.status, retry_after=retry_after
            ) from None
        delay = self._delay(attempt + 1, retry_after)
        notice = Retrying(attempt + 1, self.config.max_retries, delay, str(err))
        log.warning("LLM request failed (%s); retry %d/%d in %.2fs", err, attempt + 1, self.config.max_retries, delay)
        if self._on_retry is not None:
            self._on_retry(notice)
        return notice

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter in [50%, 100%]; at least what Retry-After asks for."""
        backoff = min(self.config.backoff_max, self.config.backoff_base * 2.0 ** (attempt - 1))
        backoff *= 0.5 + 0.5 * self._rng.random()
        if retry_after is not None:
            return max(retry_after, 0.0) + 0.1 * backoff * self._rng.random()
        return backoff

    def _translate(self, e: Exception) -> LLMError:
        """An openai/httpx/json error as one of ours, with the key scrubbed from every message."""
        import json

        import openai

        where = _display_url(self.resolved.base_url)
        if isinstance(e, LLMError):
            return e
        if isinstance(e, openai.APITimeoutError):
            return LLMTimeoutError(f"timed out talking to {where}")
        if isinstance(e, openai.APIConnectionError):
            return LLMConnectionError(f"cannot reach {where}: {self._scrub(str(e.__cause__ or e))}")
        if isinstance(e, openai.APIStatusError):
            status = e.status_code
            detail = self._scrub(error_detail(e.body) or e.response.reason_phrase or "")
            retry_after = retry_after_of(e.response.headers)
            cls = LLMRateLimitError if status == 429 else LLMStatusError
            return cls(f"HTTP {status} from {where}: {detail}".rstrip(": "), status=status, retry_after=retry_after)
        if isinstance(e, openai.APIError):
            return LLMProtocolError(f"error from {where}: {self._scrub(str(e))}")
        if isinstance(e, json.JSONDecodeError):
            return LLMProtocolError(f"malformed JSON in the reply from {where}")
        if isinstance(e, (AttributeError, TypeError, KeyError)):
            return LLMProtocolError(f"unexpected reply shape from {where} ({type(e).__name__})")
        return LLMError(f"{type(e).__name__} talking to {where}: {self._scrub(str(e))}")

    def _scrub(self, text: str) -> str:
        return " ".join(redact(text, self.resolved.api_key).split())[:300]


def _display_url(url: str | None) -> str:
    """The endpoint for messages, without any user:password@ or query a proxy URL may carry."""
    if not url:
        return "api.openai.com"
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))

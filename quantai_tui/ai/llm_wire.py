"""Wire-format helpers of the LLM client: folding streamed tool-call fragments, reading usage,
error bodies and Retry-After headers. Pure functions over openai's objects (duck-typed)."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from quantai_tui.ai.llm_types import StreamEvent, ToolCall, ToolCallDelta, ToolCallStarted, Usage

__all__ = ["PartialCall", "error_detail", "merge_tool_delta", "next_chunk", "retry_after", "usage_of"]


@dataclass(slots=True)
class PartialCall:
    id: str = ""
    name: str = ""
    args: str = ""
    announced: bool = False

    def done(self, index: int) -> ToolCall:
        return ToolCall(self.id or f"call_{index}", self.name, self.args)


def merge_tool_delta(calls: dict[int, PartialCall], tc: Any, pos: int) -> list[StreamEvent]:
    """Fold one tool-call fragment into its call (keyed by `index`); events to show for it."""
    index = tc.index if getattr(tc, "index", None) is not None else pos
    call = calls.setdefault(index, PartialCall())
    events: list[StreamEvent] = []
    if getattr(tc, "id", None) and not call.id:
        call.id = tc.id
    fn = getattr(tc, "function", None)
    if fn is not None:
        if fn.name and fn.name != call.name:
            call.name += fn.name  # a name is normally sent whole, once; some servers split it
        if fn.arguments:
            call.args += fn.arguments
    if call.name and not call.announced:
        call.announced = True
        events.append(ToolCallStarted(index, call.id or f"call_{index}", call.name))
    if fn is not None and fn.arguments:
        events.append(ToolCallDelta(index, fn.arguments))
    return events


async def next_chunk(stream: Any) -> Any:
    try:
        return await stream.__anext__()
    except StopAsyncIteration:
        return None


def usage_of(u: Any) -> Usage | None:
    if u is None:
        return None
    return Usage(int(getattr(u, "prompt_tokens", 0) or 0), int(getattr(u, "completion_tokens", 0) or 0))


def error_detail(body: object) -> str:
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            return str(inner.get("message") or "")
        return str(body.get("message") or inner or "")
    return str(body or "")


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from `retry-after-ms`, or `retry-after` as seconds or an HTTP date."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())

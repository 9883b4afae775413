"""Values the LLM client returns: results, tool calls, stream events, token usage and errors.

No I/O and no openai import here, so the tool loop, the TUI bridge and tests can use them freely.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from quantai_tui.core.errors import AIError, ToolError

__all__ = [
    "ChatResult",
    "Completed",
    "LLMConfigError",
    "LLMConnectionError",
    "LLMError",
    "LLMProtocolError",
    "LLMRateLimitError",
    "LLMStatusError",
    "LLMTimeoutError",
    "Retrying",
    "SessionUsage",
    "StreamEvent",
    "TextDelta",
    "ToolArgumentsError",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallStarted",
    "Usage",
]


# -- errors: one line for the user, never the API key -----------------------------------------


class LLMError(AIError):
    """The model could not be reached or answered badly. `retryable`: worth trying again later."""

    retryable: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable


class LLMConfigError(LLMError):
    """No model configured, or the configuration is unusable."""


class LLMConnectionError(LLMError):
    retryable = True


class LLMTimeoutError(LLMConnectionError):
    pass


class LLMStatusError(LLMError):
    """The server answered with an HTTP error status."""

    def __init__(self, message: str, *, status: int, retry_after: float | None = None) -> None:
        super().__init__(message, retryable=status in (408, 409, 429) or status >= 500)
        self.status = status
        self.retry_after = retry_after


class LLMRateLimitError(LLMStatusError):
    pass


class LLMProtocolError(LLMError):
    """The reply did not follow the OpenAI chat-completions format."""


class ToolArgumentsError(ToolError):
    """A tool call's arguments are not a JSON object; goes back to the model as a tool error."""


# -- results -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(slots=True)
class SessionUsage:
    """Tokens summed over every request of one client (one chat session)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0
    requests_without_usage: int = 0  # servers that report no usage: totals are then a floor

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, usage: Usage | None) -> None:
        self.requests += 1
        if usage is None:
            self.requests_without_usage += 1
            return
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function call requested by the model; `arguments` is the raw JSON text it produced."""

    id: str
    name: str
    arguments: str

    def parse_arguments(self) -> dict[str, Any]:
        """The arguments as a dict; malformed JSON raises ToolArgumentsError (never crashes)."""
        text = self.arguments.strip() or "{}"
        try:
            value = json.loads(text)
        except json.JSONDecodeError as e:
            raise ToolArgumentsError(f"arguments of {self.name} are not valid JSON ({e.msg} at char {e.pos})") from None
        if not isinstance(value, dict):
            raise ToolArgumentsError(f"arguments of {self.name} must be a JSON object, got {type(value).__name__}")
        return value

    def to_message(self) -> dict[str, Any]:
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}


@dataclass(frozen=True, slots=True)
class ChatResult:
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str | None = None
    usage: Usage | None = None
    model: str = ""

    def assistant_message(self) -> dict[str, Any]:
        """This reply as the assistant message to append to the conversation."""
        msg: dict[str, Any] = {"role": "assistant", "content": self.content or None}
        if self.tool_calls:
            msg["tool_calls"] = [tc.to_message() for tc in self.tool_calls]
        return msg


# -- stream events ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallStarted:
    index: int
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    index: int
    arguments: str  # the next fragment of the JSON arguments


@dataclass(frozen=True, slots=True)
class Retrying:
    """The request failed and will be retried after `delay` seconds (attempt counts from 1)."""

    attempt: int
    max_retries: int
    delay: float
    reason: str


@dataclass(frozen=True, slots=True)
class Completed:
    result: ChatResult


StreamEvent = TextDelta | ToolCallStarted | ToolCallDelta | Retrying | Completed

"""Secrets (exchange keys, LLM keys) wrapped so that repr, str, logs, events and errors never
show them. Only `reveal()` gives the value, at the one place that signs or sends it."""

from __future__ import annotations

from typing import Any


class Secret:
    __slots__ = ("_value", "_source")

    def __init__(self, value: str, source: str = "") -> None:
        self._value = value
        self._source = source  # where it came from (an env var name, a file path): safe to show

    def reveal(self) -> str:
        return self._value

    @property
    def source(self) -> str:
        return self._source

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return f"Secret('***'{', from ' + self._source if self._source else ''})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")

    def __getstate__(self) -> Any:
        raise TypeError("a Secret cannot be serialised")


def redact(text: str, *secrets: Secret | str | None) -> str:
    """Replace any occurrence of the secrets' values in text (for error messages from libraries
    that echo request data)."""
    for s in secrets:
        v = s.reveal() if isinstance(s, Secret) else s
        if v and len(v) >= 4:
            text = text.replace(v, "***")
    return text

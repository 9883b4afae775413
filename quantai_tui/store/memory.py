"""An in-memory event store with the EventStore's interface, for backtests and tests.

Nothing in it ever suspends: `await store.append(...)` completes at once (an append is
"committed" the moment it is made), so a backtest can drive the engine's coroutines with a
single `send(None)`. `keep=False` keeps only the count, for replays whose memory must stay flat.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from quantai_tui.core.events import Event

CommitListener = Callable[[list[tuple[int, Event]]], Any]


class MemoryStore:
    #: an append is committed the moment it is made: the OMS writes its intents without awaiting
    commits_at_once = True

    def __init__(self, *, keep: bool = True) -> None:
        self.keep = keep
        self.events: list[tuple[int, str, Event]] = []  # (seq, topic, event)
        self._seq = 0
        self._listeners: list[CommitListener] = []
        self.is_open = False

    async def open(self) -> None:
        self.is_open = True

    async def close(self) -> None:
        self.is_open = False

    def append_nowait(self, event: Event, topic: str = "") -> int:
        self._seq += 1
        seq = self._seq
        if self.keep:
            self.events.append((seq, topic, event))
        if self._listeners:
            batch = [(seq, event)]
            for listener in self._listeners:
                listener(batch)
        return seq

    async def append(self, event: Event, durable: bool = True, topic: str = "") -> int:
        return self.append_nowait(event, topic)

    async def append_many(self, events: Iterable[Event], durable: bool = True) -> list[int]:
        return [self.append_nowait(e) for e in events]

    async def wait_durable(self, seq: int) -> None:
        return None

    async def flush(self) -> None:
        return None

    async def replay(self, from_seq: int = 0, types: Iterable[str] | None = None) -> AsyncIterator[tuple[int, Event]]:
        wanted = set(types) if types else None
        for seq, _, ev in list(self.events):
            if seq >= from_seq and (wanted is None or type(ev).__name__ in wanted):
                yield seq, ev

    def add_commit_listener(self, listener: CommitListener) -> None:
        self._listeners.append(listener)

    def remove_commit_listener(self, listener: CommitListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    @property
    def last_seq(self) -> int:
        return self._seq

    @property
    def committed_seq(self) -> int:
        return self._seq

    async def count(self) -> int:
        """Events appended (kept or not: `keep=False` keeps only this count)."""
        return self._seq

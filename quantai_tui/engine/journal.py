"""Where engine events go: appended to the store, then published on the bus.

    journal.emit(event)                     # queued for the next group commit, published now
    await journal.emit_durable(event)       # published only once committed (write-ahead)

Topics follow the events' families: orders.<venue>.<symbol>, positions.<venue>.<symbol>,
account.<venue>, risk, system, connector.<venue>. While the engine rebuilds its state from the
store (`replaying`), nothing is emitted: the events are already there.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from quantai_tui.core.errors import StoreError
from quantai_tui.core.events import BalanceUpdated, ConnectorEvent, Event, OrderEvent, PositionEvent

if TYPE_CHECKING:
    from quantai_tui.engine.bus import MessageBus
    from quantai_tui.engine.ports import EventStorePort

log = logging.getLogger("quantai.journal")


_TOPICS: dict[tuple[str, str, str], str] = {}


def topic_of(event: Event) -> str:
    if isinstance(event, (OrderEvent, PositionEvent)):
        key = (event.TOPIC, event.venue, event.symbol)  # type: ignore[attr-defined]
        t = _TOPICS.get(key)
        if t is None:
            t = ".".join(key)
            if len(_TOPICS) < 100_000:  # a bounded cache: symbols are few
                _TOPICS[key] = t
        return t
    if isinstance(event, (BalanceUpdated, ConnectorEvent)):
        return f"{event.TOPIC}.{event.venue}"
    return event.TOPIC


class Journal:
    __slots__ = ("store", "bus", "replaying", "emitted", "lost", "commits_at_once")

    def __init__(self, store: EventStorePort, bus: MessageBus) -> None:
        self.store = store
        # a store whose appends are committed the moment they are made (MemoryStore): then
        # `emit_durable_now` is emit_durable without an await
        self.commits_at_once: bool = getattr(store, "commits_at_once", False)
        self.bus = bus
        self.replaying = False
        self.emitted = 0
        self.lost = 0

    def emit(self, event: Event, topic: str | None = None) -> int:
        if self.replaying:
            return 0
        t = topic or topic_of(event)
        try:
            seq = self.store.append_nowait(event, t)
        except StoreError as exc:  # e.g. a venue report after the engine stopped: say so, loudly
            self.lost += 1
            log.error("%s not stored (%s): %s", type(event).__name__, exc, event)
            seq = 0
        self.emitted += 1
        self.bus.publish(t, event)
        return seq

    async def emit_durable(self, event: Event, topic: str | None = None) -> int:
        """Append, wait until committed, then publish."""
        if self.replaying:
            return 0
        t = topic or topic_of(event)
        seq = await self.store.append(event, True, t)
        self.emitted += 1
        self.bus.publish(t, event)
        return seq

    def emit_durable_now(self, event: Event, topic: str | None = None) -> int:
        """emit_durable for a store that `commits_at_once`: appended (committed), then published;
        a StoreError propagates as it does from emit_durable."""
        if self.replaying:
            return 0
        t = topic or topic_of(event)
        seq = self.store.append_nowait(event, t)
        self.emitted += 1
        self.bus.publish(t, event)
        return seq

    def wanted(self, topic: str) -> bool:
        """Would an event on `topic` be stored or heard? False only for a store that keeps
        nothing (a backtest's) and no subscriber: then the event need not be made at all."""
        return self.replaying or getattr(self.store, "keep", True) or self.bus.has_subscribers(topic)

    def publish_only(self, event: Event, topic: str | None = None) -> None:
        """Tell subscribers without storing (derived, high-rate views)."""
        if not self.replaying:
            self.bus.publish(topic or topic_of(event), event)

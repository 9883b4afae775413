"""Connector state events, so the UI can mark data stale. Topic: connector.<venue>."""

from __future__ import annotations

from quantai_tui.core.events.base import Event, event, ts


class ConnectorEvent(Event):
    __slots__ = ()
    TOPIC = "connector"
    venue: str


@event
class VenueConnected(ConnectorEvent):
    venue: str
    stream: str = "market"  # "market" or "user"
    ts_event: int = ts()
    ts_init: int = ts()


@event
class VenueDisconnected(ConnectorEvent):
    venue: str
    reason: str
    stream: str = "market"
    ts_event: int = ts()
    ts_init: int = ts()


@event
class VenueReconnecting(ConnectorEvent):
    venue: str
    attempt: int
    delay_s: float
    stream: str = "market"
    ts_event: int = ts()
    ts_init: int = ts()


@event
class BookResynced(ConnectorEvent):
    """The local book was discarded and rebuilt (after a gap, checksum failure or reconnect)."""

    venue: str
    symbol: str
    reason: str
    ts_event: int = ts()
    ts_init: int = ts()


@event
class ReconciliationCompleted(ConnectorEvent):
    """The engine compared its orders, fills, balances and positions with a venue's (on start
    and after a private-stream reconnect). `differences` were turned into events; `ok` is False
    when one could not be resolved (the engine then halts)."""

    venue: str
    ok: bool
    differences: int
    detail: str
    ts_event: int = ts()
    ts_init: int = ts()

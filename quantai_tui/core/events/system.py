"""Engine lifecycle, configuration and AI audit events. Topics: system, ai."""

from __future__ import annotations

from quantai_tui.core.events.base import Event, event, ts


@event
class EngineStarted(Event):
    TOPIC = "system"
    profile: str
    mode: str
    version: str
    ts_event: int = ts()
    ts_init: int = ts()


@event
class EngineStopped(Event):
    TOPIC = "system"
    reason: str
    ts_event: int = ts()
    ts_init: int = ts()


@event
class ConfigChanged(Event):
    """A setting changed at run time. Secrets are never put here (values are redacted)."""

    TOPIC = "system"
    key: str
    value: str
    ts_event: int = ts()
    ts_init: int = ts()


@event
class ToolCalled(Event):
    TOPIC = "ai"
    call_id: str
    tool: str
    arguments: str  # JSON text as the model sent it
    ts_event: int = ts()
    ts_init: int = ts()


@event
class ToolResult(Event):
    TOPIC = "ai"
    call_id: str
    tool: str
    ok: bool
    result: str  # capped in size
    ts_event: int = ts()
    ts_init: int = ts()

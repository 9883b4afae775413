"""The event base: frozen, slotted dataclasses stamped with ts_event and ts_init (ns).

    @event
    class OrderAccepted(Event):
        client_order_id: str
        venue_order_id: str
        ts_event: int = ts()
        ts_init: int = ts()

`ts()` makes the two stamps keyword-only, so events with defaulted fields still work.

Constructing a frozen dataclass costs ~1.6 us (every field goes through object.__setattr__),
too much for 1M ticks/s. `Cls.make(*fields_in_order)` builds the same frozen instance in
~0.5 us: it fills a mutable twin class with the same slots and then switches the instance's
class. Use it on hot paths; everything else calls the class normally.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, dataclass_transform

_T = TypeVar("_T")

EVENT_TYPES: dict[str, type[Event]] = {}


def ts() -> Any:
    """A timestamp field (ns since the epoch, UTC), keyword-only."""
    return dataclasses.field(kw_only=True)


class Event:
    """Base of every domain event. `TOPIC` is the first segment of the topics it is published on."""

    __slots__ = ()
    TOPIC: ClassVar[str] = "events"
    make: ClassVar[Callable[..., Any]]
    ts_event: int
    ts_init: int

    @property
    def type_name(self) -> str:
        return type(self).__name__


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def event(cls: type[_T]) -> type[_T]:
    """Make `cls` a frozen slotted dataclass, register it by name and give it a fast `make`."""
    dc = dataclasses.dataclass(frozen=True, slots=True)(cls)
    names = [f.name for f in dataclasses.fields(dc)]
    if names[-2:] != ["ts_event", "ts_init"]:
        raise TypeError(f"{dc.__name__}: the last fields must be ts_event and ts_init (use ts())")
    name = dc.__name__
    if name in EVENT_TYPES and EVENT_TYPES[name].__module__ != dc.__module__:
        raise TypeError(f"two event types named {name}")
    EVENT_TYPES[name] = dc  # type: ignore[assignment]
    dc.make = _fast_constructor(dc, names)  # type: ignore[attr-defined]
    return dc


def _fast_constructor(cls: type, names: list[str]) -> Callable[..., Any]:
    # A mutable twin with the identical slot layout; __class__ is switched once filled.
    # The same bases as the event class (e.g. OrderEvent, not just Event): otherwise the layouts
    # differ and the __class__ switch is refused.
    twin = type(f"_{cls.__name__}Builder", cls.__bases__, {"__slots__": tuple(cls.__slots__)})  # type: ignore[attr-defined]
    args = ", ".join(names)
    body = "\n".join(f"    self.{n} = {n}" for n in names)
    src = f"def __init__(self, {args}):\n{body}\n    self.__class__ = _cls\n"
    ns: dict[str, Any] = {"_cls": cls}
    exec(src, ns)  # noqa: S102 - generated from field names only
    twin.__init__ = ns["__init__"]  # type: ignore[misc]
    twin.__qualname__ = f"{cls.__qualname__}.make"
    return twin


#: `extra` for a log record that says in words what a published event says: a view that shows
#: both the engine's events and its log (the TUI's Log pane) shows the event's line only.
RESTATES_EVENT = {"restates_event": True}

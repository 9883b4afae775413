"""Events <-> stored rows. The domain knows nothing of storage; this module knows both.

A row is (type, ts_event, ts_init, payload) where payload is JSON of the other fields:
Price/Quantity/Decimal as exact strings, Money as "amount CURRENCY", enums by value, book
levels as [price, size] lists. Field codecs are compiled once per event class from its type
hints, so encoding is a flat loop.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from decimal import Decimal
from enum import Enum
from typing import Any

import orjson

from quantai_tui.core.errors import StoreError
from quantai_tui.core.events import EVENT_TYPES, Event
from quantai_tui.core.values import FixedPoint, Money

# A field codec: an expression template that encodes `{v}` to JSON-ready data (compiled into
# one function per class) and a callable that decodes it back.
Codec = tuple[str, Callable[[Any], Any]]

_ident: Callable[[Any], Any] = lambda v: v  # noqa: E731


def _field_codec(tp: Any, helpers: dict[str, Any]) -> Codec:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"unsupported union {tp}")
        enc, dec = _field_codec(args[0], helpers)
        if enc == "{v}":
            return enc, (lambda v: None if v is None else dec(v))
        return f"(None if {{v}} is None else {enc})", (lambda v: None if v is None else dec(v))
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            enc, dec = _field_codec(args[0], helpers)
            if enc == "{v}":  # tuples of plain values serialise as they are
                return "{v}", (lambda v: tuple(dec(x) for x in v))
            key = f"_enc{len(helpers)}"
            helpers[key] = eval(f"lambda x: {enc.format(v='x')}", dict(helpers))  # noqa: S307
            return f"[{key}(x) for x in {{v}}]", (lambda v: tuple(dec(x) for x in v))
        decs = [_field_codec(a, helpers)[1] for a in args]
        encs = [_field_codec(a, helpers)[0] for a in args]
        if all(e == "{v}" for e in encs):
            return "{v}", (lambda v: tuple(d(x) for d, x in zip(decs, v, strict=True)))
        raise TypeError(f"unsupported tuple field {tp}")
    if isinstance(tp, type):
        if issubclass(tp, Enum):
            return "{v}", tp  # orjson writes an enum as its value, faster than .value
        if issubclass(tp, FixedPoint):
            return "str({v})", tp
        if tp is Money:
            return "str({v})", Money.parse
        if tp is Decimal:
            return "str({v})", Decimal
        if tp is float:
            return "{v}", float  # JSON may give back an int for 1.0
        if tp in (int, str, bool):
            return "{v}", _ident
    raise TypeError(f"no codec for field type {tp!r}")


class EventCodec:
    """Encoder/decoder for one event class."""

    __slots__ = ("cls", "name", "fields", "payload")

    def __init__(self, cls: type[Event]) -> None:
        self.cls = cls
        self.name = cls.__name__
        hints = typing.get_type_hints(cls)
        helpers: dict[str, Any] = {}
        self.fields: list[tuple[str, Callable[[Any], Any]]] = []
        items = []
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name in ("ts_event", "ts_init"):
                continue
            enc, dec = _field_codec(hints[f.name], helpers)
            self.fields.append((f.name, dec))
            items.append(f"{f.name!r}: {enc.format(v='e.' + f.name)}")
        src = "def payload(e):\n    return {" + ", ".join(items) + "}\n"
        ns: dict[str, Any] = dict(helpers)
        exec(src, ns)  # noqa: S102 - generated from the dataclass's own field names
        self.payload: Callable[[Event], dict[str, Any]] = ns["payload"]

    def from_payload(self, data: dict[str, Any], ts_event: int, ts_init: int) -> Event:
        kwargs = {name: dec(data[name]) for name, dec in self.fields if name in data}
        return self.cls(**kwargs, ts_event=ts_event, ts_init=ts_init)  # type: ignore[call-arg]


_CODECS: dict[str, EventCodec] = {}


def codec_for(name: str) -> EventCodec:
    c = _CODECS.get(name)
    if c is None:
        cls = EVENT_TYPES.get(name)
        if cls is None:
            raise StoreError(f"unknown event type {name!r} in the store (written by a newer version?)")
        c = _CODECS[name] = EventCodec(cls)
    return c


def _dumps(data: Any) -> str:
    return orjson.dumps(data).decode()


def encode(event: Event) -> tuple[str, int, int, str]:
    """(type, ts_event, ts_init, payload JSON)."""
    name = type(event).__name__
    return name, event.ts_event, event.ts_init, _dumps(codec_for(name).payload(event))


def decode(type_name: str, ts_event: int, ts_init: int, payload: str) -> Event:
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise StoreError(f"unreadable payload for a {type_name} event: {exc}") from None
    return codec_for(type_name).from_payload(data, ts_event, ts_init)


def to_record(seq: int, event: Event) -> dict[str, Any]:
    """A flat, JSON-ready record: seq, type, ts (ISO-8601 UTC), ts_event, ts_init, payload."""
    from quantai_tui.core.clock import ns_to_datetime

    name = type(event).__name__
    return {
        "seq": seq,
        "type": name,
        "ts": ns_to_datetime(event.ts_event).isoformat().replace("+00:00", "Z"),
        "ts_event": event.ts_event,
        "ts_init": event.ts_init,
        "payload": codec_for(name).payload(event),
    }

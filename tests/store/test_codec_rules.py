"""The codec compiler's rules for field types no current event uses (optional plain values,
tuples of exact values) and what it refuses; rows the store cannot read name the problem."""

from __future__ import annotations

import dataclasses
import orjson
import pytest

from quantai_tui.core.enums import AggressorSide, OrderSide
from quantai_tui.core.errors import StoreError
from quantai_tui.core.events import TradeTick
from quantai_tui.core.values import Money, Price
from quantai_tui.store.codecs import EventCodec, decode, encode


# plain frozen dataclasses, not registered as events: the codec compiler takes any such class
@dataclasses.dataclass(frozen=True, slots=True)
class OptionalPlain:
    note: str | None
    side: OrderSide | None
    ratio: float | None
    ts_event: int = dataclasses.field(kw_only=True)
    ts_init: int = dataclasses.field(kw_only=True)


@dataclasses.dataclass(frozen=True, slots=True)
class ExactTuples:
    prices: tuple[Price, ...]
    fees: tuple[Money, ...]
    pair: tuple[str, int]
    ts_event: int = dataclasses.field(kw_only=True)
    ts_init: int = dataclasses.field(kw_only=True)


@dataclasses.dataclass(frozen=True, slots=True)
class TwoTypes:
    either: int | str
    ts_event: int = dataclasses.field(kw_only=True)
    ts_init: int = dataclasses.field(kw_only=True)


@dataclasses.dataclass(frozen=True, slots=True)
class MixedPair:
    pair: tuple[Price, int]
    ts_event: int = dataclasses.field(kw_only=True)
    ts_init: int = dataclasses.field(kw_only=True)


@dataclasses.dataclass(frozen=True, slots=True)
class NoCodec:
    blob: bytes
    ts_event: int = dataclasses.field(kw_only=True)
    ts_init: int = dataclasses.field(kw_only=True)


def round_trip(codec: EventCodec, ev: object) -> object:
    payload = codec.payload(ev)  # type: ignore[arg-type]
    data = orjson.loads(orjson.dumps(payload))
    return codec.from_payload(data, ev.ts_event, ev.ts_init)  # type: ignore[attr-defined]


@pytest.mark.parametrize("ev", [
    OptionalPlain("hello", OrderSide.SELL, 0.25, ts_event=1, ts_init=2),
    OptionalPlain(None, None, None, ts_event=1, ts_init=2),
])
def test_optional_plain_fields_round_trip_with_none(ev: OptionalPlain) -> None:
    codec = EventCodec(OptionalPlain)  # type: ignore[arg-type]
    assert round_trip(codec, ev) == ev


def test_tuples_of_exact_values_keep_their_precision() -> None:
    codec = EventCodec(ExactTuples)  # type: ignore[arg-type]
    ev = ExactTuples((Price("1.50"), Price("30012.125")), (Money("0.10", "USDT"),), ("a", 3), ts_event=5, ts_init=6)
    payload = codec.payload(ev)  # type: ignore[arg-type]
    assert payload["prices"] == ["1.50", "30012.125"] and payload["fees"] == ["0.10 USDT"]
    back = round_trip(codec, ev)
    assert back == ev
    assert [p.precision for p in back.prices] == [2, 3]  # type: ignore[attr-defined]


@pytest.mark.parametrize(("cls", "message"), [
    (TwoTypes, "unsupported union"),
    (MixedPair, "unsupported tuple field"),
    (NoCodec, "no codec for field type"),
])
def test_field_types_without_an_exact_encoding_are_refused(cls: type, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        EventCodec(cls)  # type: ignore[arg-type]


def test_a_row_of_an_unknown_type_or_with_a_broken_payload_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="unknown event type 'FutureEvent'.*newer version"):
        decode("FutureEvent", 1, 1, "{}")
    with pytest.raises(StoreError, match="unreadable payload for a TradeTick event"):
        decode("TradeTick", 1, 1, '{"venue": "sim", ')
    ev = TradeTick("sim", "BTC/USDT", 100.5, 2.0, AggressorSide.BUYER, "t1", ts_event=3, ts_init=4)
    assert decode(*encode(ev)) == ev  # an intact row of the same type decodes

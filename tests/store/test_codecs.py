"""Every event type survives the trip to a stored row and back, for any field values."""

from __future__ import annotations

import dataclasses
import types
import typing
from decimal import Decimal
from enum import Enum
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantai_tui.core.events import EVENT_TYPES
from quantai_tui.core.values import Money, Price, Quantity
from quantai_tui.store.codecs import decode, encode, to_record

int64 = st.integers(min_value=0, max_value=2**62)
finite = st.floats(allow_nan=False, allow_infinity=False)


def strategy_for(tp: Any) -> st.SearchStrategy[Any]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return st.none() | strategy_for(args[0])
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(strategy_for(args[0]), max_size=5).map(tuple)
        return st.tuples(*(strategy_for(a) for a in args))
    if isinstance(tp, type) and issubclass(tp, Enum):
        return st.sampled_from(list(tp))
    if tp is Price:
        return st.builds(Price.from_raw, st.integers(-(10**18), 10**18), st.integers(0, 12))
    if tp is Quantity:
        return st.builds(Quantity.from_raw, st.integers(0, 10**18), st.integers(0, 12))
    if tp is Money:
        return st.builds(lambda r, p, c: Money.of(Price.from_raw(r, p), c), st.integers(-(10**15), 10**15),
                         st.integers(0, 8), st.sampled_from(["USDT", "BTC", "USD"]))
    if tp is Decimal:
        return st.decimals(allow_nan=False, allow_infinity=False, places=8, min_value=-(10**12), max_value=10**12)
    if tp is float:
        return finite
    if tp is int:
        return int64
    if tp is bool:
        return st.booleans()
    if tp is str:
        return st.text(max_size=20)
    raise TypeError(tp)


def event_strategy(cls: type) -> st.SearchStrategy[Any]:
    hints = typing.get_type_hints(cls)
    fields = {f.name: strategy_for(hints[f.name]) for f in dataclasses.fields(cls)}
    fields["ts_event"] = int64
    fields["ts_init"] = int64
    return st.fixed_dictionaries(fields).map(lambda kw: cls(**kw))


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
def test_round_trip(name: str) -> None:
    cls = EVENT_TYPES[name]

    @settings(max_examples=60, deadline=None)
    @given(event_strategy(cls))
    def check(ev: Any) -> None:
        row = encode(ev)
        back = decode(*row)
        assert back == ev
        assert type(back) is cls
        # exact values keep their precision, not just their value
        for f in dataclasses.fields(cls):
            v = getattr(ev, f.name)
            if isinstance(v, (Price, Quantity)):
                assert getattr(back, f.name).precision == v.precision
        record = to_record(7, ev)
        assert record["seq"] == 7 and record["type"] == name and record["ts"].endswith("Z")

    check()

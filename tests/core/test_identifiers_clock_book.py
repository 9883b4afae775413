from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantai_tui.core.book import OrderBook
from quantai_tui.core.clock import TestClock, TimeEvent, utc_day_start_ns
from quantai_tui.core.enums import AggressorSide
from quantai_tui.core.errors import ValidationError
from quantai_tui.core.events import OrderBookDeltas, TradeTick
from quantai_tui.core.identifiers import ClientOrderIdGenerator, check_client_order_id, display_id


def test_client_order_ids_are_unique_safe_and_deterministic() -> None:
    g = ClientOrderIdGenerator("qa", tag="x1")
    ids = [g.next(1_700_000_000_000_000_000 + (i // 3)) for i in range(3000)]
    assert len(set(ids)) == len(ids)
    for coid in ids:
        check_client_order_id(coid)
        assert len(coid) <= 32 and coid.isalnum()
    g2 = ClientOrderIdGenerator("qa", tag="x1")
    assert [g2.next(1_700_000_000_000_000_000 + (i // 3)) for i in range(3000)] == ids


def test_display_ids_tell_one_process_s_orders_apart() -> None:
    gen = ClientOrderIdGenerator("qa", tag="wz")
    t0 = 1_795_871_105_271_390_867
    spaced = [gen.next(t0 + k * 1_000_000) for k in range(2000)]  # one a millisecond
    burst = [gen.next(t0 + 5_000_000_000) for _ in range(36)]  # many in the same nanosecond
    shown = [display_id(c) for c in spaced + burst]
    assert len(set(shown)) == len(shown) and all(len(s) == 6 for s in shown)
    assert display_id("my-own-order-17") == "der-17" and display_id("abc") == "abc"  # other ids: the tail


def test_bad_client_order_ids_are_refused() -> None:
    for bad in ("", "a" * 33, "has space", "dash-ed"):
        with pytest.raises(ValidationError):
            check_client_order_id(bad)


def test_test_clock_fires_timers_in_time_order() -> None:
    clock = TestClock(0)
    fired: list[TimeEvent] = []
    clock.set_timer("every10", 10, fired.append)
    clock.set_alert("at25", 25, fired.append)
    clock.advance_to(35)
    assert [(e.name, e.ts_event) for e in fired] == [("every10", 10), ("every10", 20), ("at25", 25), ("every10", 30)]
    assert clock.timestamp_ns() == 35
    clock.cancel_timer("every10")
    clock.advance_to(100)
    assert len(fired) == 4
    with pytest.raises(ValidationError):
        clock.advance_to(50)


def test_utc_day_start() -> None:
    assert utc_day_start_ns(86_400 * 10**9 + 5) == 86_400 * 10**9


def test_events_are_frozen_and_make_builds_the_same_object() -> None:
    a = TradeTick("sim", "BTC/USDT", 1.0, 2.0, AggressorSide.BUYER, "t", ts_event=1, ts_init=2)
    b = TradeTick.make("sim", "BTC/USDT", 1.0, 2.0, AggressorSide.BUYER, "t", 1, 2)
    assert a == b and type(b) is TradeTick
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.price = 3.0  # type: ignore[misc]
    assert not hasattr(b, "__dict__")  # slotted


levels = st.lists(st.tuples(st.integers(1, 50).map(float), st.sampled_from([0.0, 1.0, 2.5])), max_size=30)


@given(st.lists(st.tuples(levels, levels), max_size=20))
def test_book_equals_a_plain_dict_model(updates: list) -> None:
    book = OrderBook("sim", "X")
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    for b, a in updates:
        book.apply(OrderBookDeltas("sim", "X", tuple(b), tuple(a), False, 0, ts_event=0, ts_init=0))
        for p, s in b:
            bids.pop(p, None) if s == 0 else bids.__setitem__(p, s)
        for p, s in a:
            asks.pop(p, None) if s == 0 else asks.__setitem__(p, s)
    assert book.bids.levels() == sorted(bids.items(), reverse=True)
    assert book.asks.levels() == sorted(asks.items())
    assert book.best_bid() == (max(bids.items()) if bids else None)


def test_snapshot_replaces_the_book() -> None:
    book = OrderBook("sim", "X")
    book.apply(OrderBookDeltas("sim", "X", ((10.0, 1.0),), ((11.0, 1.0),), True, 1, ts_event=0, ts_init=0))
    book.apply(OrderBookDeltas("sim", "X", ((9.0, 2.0),), ((12.0, 3.0),), True, 2, ts_event=0, ts_init=0))
    assert book.bids.levels() == [(9.0, 2.0)] and book.asks.levels() == [(12.0, 3.0)]
    assert book.mid() == 10.5 and book.spread() == 3.0 and not book.is_crossed()
    assert book.snapshot().bids == ((9.0, 2.0),)

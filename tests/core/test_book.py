"""The L2 book's single-level edits, one-sided and empty books (no mid, no spread), a crossed
book, snapshots that repeat or zero a price, depth-limited snapshots and clearing."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from quantai_tui.core.book import BookSide, OrderBook
from quantai_tui.core.events import OrderBookDeltas


def deltas(bids: tuple, asks: tuple, snapshot: bool = False, seq: int = 1, ts: int = 5) -> OrderBookDeltas:
    return OrderBookDeltas("sim", "X", bids, asks, snapshot, seq, ts_event=ts, ts_init=ts + 1)


@given(st.lists(st.tuples(st.integers(1, 30).map(float), st.sampled_from([0.0, -1.0, 1.0, 2.5])), max_size=60),
       st.booleans())
def test_set_edits_one_level_like_a_dict(edits: list[tuple[float, float]], is_bid: bool) -> None:
    side = BookSide(is_bid)
    model: dict[float, float] = {}
    for price, size in edits:
        side.set(price, size)
        if size <= 0:
            model.pop(price, None)  # zero or negative: the level is gone (or was never there)
        else:
            model[price] = size
    assert side.levels() == sorted(model.items(), reverse=is_bid)
    assert len(side) == len(model)
    for price in range(1, 31):
        assert side.size_at(float(price)) == model.get(float(price), 0.0)


def test_an_empty_or_one_sided_book_has_no_mid_or_spread() -> None:
    book = OrderBook("sim", "X")
    assert book.best_bid() is None and book.best_ask() is None
    assert book.mid() is None and book.spread() is None and not book.is_crossed()
    book.apply(deltas(((10.0, 1.0),), ()))
    assert book.best_bid() == (10.0, 1.0) and book.best_ask() is None
    assert book.mid() is None and book.spread() is None and not book.is_crossed()


def test_a_crossed_book_is_recognised() -> None:
    book = OrderBook("sim", "X")
    book.apply(deltas(((10.0, 1.0),), ((10.0, 2.0),)))
    assert book.is_crossed() and book.spread() == 0.0
    book.asks.set(9.5, 1.0)
    assert book.best_ask() == (9.5, 1.0) and book.is_crossed() and book.spread() == -0.5


def test_a_snapshot_that_repeats_or_zeroes_a_price_ends_as_its_last_entry_says() -> None:
    book = OrderBook("sim", "X")
    book.apply(deltas(((10.0, 1.0), (10.0, 3.0), (9.0, 2.0), (9.0, 0.0)), ((11.0, 1.0), (12.0, 0.0)), snapshot=True,
                      seq=7))
    assert book.bids.levels() == [(10.0, 3.0)] and book.asks.levels() == [(11.0, 1.0)]
    assert book.sequence == 7 and book.ts_event == 5 and book.ts_init == 6


def test_depth_limited_snapshot_as_dict_and_clear() -> None:
    book = OrderBook("sim", "X")
    book.apply(deltas(tuple((100.0 - i, 1.0 + i) for i in range(5)), tuple((101.0 + i, 1.0) for i in range(3)),
                      snapshot=True, seq=3))
    snap = book.snapshot(depth=2)
    assert snap.is_snapshot and snap.sequence == 3 and snap.venue == "sim" and snap.symbol == "X"
    assert snap.bids == ((100.0, 1.0), (99.0, 2.0)) and snap.asks == ((101.0, 1.0), (102.0, 1.0))
    full = book.snapshot()
    assert len(full.bids) == 5 and len(full.asks) == 3
    assert book.as_dict() == {"bids": {100.0 - i: 1.0 + i for i in range(5)}, "asks": {101.0 + i: 1.0 for i in range(3)}}
    rebuilt = OrderBook("sim", "X")
    rebuilt.apply(full)
    assert rebuilt.as_dict() == book.as_dict()
    book.clear()
    assert book.as_dict() == {"bids": {}, "asks": {}} and book.sequence == 0 and book.mid() is None
    book.apply(deltas(((1.0, 1.0),), ((2.0, 1.0),)))  # usable again after a clear
    assert book.mid() == 1.5

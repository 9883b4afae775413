"""The venues' book rules as pure state machines, case by case (no sockets)."""

from __future__ import annotations

from quantai_tui.connectors.binance.book_sync import APPLY, BUFFER, DROP, GAP, FuturesDepthSync, SpotDepthSync
from quantai_tui.connectors.bybit.book_sync import BybitBookSync
from quantai_tui.connectors.okx import book_sync as okx
from quantai_tui.core.book import OrderBook
from quantai_tui.core.events import OrderBookDeltas


def test_binance_spot_buffers_until_the_snapshot_then_drops_straddles_and_chains() -> None:
    s = SpotDepthSync()
    assert s.on_diff(95, 99) == BUFFER
    s.on_snapshot(100)
    assert s.on_diff(95, 100) == DROP  # u <= lastUpdateId: already in the snapshot
    assert s.on_diff(99, 103) == APPLY  # straddles lastUpdateId + 1
    assert s.on_diff(104, 104) == APPLY  # U == previous u + 1
    assert s.on_diff(104, 104) == DROP  # a duplicate (second connection of a rotation)
    assert s.on_diff(106, 107) == GAP  # 105 is missing


def test_binance_spot_snapshot_older_than_the_stream_is_a_gap() -> None:
    s = SpotDepthSync()
    s.on_snapshot(100)
    assert s.on_diff(102, 110) == GAP  # 101 was never seen: fetch a newer snapshot


def test_binance_usdm_chains_by_pu() -> None:
    s = FuturesDepthSync()
    assert s.on_diff(90, 95, 80) == BUFFER
    s.on_snapshot(100)
    assert s.on_diff(90, 95, 80) == DROP  # u < lastUpdateId
    assert s.on_diff(96, 104, 95) == APPLY  # U <= lastUpdateId <= u
    assert s.on_diff(110, 120, 104) == APPLY  # pu == previous u (ids jump)
    assert s.on_diff(130, 140, 125) == GAP  # pu != previous u
    s.on_snapshot(200)
    assert s.on_diff(205, 210, 199) == GAP  # the first diff must straddle the snapshot's id


def test_bybit_u_continuity_snapshot_replaces_and_u1() -> None:
    b = BybitBookSync()
    assert b.on_delta(5) == DROP  # nothing before the first snapshot
    b.on_snapshot(10)
    assert b.on_delta(11) == APPLY
    assert b.on_delta(11) == DROP
    assert b.on_delta(13) == GAP
    b.on_snapshot(1)  # u == 1: the service restarted, the book is overwritten
    assert b.on_delta(2) == APPLY


def _book(bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> tuple[OrderBook, okx.OkxBookSync]:
    book = OrderBook("okx", "BTC/USDT")
    fb = tuple((float(p), float(s)) for p, s in bids)
    fa = tuple((float(p), float(s)) for p, s in asks)
    book.apply(OrderBookDeltas("okx", "BTC/USDT", fb, fa, True, 0, ts_event=0, ts_init=0))
    sync = okx.OkxBookSync()
    sync.on_snapshot(None, 1)
    sync.keep_levels([list(x) for x in bids], [list(x) for x in asks], fb, fa)
    return book, sync


def test_okx_checksum_matches_okx_documented_example() -> None:
    # OKX docs' example: bids 3366.1:7, 3366:6; asks 3366.8:9, 3368:8 -> "3366.1:7:3366.8:9:3366:6:3368:8"
    from zlib import crc32

    book, sync = _book([("3366.1", "7"), ("3366", "6")], [("3366.8", "9"), ("3368", "8")])
    assert sync.checksum(book) == okx.signed32(crc32(b"3366.1:7:3366.8:9:3366:6:3368:8"))
    assert okx.signed32(0xFFFFFFFF) == -1


def test_okx_seq_chain_keepalive_and_reset() -> None:
    s = okx.OkxBookSync()
    assert s.on_update(5, 4) == okx.DROP  # waiting for the snapshot
    s.on_snapshot(100, 0)
    assert s.on_update(107, 100) == okx.APPLY  # ids jump
    assert s.on_update(107, 107) == okx.APPLY  # keep-alive: seqId == prevSeqId, no levels
    assert s.on_update(3, 107) == okx.APPLY  # maintenance reset: lower seqId, but the chain holds
    assert s.on_update(10, 4) == okx.GAP
    s.on_snapshot(None, 1)
    assert s.on_update(None, None) == okx.APPLY  # no ids on this feed: the checksum decides

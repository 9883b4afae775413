"""Venue rules the shared suite does not cover, over real sockets: Binance's make-before-break
rotation, stale and slow REST snapshots; OKX checksum failures; Bybit's u == 1 overwrite."""

from __future__ import annotations

import asyncio
import json

import pytest

from quantai_tui.core.events import BookResynced, TradeTick, VenueDisconnected
from tests.connectors.cases import BinanceSpotCase, BinanceUsdmCase, BybitCase, OkxCase
from tests.connectors.harness import barrier_number, fast_options, running
from tests.exchange_server import data_available

pytestmark = pytest.mark.skipif(not data_available(), reason="../shared/data/exchanges is not available")


async def test_binance_rotates_connections_make_before_break_without_a_gap() -> None:
    case = BinanceUsdmCase()
    options = fast_options(max_connection_age_s=0.25, rotation_overlap_s=0.1)
    async with running(case, options=options) as sc:
        await case.initial_sync(sc)
        while sc.venue.remaining:  # the market keeps flowing while connections rotate
            await sc.venue.release(8)
            await asyncio.sleep(0.01)
            if sc.client.stats()["rotations"] < 3:
                await sc.wait(lambda: sc.client.stats()["rotations"] >= 1, "the first rotation")
        await sc.wait(lambda: sc.client.stats()["rotations"] >= 2, "two rotations")
        await sc.caught_up(barrier=False)
        sc.assert_book_matches()
        stats = sc.client.stats()
        assert stats["gaps"] == 0 and stats["resyncs"] == 0 and stats["reconnects"] == 0
        assert sc.rec.of(VenueDisconnected) == [] and sc.rec.of(BookResynced) == []
        assert sc.server.max_concurrent >= 2  # the new connection opened before the old one closed
        trades = [(t.price, t.size, t.aggressor, t.trade_id, t.ts_event) for t in sc.rec.of(TradeTick)
                  if barrier_number(t.trade_id) is None]
        assert trades == case.captured_trades(sc.venue)  # no trade lost or doubled by the overlap


async def test_binance_refetches_a_snapshot_older_than_the_buffered_diffs() -> None:
    case = BinanceSpotCase()
    async with running(case) as sc:
        await case.initial_sync(sc)
        await sc.venue.release(20, symbol=case.native)
        hits = sc.server.hits["/api/v3/depth"]
        sc.server.faults.stale_snapshots = 2  # the next two snapshots are the oldest book
        sc.server.faults.skip_book_updates[case.native] = 1
        await sc.venue.release(20, symbol=case.native)
        await sc.wait(lambda: sc.client.stats()["resyncs"] >= 1, "the resync")
        await sc.venue.release_all()
        await sc.caught_up()
        sc.assert_book_matches()
        assert sc.server.hits["/api/v3/depth"] >= hits + 3  # two stale answers, then a usable one


async def test_binance_bridges_diffs_that_arrive_while_a_slow_snapshot_is_on_its_way() -> None:
    case = BinanceSpotCase()
    async with running(case) as sc:
        await sc.subscribed()
        sc.server.faults.rest_delay_s = 0.3
        await sc.venue.release(sc.venue.items_before_snapshot(case.native))
        await sc.wait(lambda: sc.server.hits["/api/v3/depth"] >= 1, "the snapshot request")
        await sc.venue.release(30, symbol=case.native)  # while the request is pending
        await sc.wait(lambda: sc.client.is_synced(case.symbol), "the slow snapshot")
        events = sc.book_events()
        assert events[0].is_snapshot and len(events) > 1  # buffered diffs bridged right after it
        await sc.venue.release_all()
        await sc.caught_up()
        sc.assert_book_matches()


async def test_okx_checksum_mismatch_resubscribes_and_recovers() -> None:
    case = OkxCase()
    async with running(case) as sc:
        await case.initial_sync(sc)
        await sc.venue.release(10, symbol=case.native)
        await sc.caught_up()
        # the next update, as sent, with a wrong checksum
        item = next(i for i in sc.venue.items[sc.venue.cursor :] if i.kind == "book" and i.symbol == case.native)
        bad = json.loads(item.text)
        bad["data"][0]["checksum"] += 1
        item.text = json.dumps(bad)
        await sc.venue.release_all()
        await sc.wait(lambda: sc.client.stats()["resyncs"] >= 1, "the resync")
        await sc.caught_up()
        sc.assert_book_matches()
        (ev,) = sc.rec.of(BookResynced)
        assert "checksum" in ev.reason
        sub = [json.loads(m) for s in sc.server.sessions for m in s.received if m.startswith("{")]
        assert any(m["op"] == "unsubscribe" and m["args"][0]["channel"] == "books" for m in sub)


async def test_bybit_u1_overwrites_the_book_and_the_next_break_resubscribes() -> None:
    case = BybitCase()
    async with running(case) as sc:
        await case.initial_sync(sc)
        await sc.venue.release(10, symbol=case.native)
        await sc.caught_up()
        restart = {"topic": f"orderbook.500.{case.native}", "type": "delta", "ts": 1733011300000,
                   "data": {"s": case.native, "b": [["1.5", "10"]], "a": [["1.6", "20"]], "u": 1, "seq": 1}}
        await sc.server.broadcast_raw([json.dumps(restart)], channel=case.book_channel())
        await sc.wait(lambda: sc.client.book(case.symbol).sequence == 1, "the u == 1 overwrite")
        assert sc.book() == {"bids": {1.5: 10.0}, "asks": {1.6: 20.0}}
        await sc.venue.release_all()  # u continues from the old stream: not u + 1 -> resubscribe
        await sc.caught_up()
        sc.assert_book_matches()
        assert sc.client.stats()["gaps"] == 1


async def test_binance_waits_as_told_when_a_snapshot_is_rate_limited() -> None:
    """HTTP 429 with Retry-After on the REST snapshot: the next request comes no sooner than that
    (asking again at once is how an IP gets banned, 418); then the book syncs as usual."""
    case = BinanceSpotCase()
    async with running(case) as sc:
        sc.server.faults.throttle_snapshots = [1.0]
        await sc.subscribed()
        await sc.venue.release(sc.venue.items_before_snapshot(case.native))
        await sc.wait(lambda: sc.client.is_synced(case.symbol), "the book after the rate limit")
        times = sc.server.hit_times["/api/v3/depth"]
        assert len(times) >= 2 and times[1] - times[0] >= 1.0  # the 429, then no sooner than Retry-After
        await sc.venue.release_all()
        await sc.caught_up()
        sc.assert_book_matches()


async def test_binance_usdm_market_data_is_routed_public_and_market() -> None:
    """Since 2026-04-23 Binance serves USD-M depth and bookTicker on /public and trades and
    klines on /market only (the local server delivers nothing on a wrong route): the client
    keeps one connection per route and gets everything."""
    case = BinanceUsdmCase()
    async with running(case) as sc:
        await case.initial_sync(sc)
        await sc.venue.release_all()
        await sc.caught_up()
        sc.assert_book_matches()
        routes = {s.path: {ch.split("@", 1)[1] for ch in s.subscriptions} for s in sc.server.sessions}
        assert set(routes) == {"/public/stream", "/market/stream"}
        assert routes["/public/stream"] == {"depth@100ms", "bookTicker"}
        assert routes["/market/stream"] <= {"aggTrade", "kline_1m"} and "aggTrade" in routes["/market/stream"]
        trades = [(t.price, t.size, t.aggressor, t.trade_id, t.ts_event) for t in sc.rec.of(TradeTick)
                  if barrier_number(t.trade_id) is None]
        assert trades == case.captured_trades(sc.venue)
        assert sc.client.stats()["streams"] == 2

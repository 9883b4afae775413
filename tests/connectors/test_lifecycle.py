"""Connector lifecycle over real sockets: state and its events, backoff while the venue refuses
connections, subscribing while connected, named tasks, and a clean stop."""

from __future__ import annotations

import asyncio

import pytest

from quantai_tui.core.enums import ConnectionState
from quantai_tui.core.events import VenueConnected, VenueReconnecting
from tests.connectors import reference
from tests.connectors.cases import BinanceSpotCase, BybitCase
from tests.connectors.harness import fast_options, running
from tests.exchange_server import data_available

pytestmark = pytest.mark.skipif(not data_available(), reason="../shared/data/exchanges is not available")


async def test_state_events_named_tasks_and_a_clean_stop() -> None:
    case = BybitCase()
    async with running(case) as sc:
        await case.initial_sync(sc)
        assert sc.client.state is ConnectionState.CONNECTED
        (connected,) = sc.rec.of(VenueConnected)
        assert connected.venue == "bybit" and sc.rec.topics("connector.") == ["connector.bybit"]
        names = {t.get_name() for t in sc.client._tasks}
        assert names >= {"bybit:ws:bybit/linear", "bybit:heartbeat:bybit/linear"}
        await sc.server.drop_connections()
        await sc.wait(lambda: sc.client.state is not ConnectionState.CONNECTED, "the drop to be seen")
        await sc.wait(lambda: sc.client.state is ConnectionState.CONNECTED, "the reconnect")
        client = sc.client
    assert client.state is ConnectionState.DISCONNECTED
    assert client._tasks == set()  # stop() awaited every task it started


async def test_backoff_while_the_venue_refuses_connections() -> None:
    case = BybitCase()
    async with running(case, options=fast_options(backoff_initial_s=0.02, backoff_max_s=0.1)) as sc:
        await case.initial_sync(sc)
        sc.server.faults.refuse_connections = 4
        await sc.server.drop_connections()
        await sc.wait(lambda: sc.client.is_synced(case.symbol) and sc.client.stats()["reconnects"] >= 1, "recovery")
        attempts = [e.attempt for e in sc.rec.of(VenueReconnecting)]
        assert attempts == [1, 2, 3, 4, 5]  # each refusal makes the next wait longer
        caps = [min(0.1, 0.02 * 2 ** (a - 1)) for a in attempts]
        assert all(0.0 <= e.delay_s <= cap for e, cap in zip(sc.rec.of(VenueReconnecting), caps, strict=True))
        assert sc.client.stats()["connect_failures"] == 4


async def test_a_symbol_subscribed_while_connected_gets_its_own_synced_book() -> None:
    case = BinanceSpotCase()
    async with running(case) as sc:
        await case.initial_sync(sc)
        await sc.venue.release(30)
        await sc.client.subscribe("RUNE/EUR", ["book"])
        await sc.venue.release_all()
        await sc.wait(lambda: sc.client.is_synced("RUNE/EUR"), "RUNE/EUR's snapshot")
        await sc.caught_up()
        sc.assert_book_matches()
        rune = sc.client.book("RUNE/EUR")
        await sc.wait(lambda: rune.sequence == sc.venue.truth["RUNEEUR"].seq, "RUNE/EUR's last diff")
        assert reference.book_dict(rune) == reference.binance("spot", "RUNEEUR")
        await asyncio.sleep(0)

"""The sim MarketDataClient: paces SimMarket by the injected clock, publishes exactly its
events on the bus, keeps the loop responsive at 10,000 messages/s."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from quantai_tui.connectors.sim import SimMarket, SimMarketDataClient
from quantai_tui.core.clock import TestClock
from quantai_tui.core.enums import ConnectionState
from quantai_tui.core.events import Event, VenueConnected, VenueDisconnected
from quantai_tui.engine.bus import MessageBus
from quantai_tui.engine.ports import MarketDataClient

T0 = 1_780_000_000_000_000_000
SECOND = 1_000_000_000


async def _until(cond: Callable[[], bool], limit_s: float = 20.0) -> None:
    """Wait for a condition (the limit only turns a hang into a failure)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not cond():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.001)


async def test_publishes_exactly_the_generators_events_up_to_the_clock() -> None:
    bus = MessageBus()
    seen: list[Event] = []
    bus.subscribe(">", seen.append)
    clock = TestClock(T0)
    client = SimMarketDataClient(bus.publish, clock, seed=5, rate=1000, start_ns=T0, interval_s=0.001)
    assert isinstance(client, MarketDataClient)
    await client.start()
    assert client.state is ConnectionState.CONNECTED
    await client.subscribe("BTC/USDT", ["trades", "book"])
    expected = [ev for topic, ev in SimMarket(5, ["BTC/USDT"], rate=1000, start_ns=T0).generate_until(T0 + SECOND)
                if topic.split(".")[0] in ("trades", "book")]
    clock.advance_to(T0 + SECOND)
    await _until(lambda: client.published >= len(expected))
    await asyncio.sleep(0.01)  # nothing more comes while the clock stands still
    await client.stop()
    market = [ev for ev in seen if ev.TOPIC in ("trades", "book")]
    assert market == expected
    assert all(ev.ts_init <= T0 + SECOND for ev in market)
    assert isinstance(seen[0], VenueConnected) and isinstance(seen[-1], VenueDisconnected)
    assert client.state is ConnectionState.DISCONNECTED
    book = client.book("BTC/USDT")
    assert book is not None and not book.is_crossed() and book.sequence > 0
    assert client.book("ETH/USDT") is None
    stats = client.stats()
    assert stats["published"] == len(expected) and stats["quotes"] == 0


async def test_ten_thousand_messages_a_second_in_small_batches() -> None:
    """At 10,000 messages/s the client publishes in batches of at most max_batch between two
    turns of any other task: the event loop is never held for long."""
    bus = MessageBus()
    counter = [0]
    bus.subscribe(">", lambda ev: counter.__setitem__(0, counter[0] + 1))
    clock = TestClock(T0)
    client = SimMarketDataClient(bus.publish, clock, seed=1, rate=10_000, start_ns=T0, max_batch=200)
    await client.start()
    await client.subscribe("BTC/USDT")
    clock.advance_to(T0 + SECOND)  # 10,000 messages are due at once
    expected = len(SimMarket(1, ["BTC/USDT"], rate=10_000, start_ns=T0).generate_until(T0 + SECOND))
    assert expected > 15_000
    largest = 0
    last = counter[0]
    while client.published < expected:
        await asyncio.sleep(0)
        largest = max(largest, counter[0] - last)
        last = counter[0]
    await client.stop()
    assert largest <= 200


async def test_unknown_kind_and_symbol_are_refused() -> None:
    client = SimMarketDataClient(lambda t, e: None, TestClock(T0))
    with pytest.raises(ValueError, match="unknown market data kinds"):
        await client.subscribe("BTC/USDT", ["candles"])
    from quantai_tui.core.errors import SymbolError

    with pytest.raises(SymbolError):
        await client.subscribe("DOGE/USDT")
    instruments = await client.load_instruments()
    assert str(instruments["BTC/USDT"].tick_size) == "0.01" and str(instruments["ETH/USDT"].lot_size) == "0.0001"

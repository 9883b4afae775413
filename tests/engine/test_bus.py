from __future__ import annotations

import asyncio
import logging

import pytest

from quantai_tui.core.enums import AggressorSide
from quantai_tui.core.events import OrderBookDeltas, TradeTick
from quantai_tui.engine.bus import MessageBus, topic_matches


def tick(i: int, symbol: str = "BTC/USDT") -> TradeTick:
    return TradeTick("sim", symbol, float(i), 1.0, AggressorSide.BUYER, str(i), ts_event=i, ts_init=i)


@pytest.mark.parametrize(
    ("pattern", "topic", "match"),
    [
        ("trades.sim.BTC/USDT", "trades.sim.BTC/USDT", True),
        ("trades.*.BTC/USDT", "trades.binance.BTC/USDT", True),
        ("trades.*", "trades.sim.BTC/USDT", False),
        ("trades.>", "trades.sim.BTC/USDT", True),
        ("trades.>", "trades", False),
        (">", "risk", True),
        ("orders.sim.*", "orders.sim.ETH/USDT", True),
        ("orders.sim.*", "orders.okx.ETH/USDT", False),
        ("risk", "risk.extra", False),
    ],
)
def test_topic_patterns(pattern: str, topic: str, match: bool) -> None:
    assert topic_matches(pattern, topic) is match


def test_sync_dispatch_in_order_with_priorities() -> None:
    bus = MessageBus()
    calls: list[tuple[str, int]] = []
    bus.subscribe("trades.>", lambda m: calls.append(("late", m.trade_id)), priority=0)
    bus.subscribe("trades.sim.*", lambda m: calls.append(("first", m.trade_id)), priority=10)
    for i in range(3):
        bus.publish("trades.sim.BTC/USDT", tick(i))
    assert calls == [("first", "0"), ("late", "0"), ("first", "1"), ("late", "1"), ("first", "2"), ("late", "2")]


def test_type_filter() -> None:
    bus = MessageBus()
    got: list[object] = []
    bus.subscribe("book.>", got.append, types=OrderBookDeltas)
    bus.publish("book.sim.X", tick(1))
    d = OrderBookDeltas("sim", "X", (), (), True, 1, ts_event=0, ts_init=0)
    bus.publish("book.sim.X", d)
    assert got == [d]


def test_a_failing_handler_is_isolated_logged_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    bus = MessageBus()
    got: list[int] = []

    def broken(m: TradeTick) -> None:
        raise RuntimeError("boom")

    bus.subscribe("trades.>", broken, name="broken")
    bus.subscribe("trades.>", lambda m: got.append(int(m.trade_id)))
    with caplog.at_level(logging.ERROR, logger="quantai.bus"):
        for i in range(5):
            bus.publish("trades.sim.BTC/USDT", tick(i))
    assert got == [0, 1, 2, 3, 4]
    assert bus.handler_errors["broken"] == 5
    assert "broken" in caplog.text and "boom" in caplog.text


def test_unsubscribe_and_subscribe_after_publish() -> None:
    bus = MessageBus()
    got: list[int] = []
    sub = bus.subscribe("trades.>", lambda m: got.append(1))
    bus.publish("trades.sim.X", tick(1))
    bus.subscribe("trades.sim.X", lambda m: got.append(2))  # cache must be invalidated
    bus.publish("trades.sim.X", tick(2))
    bus.unsubscribe(sub)
    bus.publish("trades.sim.X", tick(3))
    assert got == [1, 1, 2, 2]


async def test_async_subscriber_preserves_order_per_topic() -> None:
    bus = MessageBus()
    got: list[tuple[str, int]] = []
    sub = bus.subscribe_async("trades.>", lambda m: got.append((m.symbol, int(m.trade_id))))
    sub.start()
    for i in range(1000):
        bus.publish("trades.sim.BTC/USDT", tick(i, "BTC/USDT"))
        bus.publish("trades.sim.ETH/USDT", tick(i, "ETH/USDT"))
    await sub.drain()
    assert [i for s, i in got if s == "BTC/USDT"] == list(range(1000))
    assert [i for s, i in got if s == "ETH/USDT"] == list(range(1000))
    await bus.close()


async def test_publish_never_waits_for_a_slow_async_consumer() -> None:
    bus = MessageBus()
    release = asyncio.Event()
    seen: list[int] = []

    async def slow(m: TradeTick) -> None:
        await release.wait()
        seen.append(int(m.trade_id))

    sub = bus.subscribe_async("trades.>", slow, maxsize=100)
    sub.start()
    await asyncio.sleep(0)
    for i in range(1000):  # returns at once although the consumer is stuck
        bus.publish("trades.sim.X", tick(i))
    assert sub.pending <= 100
    assert sub.dropped >= 899  # bounded: the oldest were dropped and counted
    release.set()
    await sub.drain()
    assert seen[-1] == 999 and seen == sorted(seen)
    await bus.close()


async def test_coalescing_subscriber_gets_the_latest_per_topic() -> None:
    bus = MessageBus()
    frames: list[list[int]] = []
    batch: list[int] = []

    def draw(m: TradeTick) -> None:
        batch.append(int(m.trade_id))

    sub = bus.subscribe_async("trades.>", draw, coalesce=True)
    sub.start()
    for i in range(500):
        bus.publish("trades.sim.BTC/USDT", tick(i, "BTC/USDT"))
        bus.publish("trades.sim.ETH/USDT", tick(1000 + i, "ETH/USDT"))
    await sub.drain()
    frames.append(batch)
    assert batch == [499, 1499]  # a UI gets the latest book, not a backlog
    assert sub.coalesced == 998
    await bus.close()


async def test_async_handler_errors_are_isolated() -> None:
    bus = MessageBus()
    got: list[int] = []

    def flaky(m: TradeTick) -> None:
        if int(m.trade_id) % 2:
            raise ValueError("odd")
        got.append(int(m.trade_id))

    sub = bus.subscribe_async("trades.>", flaky, name="flaky")
    sub.start()
    for i in range(10):
        bus.publish("trades.sim.X", tick(i))
    await sub.drain()
    assert got == [0, 2, 4, 6, 8] and sub.errors == 5
    await bus.close()


async def test_min_interval_limits_the_frame_rate() -> None:
    bus = MessageBus()
    loop = asyncio.get_running_loop()
    calls: list[tuple[float, int]] = []
    sub = bus.subscribe_async("trades.>", lambda m: calls.append((loop.time(), int(m.trade_id))), coalesce=True,
                              min_interval_s=0.05)
    sub.start()
    for i in range(20):  # 20 publishes over ~0.1 s (longer on a busy machine: the bound is per gap)
        bus.publish("trades.sim.X", tick(i))
        await asyncio.sleep(0.005)
    deadline = loop.time() + 5
    while calls[-1][1] != 19:  # the latest message is always delivered in the end
        assert loop.time() < deadline, calls
        await asyncio.sleep(0.01)
    gaps = [b - a for (a, _), (b, _) in zip(calls, calls[1:], strict=False)]
    assert gaps and min(gaps) >= 0.045  # at most one call per 50 ms, each the latest
    assert [i for _, i in calls] == sorted({i for _, i in calls}) and len(calls) < 20
    await bus.close()

"""Event bus throughput and latency.

    .venv/bin/python bench/bus.py [--events 1000000]

Prints events/s through synchronous dispatch and through an asyncio subscriber, each with the
ratio to a bare dict-dispatch loop measured in the same run, and publish->handler latency
p50/p99 when the bus is not saturated. Targets (DESIGN.md): >= 1,000,000 events/s sync,
>= 500,000 through asyncio, p99 < 100 us.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import line, machine, percentile  # noqa: E402

from quantai_tui.core.enums import AggressorSide  # noqa: E402
from quantai_tui.core.events import TradeTick  # noqa: E402
from quantai_tui.engine.bus import MessageBus  # noqa: E402

TOPIC = "trades.sim.BTC/USDT"


def make_events(n: int) -> list[TradeTick]:
    mk = TradeTick.make
    return [mk("sim", "BTC/USDT", 30000.0 + i % 100, 0.01, AggressorSide.BUYER, "t", i, i) for i in range(n)]


def baseline(events: list[TradeTick]) -> float:
    count = [0]

    def handler(ev: TradeTick) -> None:
        count[0] += 1

    handlers = {TOPIC: [handler]}
    t = time.perf_counter()
    for ev in events:
        for h in handlers[TOPIC]:
            h(ev)
    return len(events) / (time.perf_counter() - t)


def sync_bus(events: list[TradeTick]) -> float:
    bus = MessageBus()
    count = [0]

    def handler(ev: TradeTick) -> None:
        count[0] += 1

    bus.subscribe("trades.>", handler)
    publish = bus.publish
    t = time.perf_counter()
    for ev in events:
        publish(TOPIC, ev)
    dt = time.perf_counter() - t
    assert count[0] == len(events)
    return len(events) / dt


async def async_bus(events: list[TradeTick]) -> float:
    bus = MessageBus()
    count = [0]

    def handler(ev: TradeTick) -> None:
        count[0] += 1

    sub = bus.subscribe_async("trades.>", handler, maxsize=len(events) + 1)
    sub.start()
    publish = bus.publish
    t = time.perf_counter()
    chunk = 10_000
    for i in range(0, len(events), chunk):
        for ev in events[i : i + chunk]:
            publish(TOPIC, ev)
        await asyncio.sleep(0)  # a live feed yields between socket reads
    while count[0] < len(events):
        await asyncio.sleep(0)
    dt = time.perf_counter() - t
    await bus.close()
    return len(events) / dt


async def latency(samples: int, sync: bool) -> tuple[float, float]:
    bus = MessageBus()
    lat: list[float] = []
    clock = time.perf_counter_ns

    def handler(ev: TradeTick) -> None:
        lat.append((clock() - ev.ts_init) / 1000)

    if sync:
        bus.subscribe("trades.>", handler)
    else:
        bus.subscribe_async("trades.>", handler).start()
    mk = TradeTick.make
    for i in range(samples):
        bus.publish(TOPIC, mk("sim", "BTC/USDT", 1.0, 1.0, AggressorSide.BUYER, "t", i, clock()))
        await asyncio.sleep(0.0002)  # not saturated: one event every ~200 us
    await asyncio.sleep(0.01)
    await bus.close()
    lat.sort()
    return percentile(lat, 50), percentile(lat, 99)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--samples", type=int, default=5_000)
    a = ap.parse_args()
    events = make_events(a.events)
    print(f"# bench/bus.py  {machine()}  events={a.events:,}")
    base = max(baseline(events) for _ in range(3))
    print(line("baseline: bare dict-dispatch loop", base, "events/s"))
    s = max(sync_bus(events) for _ in range(3))
    print(line("bus, synchronous publish", s, "events/s", base))
    asy = max(asyncio.run(async_bus(events)) for _ in range(2))
    print(line("bus, through an asyncio subscriber", asy, "events/s", base))
    p50, p99 = asyncio.run(latency(a.samples, sync=True))
    print(line("publish->handler p50, synchronous", p50, "us"))
    print(line("publish->handler p99, synchronous", p99, "us"))
    p50, p99 = asyncio.run(latency(a.samples, sync=False))
    print(line("publish->handler p50, asyncio, unsaturated", p50, "us"))
    print(line("publish->handler p99, asyncio, unsaturated", p99, "us"))


if __name__ == "__main__":
    main()

"""Event store throughput with group commit, and commit latency.

    .venv/bin/python bench/store.py [--events 200000] [--producers 1000]

`producers` coroutines each append events durably (await returns after COMMIT), as the OMS
and connectors do under load. Prints durable events/s and append->durable p50/p99, with the
ratio to raw sqlite3 executemany (500 rows per commit, same rows, same pragmas) measured in
the same run. Target (DESIGN.md): >= 50,000 durable events/s with group commit.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import line, machine, percentile  # noqa: E402

from quantai_tui.core.enums import OrderSide  # noqa: E402
from quantai_tui.core.events import OrderFilled  # noqa: E402
from quantai_tui.core.values import Money, Price, Quantity  # noqa: E402
from quantai_tui.store.codecs import encode  # noqa: E402
from quantai_tui.store.sqlite import EventStore  # noqa: E402


def make_event(i: int) -> OrderFilled:
    # ~150-byte payload, as in FACTS.md
    return OrderFilled(f"qa{i:012d}", "sim", "BTC/USDT", f"v{i}", f"t{i}", OrderSide.BUY, Quantity("0.01000"),
                       Price("30012.50"), Money("0.30", "USDT"), ts_event=i, ts_init=i)


def baseline(events: list[OrderFilled], sync: str, tmp: Path) -> float:
    path = tmp / f"raw-{sync}.sqlite"
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute(f"PRAGMA synchronous={sync}")
    con.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, type TEXT, topic TEXT, ts_event INTEGER, "
                "ts_init INTEGER, payload TEXT)")
    t = time.perf_counter()
    for start in range(0, len(events), 500):
        rows = []
        for i, ev in enumerate(events[start : start + 500], start + 1):
            name, te, ti, payload = encode(ev)
            rows.append((i, name, "", te, ti, payload))
        con.execute("BEGIN")
        con.executemany("INSERT INTO events VALUES (?,?,?,?,?,?)", rows)
        con.execute("COMMIT")
    dt = time.perf_counter() - t
    con.close()
    return len(events) / dt


async def grouped(events: list[OrderFilled], producers: int, sync: str, tmp: Path) -> tuple[float, float, float]:
    store = EventStore(tmp / f"store-{sync}-{producers}.sqlite", synchronous=sync)
    await store.open()
    lat: list[float] = []
    per = len(events) // producers
    clock = time.perf_counter

    async def produce(k: int) -> None:
        for ev in events[k * per : (k + 1) * per]:
            t0 = clock()
            await store.append(ev, durable=True)
            lat.append((clock() - t0) * 1e6)

    t = time.perf_counter()
    await asyncio.gather(*(produce(k) for k in range(producers)))
    dt = time.perf_counter() - t
    commits = store.commits
    await store.close()
    lat.sort()
    print(f"    ({commits:,} commits, {per * producers / max(commits, 1):.0f} events per commit)")
    return per * producers / dt, percentile(lat, 50), percentile(lat, 99)


async def pipelined(events: list[OrderFilled], producers: int, burst: int, sync: str, tmp: Path) -> float:
    """Producers that append a burst (e.g. the fills of one sweep) and await its durability once."""
    store = EventStore(tmp / f"pipe-{sync}-{producers}.sqlite", synchronous=sync)
    await store.open()
    per = len(events) // producers

    async def produce(k: int) -> None:
        mine = events[k * per : (k + 1) * per]
        for i in range(0, len(mine), burst):
            await store.append_many(mine[i : i + burst], durable=True)

    t = time.perf_counter()
    await asyncio.gather(*(produce(k) for k in range(producers)))
    dt = time.perf_counter() - t
    await store.close()
    return per * producers / dt


async def single(events: list[OrderFilled], sync: str, tmp: Path) -> tuple[float, float]:
    """One writer awaiting each event: the commit latency an order intent sees when idle."""
    store = EventStore(tmp / f"single-{sync}.sqlite", synchronous=sync)
    await store.open()
    lat = []
    for ev in events:
        t0 = time.perf_counter()
        await store.append(ev, durable=True)
        lat.append((time.perf_counter() - t0) * 1e6)
    await store.close()
    lat.sort()
    return percentile(lat, 50), percentile(lat, 99)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--producers", type=int, default=1000)
    a = ap.parse_args()
    events = [make_event(i) for i in range(a.events)]
    print(f"# bench/store.py  {machine()}  events={a.events:,} producers={a.producers}")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for sync in ("NORMAL", "FULL"):
            base = baseline(events, sync, tmp)
            print(line(f"baseline: raw sqlite3 executemany x500, {sync}", base, "events/s"))
            rate, p50, p99 = asyncio.run(grouped(events, a.producers, sync, tmp))
            print(line(f"store, durable, group commit, {sync}", rate, "events/s", base))
            print(line(f"append->durable p50 under load, {sync}", p50, "us"))
            print(line(f"append->durable p99 under load, {sync}", p99, "us"))
            rate = asyncio.run(pipelined(events, 20, 50, sync, tmp))
            print(line(f"store, durable, 20 producers x bursts of 50, {sync}", rate, "events/s", base))
            p50, p99 = asyncio.run(single(events[:3000], sync, tmp))
            print(line(f"commit latency p50, one writer, {sync}", p50, "us"))
            print(line(f"commit latency p99, one writer, {sync}", p99, "us"))


if __name__ == "__main__":
    main()

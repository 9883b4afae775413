"""The recorder: what was published comes back from the files, in the same order; files rotate
at UTC midnight; a kill -9 of `quantai record` at any moment leaves every file readable."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from quantai_tui.connectors.sim import SimMarket, SimMarketDataClient
from quantai_tui.core.book import OrderBook
from quantai_tui.core.clock import TestClock
from quantai_tui.core.events import Event, OrderBookDeltas
from quantai_tui.data.catalog import Catalog
from quantai_tui.data.codec import kind_of
from quantai_tui.data.files import parts_dir
from quantai_tui.data.reader import iter_events, replay
from quantai_tui.data.recorder import DAY_NS, Recorder, subscribe_recorder
from quantai_tui.engine.bus import MessageBus

MIDNIGHT = 1_767_312_000_000_000_000  # 2026-01-02T00:00:00Z
REPO = Path(__file__).resolve().parents[2]


def _market_files(d: Path) -> list[Path]:
    """Logical files (a main file, its parts, or both) other than book snapshots."""
    return [e.path for e in Catalog(dirs=[d]).entries() if e.kind != "book_snapshots"]


async def test_rotates_at_utc_midnight_and_replays_what_was_recorded(tmp_path: Path) -> None:
    clock = TestClock(MIDNIGHT - 40 * 10**9)
    rec = Recorder(tmp_path, clock=clock, flush_interval_s=1, snapshot_interval_s=10)
    market = SimMarket(2, ["BTC/USDT", "ETH/USDT"], rate=40, start_ns=MIDNIGHT - 30 * 10**9)
    before = market.generate_until(MIDNIGHT - 1)
    after = market.generate_until(MIDNIGHT + 30 * 10**9)
    for _, ev in before:
        rec.on_event(ev)
    await rec.flush()
    assert not list(tmp_path.glob("*.parquet"))  # still growing: parts only
    assert parts_dir(tmp_path / "sim_BTC-USDT_20260101.trades.parquet").is_dir()
    clock.advance_to(MIDNIGHT + 5 * 10**9)
    for _, ev in after:
        rec.on_event(ev)
    await rec.flush()
    # yesterday's files are final; today's grow
    assert (tmp_path / "sim_BTC-USDT_20260101.book.parquet").is_file()
    assert not parts_dir(tmp_path / "sim_BTC-USDT_20260101.book.parquet").exists()
    assert parts_dir(tmp_path / "sim_BTC-USDT_20260102.book.parquet").is_dir()
    files = await rec.close()
    names = {p.name for p in files}
    for day in ("20260101", "20260102"):
        for sym in ("BTC-USDT", "ETH-USDT"):
            for kind in ("trades", "quotes", "book", "book_snapshots"):
                assert f"sim_{sym}_{day}.{kind}.parquet" in names
    assert "sim_BTC-USDT_20260102.bars-1m.parquet" in names  # the bar closing at 00:00 is the new day's
    published = [ev for _, ev in before + after]
    assert list(replay(_market_files(tmp_path))) == published
    # each day file starts from a snapshot: day 2's snapshot + day 2's deltas = the final book
    snap = next(iter(iter_events(tmp_path / "sim_BTC-USDT_20260102.book_snapshots.parquet")))
    assert isinstance(snap, OrderBookDeltas) and snap.is_snapshot
    book = OrderBook("sim", "BTC/USDT")
    book.apply(snap)
    day2 = [ev for ev in iter_events(tmp_path / "sim_BTC-USDT_20260102.book.parquet")]
    assert day2[0].ts_init // DAY_NS == MIDNIGHT // DAY_NS
    for ev in day2[1:]:
        book.apply(ev)
    assert book.as_dict() == market.book("BTC/USDT").as_dict()
    stats = rec.stats()
    assert stats["messages"] == len(published) and stats["bytes"] > 0 and stats["pending"] == 0


async def test_closing_compacts_what_a_killed_session_left_of_other_kinds(tmp_path: Path) -> None:
    """A killed session's parts of a kind (or day) the next session never writes are folded
    into their main files when that session closes; other symbols' parts are left alone."""
    clock = TestClock(MIDNIGHT + 3600 * 10**9)
    events = [ev for _, ev in SimMarket(3, ["BTC/USDT", "ETH/USDT"], rate=200, start_ns=clock.timestamp_ns())
              .generate(400)]
    killed = Recorder(tmp_path, clock=clock)
    for ev in events:
        killed.on_event(ev)
    await killed.flush()  # parts on disk, never closed: what a kill -9 leaves
    book = tmp_path / "sim_BTC-USDT_20260102.book.parquet"
    assert parts_dir(book).is_dir() and not book.exists()
    rec = Recorder(tmp_path, clock=clock)
    rec.accept("sim", ["BTC/USDT"], ["trades"])
    for ev in events:
        rec.on_event(ev)
    files = await rec.close()
    assert book in files and book.is_file() and not parts_dir(book).exists()
    assert list(iter_events(book)) == [ev for ev in events if kind_of(ev) == "book" and ev.symbol == "BTC/USDT"]
    assert not list(tmp_path.glob("sim_BTC-USDT_*.parts"))
    assert parts_dir(tmp_path / "sim_ETH-USDT_20260102.book.parquet").is_dir()


async def test_close_during_a_background_flush_loses_nothing(tmp_path: Path) -> None:
    """close() cancels the flush task; a write already running in its thread finishes before
    the final write starts (they used to overlap and drop the events in flight)."""
    clock = TestClock(MIDNIGHT + 3600 * 10**9)
    events = [ev for _, ev in SimMarket(4, ["BTC/USDT", "ETH/USDT"], rate=500, start_ns=clock.timestamp_ns())
              .generate(3000)]
    rec = Recorder(tmp_path, clock=clock, flush_interval_s=0.05)
    writing, release = threading.Event(), threading.Event()
    write = rec._write

    def slow_write(*args: object) -> None:
        if not args[2]:  # the background flush: hold it in its thread
            writing.set()
            release.wait(10)
        write(*args)  # type: ignore[arg-type]

    rec._write = slow_write  # type: ignore[method-assign]
    for ev in events[:2000]:
        rec.on_event(ev)
    rec.start()
    assert await asyncio.to_thread(writing.wait, 10)
    for ev in events[2000:]:
        rec.on_event(ev)
    closing = asyncio.ensure_future(rec.close())
    await asyncio.sleep(0.1)
    release.set()
    await closing
    assert list(replay(_market_files(tmp_path))) == events


async def test_through_the_bus_while_the_sim_publishes(tmp_path: Path) -> None:
    """An async bus subscriber: the published stream, recorded, replays identically."""
    bus = MessageBus()
    published: list[Event] = []
    bus.subscribe("*.sim.*", lambda ev: published.append(ev) if kind_of(ev) else None)
    clock = TestClock(MIDNIGHT + 3600 * 10**9)
    rec = Recorder(tmp_path, clock=clock, flush_interval_s=0.05)
    sub = subscribe_recorder(bus, rec, "sim", ["BTC/USDT", "ETH/USDT"], ["trades", "book", "quotes"])
    client = SimMarketDataClient(bus.publish, clock, seed=9, rate=3000, interval_s=0.001)
    await bus.start()
    rec.start()
    await client.start()
    await client.subscribe("BTC/USDT")
    await client.subscribe("ETH/USDT", ["trades", "book", "quotes"])
    for step in range(1, 21):  # time moves in steps; flushes happen meanwhile
        clock.advance_to(MIDNIGHT + 3600 * 10**9 + step * 50_000_000)
        await asyncio.sleep(0.01)
        if step % 5 == 0:
            await rec.flush()
    await client.stop()
    await sub.drain()
    await rec.close()
    assert sub.dropped == 0 and rec.flushes >= 5
    wanted = [ev for ev in published if kind_of(ev) != "bars"]  # bars were not asked for
    assert len(wanted) > 3000
    assert list(replay(_market_files(tmp_path))) == wanted


def _start(out: Path, home: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "QUANTAI_HOME": str(home), "QUANTAI_SIM__SEED": "7", "QUANTAI_SIM__RATE": "3000",
           "QUANTAI_DATA__FLUSH_INTERVAL_S": "0.1", "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "quantai_tui", "record", "--exchange", "sim", "--symbol",
                             "BTC/USDT", "--out", str(out)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _parts(out: Path) -> int:
    return sum(1 for _ in out.glob("*.parts/p*.parquet"))


def _wait_parts(proc: subprocess.Popen[bytes], out: Path, at_least: int) -> None:
    deadline = time.monotonic() + 60
    while _parts(out) < at_least:
        assert proc.poll() is None, "the recorder exited early"
        assert time.monotonic() < deadline, "no parts written"
        time.sleep(0.02)


@pytest.mark.slow
def test_kill_9_at_random_moments_leaves_every_file_readable(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    rng = random.Random(1234)
    first_session: dict[str, list[Event]] | None = None
    for round_ in range(2):
        proc = _start(out, tmp_path / "home")
        _wait_parts(proc, out, _parts(out) + 3)
        time.sleep(rng.uniform(0, 0.3))  # somewhere in a flush, a merge or in between
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # every physical file, parts included, is a complete Parquet file
        physical = [p for p in out.rglob("*.parquet") if not p.name.startswith(".")]
        assert physical
        for p in physical:
            pq.read_table(p)
        by_kind: dict[str, list[Event]] = {}
        for f in _market_files(out):
            evs = list(iter_events(f))
            kind = kind_of(evs[0])
            assert kind is not None
            by_kind[kind] = evs
            keys = [(e.ts_init, i) for i, e in enumerate(evs)]
            assert keys == sorted(keys)
        if round_ == 0:
            first_session = by_kind
    # the first session's recording is exactly a prefix of what the seeded sim published
    assert first_session is not None
    book = first_session["book"]
    start = book[0].ts_init
    assert isinstance(book[0], OrderBookDeltas) and book[0].is_snapshot
    regenerated: dict[str, list[Event]] = {}
    for _, ev in SimMarket(7, ["BTC/USDT"], rate=3000, start_ns=start).generate(3 * sum(map(len, first_session.values()))):
        regenerated.setdefault(kind_of(ev) or "", []).append(ev)
    for kind, evs in first_session.items():
        assert len(evs) > 0
        assert evs == regenerated[kind][: len(evs)], kind
    # a clean run afterwards compacts everything, the killed sessions' rows included
    rows_before = {f.name: sum(1 for _ in iter_events(f)) for f in _market_files(out)}
    env = {**os.environ, "QUANTAI_HOME": str(tmp_path / "home"), "QUANTAI_DATA__FLUSH_INTERVAL_S": "0.1",
           "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "quantai_tui", "record", "--exchange", "sim", "--symbol", "BTC/USDT",
                           "--duration", "0.5s", "--out", str(out)], env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert not list(out.glob("*.parts"))
    for f in _market_files(out):
        assert sum(1 for _ in iter_events(f)) >= rows_before.get(f.name, 0)
    entries = Catalog(dirs=[out]).find(symbol="BTC/USDT")
    kinds = {e.kind for e in entries}  # bars only when a session crossed a minute boundary
    assert {"trades", "quotes", "book", "book_snapshots"} <= kinds <= {"trades", "quotes", "book", "book_snapshots", "bars"}

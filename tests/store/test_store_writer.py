"""Where the event store's commits run: small groups on the loop's thread (NORMAL/OFF), large
groups and syncing commits on the SQLite thread, checkpoints on a thread of their own."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from quantai_tui.core.enums import AggressorSide
from quantai_tui.core.errors import StoreError
from quantai_tui.core.events import TradeTick
from quantai_tui.store import sqlite as store_sqlite
from quantai_tui.store.sqlite import EventStore


def tick(i: int) -> TradeTick:
    return TradeTick("sim", "BTC/USDT", 100.0 + i, 1.0, AggressorSide.BUYER, str(i), ts_event=i, ts_init=i)


def stored(path: Path) -> list[tuple[int, str]]:
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT seq, type FROM events ORDER BY seq").fetchall()
    finally:
        con.close()


async def test_small_groups_commit_inline_and_large_ones_on_the_sqlite_thread(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    store = EventStore(tmp_path / "e.sqlite", inline_max=4)
    threaded: list[int] = []
    real = EventStore._commit

    async def counting(self: EventStore, batch: list) -> None:  # type: ignore[type-arg]
        threaded.append(len(batch))
        await real(self, batch)

    monkeypatch.setattr(EventStore, "_commit", counting)
    await store.open()
    for i in range(3):
        store.append_nowait(tick(i))
    assert await store.append(tick(3)) == 4  # a group of 4: inline
    assert threaded == []
    for i in range(10):
        store.append_nowait(tick(10 + i))
    await store.flush()  # a group of 10: the SQLite thread
    assert threaded == [10]
    assert await store.append(tick(99)) == 15
    assert [s async for s, _ in store.replay()] == list(range(1, 16))
    assert store.commits == 3
    await store.close()
    assert [s for s, _ in stored(tmp_path / "e.sqlite")] == list(range(1, 16))


@pytest.mark.parametrize(("sync", "inline"), [("NORMAL", True), ("OFF", True), ("FULL", False), ("EXTRA", False)])
def test_only_commits_that_do_not_sync_run_on_the_loop(tmp_path: Path, sync: str, inline: bool) -> None:
    assert (EventStore(tmp_path / "e.sqlite", synchronous=sync).inline_max > 0) is inline


async def test_a_locked_database_sends_the_group_to_the_sqlite_thread_and_the_loop_runs_on(tmp_path: Path) -> None:
    path = tmp_path / "e.sqlite"
    store = EventStore(path)
    await store.open()
    await store.append(tick(1))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
    try:
        pending = asyncio.ensure_future(store.append(tick(2)))
        for _ in range(5):
            await asyncio.sleep(0.01)  # the loop is not blocked by the wait for the lock
        assert not pending.done()
    finally:
        other.execute("COMMIT")
        other.close()
    assert await pending == 2
    assert store.committed_seq == 2
    await store.close()
    assert stored(path) == [(1, "TradeTick"), (2, "TradeTick")]


async def test_a_failed_inline_commit_fails_its_waiters_and_the_next_group_is_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = EventStore(tmp_path / "e.sqlite")
    await store.open()
    real = store_sqlite._write_group

    def broken(*args: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store_sqlite, "_write_group", broken)
    with pytest.raises(StoreError, match="write failed"):
        await store.append(tick(1))
    monkeypatch.setattr(store_sqlite, "_write_group", real)
    assert await store.append(tick(2)) == 2
    assert store.write_errors == 1
    await store.close()
    assert stored(tmp_path / "e.sqlite") == [(2, "TradeTick")]


async def test_checkpoints_run_on_their_own_thread(tmp_path: Path) -> None:
    path = tmp_path / "e.sqlite"
    store = EventStore(path, checkpoint_events=100)
    await store.open()
    size = path.stat().st_size
    for i in range(1000):
        store.append_nowait(tick(i))
        if i % 10 == 9:
            await store.flush()
    assert store._checkpointer is not None
    for _ in range(1000):  # the checkpoint thread runs when it gets the CPU
        if store._checkpointer.runs:
            break
        await asyncio.sleep(0.01)
    assert store._checkpointer.runs >= 1
    assert path.stat().st_size > size  # pages were copied from the WAL into the database
    await store.close()
    assert len(stored(path)) == 1000


async def test_the_wal_starts_over_after_restart_events_and_stays_bounded(tmp_path: Path) -> None:
    path = tmp_path / "e.sqlite"
    store = EventStore(path, checkpoint_events=50, restart_events=200)
    await store.open()
    for i in range(3000):
        store.append_nowait(tick(i))
        if i % 10 == 9:
            await store.flush()
    assert store.wal_restarts >= 10  # 14 due (the 15th would be the next group's)
    # ~80 frames a cycle; without restarts the WAL grows to SQLite's auto-checkpoint (~4 MB here)
    assert (tmp_path / "e.sqlite-wal").stat().st_size < 1_000_000
    await store.close()
    assert len(stored(path)) == 3000

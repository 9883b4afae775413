"""The SQLite event store at its edges: files it adopts or refuses, migrations that fail,
commits that fail (and what their waiters are told), listeners, snapshots and the read-only
reader used by `quantai events`."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from quantai_tui.core.enums import AggressorSide, OrderType, TradingState
from quantai_tui.core.errors import StoreCorruptError, StoreError
from quantai_tui.core.events import OrderSubmitted, TradeTick, TradingStateChanged
from quantai_tui.core.values import Quantity
from quantai_tui.store.schema import APPLICATION_ID, SCHEMA_VERSION
from quantai_tui.store.sqlite import EventStore, inspect_file, read_events


def tick(i: int) -> TradeTick:
    return TradeTick("sim", "BTC/USDT", 100.0 + i, 1.0, AggressorSide.BUYER, str(i), ts_event=i, ts_init=i)


def unencodable() -> OrderSubmitted:
    return OrderSubmitted("c", "sim", "BTC/USDT", "s", object(), OrderType.MARKET, Quantity("0.1"),  # type: ignore[arg-type]
                          ts_event=1, ts_init=1)


def rows(path: Path) -> list[tuple[int, str]]:
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT seq, type FROM events ORDER BY seq").fetchall()
    finally:
        con.close()


async def test_an_empty_sqlite_file_with_no_tables_is_adopted_as_new(tmp_path: Path) -> None:
    path = tmp_path / "e.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE scratch (x)")
    con.execute("DROP TABLE scratch")  # a database file of non-zero size, nothing in it
    con.commit()
    con.close()
    assert path.stat().st_size > 0
    assert inspect_file(path) == 0
    store = EventStore(path)
    await store.open()
    assert await store.append(tick(1)) == 1
    await store.close()
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    con.close()


async def test_a_migration_that_fails_is_rolled_back_and_the_file_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "e.sqlite"
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA application_id={APPLICATION_ID}")  # ours, schema 0, with a table of another shape
    con.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, body TEXT)")
    con.execute("INSERT INTO events VALUES (1, 'old')")
    con.commit()
    con.close()
    with pytest.raises(StoreCorruptError, match="left untouched"):
        await EventStore(path).open()
    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA user_version").fetchone()[0] == 0  # not marked as migrated
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert tables == {"events"}  # the snapshots and meta tables of the half-done migration are gone
        assert con.execute("SELECT * FROM events").fetchall() == [(1, "old")]
    finally:
        con.close()


async def test_append_many_returns_after_the_commit_and_the_store_reports_its_seqs(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "e.sqlite")
    assert not store.is_open
    await store.open()
    assert store.is_open
    assert await store.append_many([]) == []
    seqs = await store.append_many([tick(i) for i in range(5)])
    assert seqs == [1, 2, 3, 4, 5]
    assert store.committed_seq == 5 and store.last_seq == 5
    assert rows(tmp_path / "e.sqlite")[-1] == (5, "TradeTick")  # visible to another reader: committed
    store.append_nowait(tick(6))
    assert store.last_seq == 6  # appended, maybe not committed yet
    await store.close()
    assert not store.is_open
    await store.close()  # closing twice is harmless


async def test_waiting_for_a_seq_that_was_never_appended_or_failed_raises(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "e.sqlite")
    await store.open()
    await store.append(tick(1))
    with pytest.raises(StoreError, match="seq 7 was never appended"):
        await store.wait_durable(7)
    bad = store.append_nowait(unencodable())
    good = store.append_nowait(tick(3))
    await store.wait_durable(good)
    with pytest.raises(StoreError, match="cannot store OrderSubmitted"):
        await store.wait_durable(bad)  # its group committed, without it
    assert [s async for s, _ in store.replay()] == [1, 3]
    await store.close()


@pytest.mark.parametrize("synchronous", ["NORMAL", "FULL"])  # commits on the loop's thread, on the SQLite thread
async def test_a_second_writer_on_the_same_file_fails_loudly_and_never_overwrites(tmp_path: Path,
                                                                                 synchronous: str) -> None:
    path = tmp_path / "e.sqlite"
    first = EventStore(path, synchronous=synchronous)
    second = EventStore(path, synchronous=synchronous)
    await first.open()
    await second.open()  # both believe the next seq is 1
    assert await first.append(tick(1)) == 1
    with pytest.raises(StoreError, match="event store write failed"):
        await second.append(TradingStateChanged(TradingState.HALTED, TradingState.ACTIVE, "x", ts_event=2, ts_init=2))
    assert second.write_errors == 1 and second.committed_seq == 0
    await first.close()
    await second.close()
    assert rows(path) == [(1, "TradeTick")]  # the first writer's event, intact


async def test_a_failing_commit_listener_is_logged_and_the_others_still_hear(tmp_path: Path,
                                                                            caplog: pytest.LogCaptureFixture) -> None:
    store = EventStore(tmp_path / "e.sqlite")
    await store.open()
    heard: list[int] = []

    def broken(batch: list) -> None:  # type: ignore[type-arg]
        raise RuntimeError("listener bug")

    def listener(batch: list) -> None:  # type: ignore[type-arg]
        heard.extend(s for s, _ in batch)

    store.add_commit_listener(broken)
    store.add_commit_listener(listener)
    with caplog.at_level(logging.ERROR, logger="quantai.store"):
        assert await store.append(tick(1)) == 1  # the commit stands
    assert heard == [1]
    assert "commit listener failed" in caplog.text
    store.remove_commit_listener(listener)
    store.remove_commit_listener(listener)  # not there any more: harmless
    await store.append(tick(2))
    assert heard == [1]
    await store.close()


async def test_snapshots_are_kept_by_name_and_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "e.sqlite"
    store = EventStore(path)
    await store.open()
    assert await store.get_snapshot("portfolio") is None
    store.append_nowait(tick(1))
    await store.put_snapshot("portfolio", 1, '{"v": 1}')
    assert store.committed_seq == 1  # what the snapshot covers is committed first
    await store.put_snapshot("portfolio", 5, '{"v": 2}')
    assert await store.get_snapshot("portfolio") == (5, '{"v": 2}')
    await store.close()
    store = EventStore(path)
    await store.open()
    assert await store.get_snapshot("portfolio") == (5, '{"v": 2}')  # it survives a restart
    await store.close()


async def test_replaying_a_closed_store_is_an_error(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "e.sqlite")
    with pytest.raises(StoreError, match="not open"):
        async for _ in store.replay():
            pass


async def test_replay_and_read_events_page_through_large_stores(tmp_path: Path) -> None:
    path = tmp_path / "e.sqlite"
    store = EventStore(path)
    await store.open()
    for i in range(25):
        store.append_nowait(tick(i))
    store.append_nowait(TradingStateChanged(TradingState.HALTED, TradingState.ACTIVE, "x", ts_event=1, ts_init=1))
    await store.flush()
    assert [s async for s, _ in store.replay(page=4)] == list(range(1, 27))
    assert [s async for s, _ in store.replay(from_seq=20, types=["TradeTick"], page=2)] == list(range(20, 26))
    await store.close()
    assert [s for s, _ in read_events(path, page=4)] == list(range(1, 27))
    assert [s for s, _ in read_events(path, 3, ["TradeTick"], page=5)] == list(range(3, 26))
    assert [s for s, _ in read_events(path, 0, ["TradingStateChanged"], page=1)] == [26]


def test_read_events_refuses_a_missing_file_and_reads_nothing_from_a_store_without_events(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no event store at"):
        list(read_events(tmp_path / "missing.sqlite"))
    path = tmp_path / "e.sqlite"
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA application_id={APPLICATION_ID}")  # ours, before its tables were made
    con.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    con.commit()
    con.close()
    assert list(read_events(path)) == []


async def test_read_events_names_the_file_when_it_is_damaged(tmp_path: Path) -> None:
    path = tmp_path / "e.sqlite"
    store = EventStore(path)
    await store.open()
    for i in range(2000):
        store.append_nowait(tick(i))
    await store.close()
    data = bytearray(path.read_bytes())
    data[4096:] = b"\xff" * (len(data) - 4096)  # every page but the first (header and schema)
    path.write_bytes(bytes(data))
    with pytest.raises(StoreCorruptError, match=str(path.name)):
        list(read_events(path))

from __future__ import annotations

import asyncio
import io
import json
import sqlite3
from pathlib import Path

import pytest

from quantai_tui.core.enums import AggressorSide, OrderType, TradingState
from quantai_tui.core.errors import StoreCorruptError, StoreError, StoreForeignError
from quantai_tui.core.events import KillSwitchEngaged, OrderSubmitted, TradeTick, TradingStateChanged
from quantai_tui.core.values import Quantity
from quantai_tui.store.export import export_events, tail_events
from quantai_tui.store.schema import APPLICATION_ID, SCHEMA_VERSION
from quantai_tui.store.sqlite import EventStore, read_events


def tick(i: int) -> TradeTick:
    return TradeTick("sim", "BTC/USDT", 100.0 + i, 1.0, AggressorSide.BUYER, str(i), ts_event=i, ts_init=i)


async def test_durable_append_is_committed_on_return(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "e.sqlite")
    await store.open()
    seq = await store.append(tick(1))
    assert seq == 1 and store.committed_seq == 1
    # visible to an independent reader immediately
    con = sqlite3.connect(tmp_path / "e.sqlite")
    assert con.execute("SELECT seq, type FROM events").fetchall() == [(1, "TradeTick")]
    con.close()
    await store.close()


async def test_many_concurrent_appenders_share_commits_and_keep_order(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "e.sqlite")
    await store.open()

    async def producer(k: int) -> list[int]:
        return [await store.append(tick(k * 1000 + i)) for i in range(50)]

    results = await asyncio.gather(*(producer(k) for k in range(20)))
    seqs = sorted(s for r in results for s in r)
    assert seqs == list(range(1, 1001))
    assert store.commits < 1000  # group commit: fewer commits than events
    replayed = [seq async for seq, _ in store.replay()]
    assert replayed == seqs
    await store.close()


async def test_nowait_appends_are_flushed_on_close_and_seq_continues_after_reopen(tmp_path: Path) -> None:
    path = tmp_path / "e.sqlite"
    store = EventStore(path)
    await store.open()
    for i in range(100):
        store.append_nowait(tick(i))
    await store.close()
    store = EventStore(path)
    await store.open()
    assert await store.count() == 100
    assert await store.append(tick(100)) == 101
    await store.close()


async def test_replay_by_type_and_from_seq(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "e.sqlite")
    await store.open()
    halt = TradingStateChanged(TradingState.HALTED, TradingState.ACTIVE, "kill", ts_event=5, ts_init=5)
    for i in range(10):
        store.append_nowait(tick(i))
    store.append_nowait(halt)
    await store.flush()
    got = [(s, e) async for s, e in store.replay(types={"TradingStateChanged"})]
    assert got == [(11, halt)]
    assert [s async for s, _ in store.replay(from_seq=9)] == [9, 10, 11]
    assert [s for s, _ in read_events(tmp_path / "e.sqlite", 10)] == [10, 11]
    await store.close()


async def test_commit_listeners_see_only_committed_events_in_order(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "e.sqlite")
    seen: list[int] = []
    await store.open()
    store.add_commit_listener(lambda batch: seen.extend(s for s, _ in batch))
    for i in range(30):
        store.append_nowait(tick(i))
    await store.flush()
    assert seen == list(range(1, 31))
    await store.close()


@pytest.mark.parametrize("sync", ["NORMAL", "FULL", "full"])
async def test_synchronous_setting_is_applied(tmp_path: Path, sync: str) -> None:
    store = EventStore(tmp_path / "e.sqlite", synchronous=sync)
    await store.open()
    assert store._db is not None
    async with store._db.execute("PRAGMA synchronous") as cur:
        value = (await cur.fetchone())[0]
    assert value == {"NORMAL": 1, "FULL": 2}[sync.upper()]
    async with store._db.execute("PRAGMA journal_mode") as cur:
        assert (await cur.fetchone())[0] == "wal"
    await store.close()
    with pytest.raises(StoreError, match="synchronous"):
        EventStore(tmp_path / "x.sqlite", synchronous="SOMETIMES")


async def test_a_file_that_is_not_sqlite_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "e.sqlite"
    path.write_bytes(b"this is not a database at all" * 100)
    before = path.read_bytes()
    with pytest.raises(StoreCorruptError, match="left untouched"):
        await EventStore(path).open()
    assert path.read_bytes() == before


async def test_a_foreign_sqlite_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE customers (id INTEGER)")
    con.commit()
    con.close()
    before = path.read_bytes()
    with pytest.raises(StoreForeignError, match="another program"):
        await EventStore(path).open()
    assert path.read_bytes() == before


async def test_a_damaged_store_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "e.sqlite"
    store = EventStore(path)
    await store.open()
    for i in range(2000):
        store.append_nowait(tick(i))
    await store.close()
    data = bytearray(path.read_bytes())
    data[4096:8192] = b"\xff" * 4096  # trash a page of the table
    path.write_bytes(bytes(data))
    with pytest.raises((StoreCorruptError, StoreError)):
        store = EventStore(path)
        await store.open()
        async for _ in store.replay():
            pass


async def test_schema_version_and_application_id(tmp_path: Path) -> None:
    path = tmp_path / "e.sqlite"
    store = EventStore(path)
    await store.open()
    await store.close()
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    con.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="newer"):
        await EventStore(path).open()


async def test_appending_to_a_closed_store_is_an_error(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "e.sqlite")
    with pytest.raises(StoreError, match="not open"):
        store.append_nowait(tick(1))


async def test_an_unencodable_event_fails_alone(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "e.sqlite")
    await store.open()
    bad = OrderSubmitted("c", "sim", "BTC/USDT", "s", object(), OrderType.MARKET, Quantity("0.1"),  # type: ignore[arg-type]
                         ts_event=1, ts_init=1)
    good = await store.append(tick(1))
    with pytest.raises(StoreError, match="cannot store"):
        await store.append(bad)
    assert await store.append(tick(2)) == good + 2
    assert [s async for s, _ in store.replay()] == [1, 3]
    await store.close()


async def test_export_jsonl_and_csv(tmp_path: Path) -> None:
    path = tmp_path / "e.sqlite"
    store = EventStore(path)
    await store.open()
    store.append_nowait(tick(1))
    store.append_nowait(KillSwitchEngaged("test", "cli", ts_event=2_000_000_000, ts_init=2_000_000_001))
    await store.close()
    out = io.StringIO()
    assert export_events(path, out, "jsonl") == 2
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [r["seq"] for r in lines] == [1, 2]
    assert lines[1]["type"] == "KillSwitchEngaged" and lines[1]["payload"]["source"] == "cli"
    assert lines[1]["ts"] == "1970-01-01T00:00:02Z"
    out = io.StringIO()
    export_events(path, out, "csv", types=["KillSwitchEngaged"])
    rows = out.getvalue().splitlines()
    assert rows[0] == "seq,type,ts,ts_event,ts_init,payload" and len(rows) == 2 and rows[1].startswith("2,KillSwitchEngaged")
    out = io.StringIO()
    tail_events(path, out, last=1, follow=False)
    assert [json.loads(x)["seq"] for x in out.getvalue().splitlines()] == [2]


async def test_tail_follows_new_events(tmp_path: Path) -> None:
    path = tmp_path / "e.sqlite"
    store = EventStore(path)
    await store.open()
    store.append_nowait(tick(1))
    await store.flush()
    out = io.StringIO()
    reader = asyncio.get_running_loop().run_in_executor(
        None, lambda: tail_events(path, out, last=5, follow=True, interval=0.05, max_polls=40)
    )
    await asyncio.sleep(0.3)
    await store.append(tick(2))
    await reader
    await store.close()
    assert [json.loads(x)["seq"] for x in out.getvalue().splitlines()] == [1, 2]


def test_quantity_values_keep_their_text(tmp_path: Path) -> None:
    assert str(Quantity("0.010")) == "0.010"

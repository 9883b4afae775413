"""`quantai events export|tail` underneath: formats, filters, where tail starts, and the errors a
user sees for a wrong format or a missing store."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import pytest

from quantai_tui.core.enums import AggressorSide, TradingState
from quantai_tui.core.errors import StoreError
from quantai_tui.core.events import TradeTick, TradingStateChanged
from quantai_tui.store.export import export_events, tail_events
from quantai_tui.store.schema import APPLICATION_ID, SCHEMA_VERSION
from quantai_tui.store.sqlite import EventStore


def tick(i: int) -> TradeTick:
    return TradeTick("sim", "BTC/USDT", 100.0 + i, 1.0, AggressorSide.BUYER, str(i), ts_event=i, ts_init=i)


def halt(i: int) -> TradingStateChanged:
    return TradingStateChanged(TradingState.HALTED, TradingState.ACTIVE, f"kill {i}", ts_event=i, ts_init=i)


@pytest.fixture
async def store_file(tmp_path: Path) -> Path:
    """seq 1-3 ticks, 4 a state change, 5-6 ticks, 7 a state change."""
    path = tmp_path / "e.sqlite"
    store = EventStore(path)
    await store.open()
    for ev in (tick(1), tick(2), tick(3), halt(4), tick(5), tick(6), halt(7)):
        store.append_nowait(ev)
    await store.close()
    return path


def seqs(out: io.StringIO) -> list[int]:
    return [json.loads(line)["seq"] for line in out.getvalue().splitlines()]


def test_an_unknown_export_format_is_refused_by_name(store_file: Path) -> None:
    with pytest.raises(StoreError, match="unknown export format 'xml' \\(jsonl or csv\\)"):
        export_events(store_file, io.StringIO(), "xml")


def test_export_from_a_seq(store_file: Path) -> None:
    out = io.StringIO()
    assert export_events(store_file, out, "jsonl", from_seq=5) == 3
    assert seqs(out) == [5, 6, 7]


def test_tail_of_one_type_starts_at_its_last_n_events(store_file: Path) -> None:
    out = io.StringIO()
    tail_events(store_file, out, last=1, types=["TradingStateChanged"], follow=False)
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [(r["seq"], r["type"]) for r in lines] == [(7, "TradingStateChanged")]
    assert lines[0]["payload"]["reason"] == "kill 7"
    out = io.StringIO()
    tail_events(store_file, out, last=5, types=["TradingStateChanged"], follow=False)
    assert seqs(out) == [4, 7]  # fewer than asked: all of them
    out = io.StringIO()
    tail_events(store_file, out, last=3, types=["OrderFilled"], follow=False)
    assert out.getvalue() == ""  # none of that type


def test_tail_with_last_zero_prints_only_new_events(store_file: Path) -> None:
    out = io.StringIO()
    tail_events(store_file, out, last=0, follow=False)
    assert out.getvalue() == ""


def test_tail_without_a_store_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no event store at .*start the engine once"):
        tail_events(tmp_path / "none.sqlite", io.StringIO(), follow=False)


def test_tail_of_a_store_with_no_events_table_yet_prints_nothing(tmp_path: Path) -> None:
    path = tmp_path / "e.sqlite"
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA application_id={APPLICATION_ID}")
    con.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    con.commit()
    con.close()
    out = io.StringIO()
    tail_events(path, out, last=10, follow=False)
    assert out.getvalue() == ""

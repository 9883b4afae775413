"""The recording format: every kind round-trips to the same events; files are zstd Parquet with
the documented columns and metadata; day files grow by durable parts and compact."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from quantai_tui.connectors.sim import SimMarket
from quantai_tui.core.enums import AggressorSide
from quantai_tui.core.errors import DataError
from quantai_tui.core.events import Bar, OrderBookDeltas, QuoteTick, TradeTick
from quantai_tui.data.codec import ColumnBuffer, kind_of
from quantai_tui.data.files import DayFileWriter, parts_dir, physical_files, write_table
from quantai_tui.data.reader import file_info, iter_events, record_batches, replay
from quantai_tui.data.schema import FileMeta, file_name, parse_file_name, schema, timeframe_ns

T = 1_767_225_600_000_000_000


def _write(path: Path, kind: str, events: list, venue: str = "sim", symbol: str = "BTC/USDT", tf: str | None = None,
           seq0: int = 1) -> Path:
    buf = ColumnBuffer(kind)
    for i, ev in enumerate(events):
        buf.append(ev, seq0 + i)
    write_table(path, buf.take(FileMeta(kind, venue, symbol, tf)))
    return path


def test_documented_columns_and_file_names() -> None:
    assert schema("trades").names == ["seq", "ts_event", "ts_init", "venue", "symbol", "price", "size", "side",
                                      "trade_id"]
    assert schema("book").names[-5:] == ["is_snapshot", "sequence", "side", "price", "size"]
    assert schema("bars").field("ts_event").type == pa.int64()
    name = file_name("sim", "BTC/USDT:USDT", "20261128", "bars", "1m")
    assert name == "sim_BTC-USDT-USDT_20261128.bars-1m.parquet"
    assert parse_file_name(name) == {"venue": "sim", "token": "BTC-USDT-USDT", "day": "20261128", "kind": "bars-1m"}
    assert timeframe_ns("4h") == 4 * 3600 * 10**9
    with pytest.raises(DataError, match="unknown timeframe"):
        timeframe_ns("1M")


def test_every_kind_round_trips_to_the_same_events(tmp_path: Path) -> None:
    msgs = SimMarket(3, ["ETH/USDT"], rate=2).generate(3000)  # slow: a few 1m bars too
    by_kind: dict[str, list] = {}
    for _, ev in msgs:
        by_kind.setdefault(kind_of(ev), []).append(ev)
    assert set(by_kind) == {"trades", "quotes", "book", "bars"}
    paths = []
    for kind, events in by_kind.items():
        p = _write(tmp_path / f"x.{kind}.parquet", kind, events, symbol="ETH/USDT", tf="1m" if kind == "bars" else None)
        assert list(iter_events(p)) == events
        paths.append(p)
        md = pq.ParquetFile(p).metadata
        assert md.row_group(0).column(0).compression == "ZSTD"
        assert FileMeta.from_schema(pq.read_schema(p)).kind == kind  # type: ignore[union-attr]
    # with seq numbered in publish order, the merged replay is the published stream
    seqs = {id(ev): i for i, (_, ev) in enumerate(msgs)}
    for kind, events in by_kind.items():
        buf = ColumnBuffer(kind)
        for ev in events:
            buf.append(ev, seqs[id(ev)])
        write_table(tmp_path / f"y.{kind}.parquet", buf.take(FileMeta(kind, "sim", "ETH/USDT",
                                                                       "1m" if kind == "bars" else None)))
    merged = list(replay([tmp_path / f"y.{k}.parquet" for k in by_kind]))
    assert merged == [ev for _, ev in msgs]


def test_book_messages_regroup_across_batches_and_empty_messages_survive(tmp_path: Path) -> None:
    events = [
        OrderBookDeltas("v", "BTC/USDT", ((100.0, 1.0), (99.5, 2.0)), ((100.5, 3.0),), True, 7, ts_event=T, ts_init=T + 1),
        OrderBookDeltas("v", "BTC/USDT", (), (), False, 8, ts_event=T + 5, ts_init=T + 6),  # nothing changed
        OrderBookDeltas("v", "BTC/USDT", ((99.5, 0.0),), (), False, 9, ts_event=T + 9, ts_init=T + 9),
        OrderBookDeltas("v", "BTC/USDT", (), (), True, 10, ts_event=T + 10, ts_init=T + 11),  # the book cleared
    ] + [OrderBookDeltas("v", "BTC/USDT", tuple((100.0 - i, float(i)) for i in range(5)), ((101.0, 1.0),), False,
                         11 + j, ts_event=T + 20 + j, ts_init=T + 20 + j) for j in range(40)]
    p = _write(tmp_path / "b.parquet", "book", events)
    from quantai_tui.data.reader import iter_keyed

    keyed = list(iter_keyed(p, batch_rows=7))  # batches cut messages in two
    assert [ev for _, _, ev in keyed] == events
    assert pq.read_table(p).num_rows == 3 + 1 + 1 + 1 + 40 * 6


def test_time_window_reads_only_what_is_asked(tmp_path: Path) -> None:
    trades = [TradeTick("v", "BTC/USDT", 100.0 + i, 1.0, AggressorSide.BUYER, str(i), ts_event=T + i * 10**9,
                        ts_init=T + i * 10**9) for i in range(100)]
    p = _write(tmp_path / "t.parquet", "trades", trades)
    got = list(iter_events(p, start_ns=T + 10 * 10**9, end_ns=T + 20 * 10**9))
    assert got == trades[10:20]
    bars = [Bar("v", "BTC/USDT", "1m", 1.0, 2.0, 0.5, 1.5, 10.0, True, ts_event=T + (i + 1) * 60 * 10**9,
                ts_init=T + (i + 1) * 60 * 10**9) for i in range(10)]
    pb = _write(tmp_path / "bars.parquet", "bars", bars, tf="1m")
    # bars are chosen by open time: [T+2m, T+4m) holds the bars opening at 2m and 3m
    assert list(iter_events(pb, start_ns=T + 120 * 10**9, end_ns=T + 240 * 10**9)) == bars[2:4]
    info = file_info(pb)
    assert (info.ts_min, info.ts_max, info.rows) == (bars[0].ts_event, bars[-1].ts_event, 10)
    cols = list(record_batches(p, columns=["price"]))
    assert cols[0].schema.names == ["price"]


def test_foreign_and_broken_files_are_one_clear_error(tmp_path: Path) -> None:
    pq.write_table(pa.table({"a": [1, 2]}), tmp_path / "other.parquet")
    with pytest.raises(DataError, match="not a market data file"):
        list(iter_events(tmp_path / "other.parquet"))
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        file_info(tmp_path / "broken.parquet")
    with pytest.raises(DataError, match="no such data file"):
        file_info(tmp_path / "missing.parquet")


def _quotes(n: int, t0: int = T) -> list[QuoteTick]:
    return [QuoteTick("sim", "BTC/USDT", 100.0, 1.0, 100.5, 2.0, ts_event=t0 + i, ts_init=t0 + i) for i in range(n)]


def test_day_file_parts_merge_sixteen_at_a_time_and_finalize(tmp_path: Path) -> None:
    main = tmp_path / "sim_BTC-USDT_20260101.quotes.parquet"
    meta = FileMeta("quotes", "sim", "BTC/USDT")
    w = DayFileWriter(main, meta, fanout=4)
    events = _quotes(200)
    for i in range(20):
        buf = ColumnBuffer("quotes")
        for j, ev in enumerate(events[i * 10:(i + 1) * 10]):
            buf.append(ev, i * 10 + j)
        w.append(buf.take(meta))
        assert list(iter_events(main)) == events[: (i + 1) * 10]  # readable after every flush
    names = sorted(p.name for p in parts_dir(main).iterdir())
    assert names == ["p0000000001-0000000016.parquet", "p0000000017-0000000020.parquet"]
    assert w.finalize() == main
    assert not parts_dir(main).exists() and physical_files(main) == [main]
    assert list(iter_events(main)) == events
    # a later session appends to the same day: parts continue after what the main file holds
    w2 = DayFileWriter(main, meta)
    more = _quotes(5, T + 10_000)
    buf = ColumnBuffer("quotes")
    for j, ev in enumerate(more):
        buf.append(ev, 1000 + j)
    w2.append(buf.take(meta))
    assert [p.name for p in parts_dir(main).iterdir()] == ["p0000000021-0000000021.parquet"]
    assert list(iter_events(main)) == events + more
    w2.finalize()
    assert list(iter_events(main)) == events + more


def test_leftovers_of_a_crash_are_skipped_and_cleaned(tmp_path: Path) -> None:
    """A kill between a merge's rename and the removal of its sources leaves covered parts; a
    kill during a write leaves a hidden temp file. Readers skip both; the next writer cleans."""
    main = tmp_path / "sim_BTC-USDT_20260101.quotes.parquet"
    meta = FileMeta("quotes", "sim", "BTC/USDT")
    events = _quotes(30)
    d = parts_dir(main)
    d.mkdir()
    for first, last, chunk in ((1, 1, events[:10]), (2, 2, events[10:20]), (1, 2, events[:20]), (3, 3, events[20:])):
        buf = ColumnBuffer("quotes")
        for ev in chunk:
            buf.append(ev, ev.ts_init)
        write_table(d / f"p{first:010d}-{last:010d}.parquet", buf.take(meta))
    (d / ".p0000000004-0000000004.parquet.tmp-1-ab").write_bytes(b"half a file")
    (tmp_path / f".{main.name}.tmp-1-cd").write_bytes(b"half a compaction")
    assert [p.name for p in physical_files(main)] == ["p0000000001-0000000002.parquet", "p0000000003-0000000003.parquet"]
    assert list(iter_events(main)) == events
    w = DayFileWriter(main, meta)
    assert sorted(p.name for p in d.iterdir()) == ["p0000000001-0000000002.parquet", "p0000000003-0000000003.parquet"]
    assert not list(tmp_path.glob(".*tmp*"))
    w.finalize()
    assert list(iter_events(main)) == events

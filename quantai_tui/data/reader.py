"""Reading recordings back: Parquet files -> the same core events, in the same order.

    for ev in replay([trades_path, book_path]): ...                 # one merged stream
    for batch in replay_batches(paths, batch_events=10_000): ...     # lists of events
    for rb in record_batches(path, start_ns=..., end_ns=...): ...    # Arrow, for columnar code

A path is a *logical* file (see data/files.py): its parts are read too, so a recording that
is still running, or was killed, reads like a finished one. Files stream row group by row
group: memory stays flat in the number of rows. Several files merge by (ts_init, seq), which
for one recording is exactly the order the recorder received them.

Time filters are half-open [start_ns, end_ns) on ts_event, except bars, which are selected
by their open time (ts_event minus the timeframe), so "bars from 00:00" starts with the bar
that opens at 00:00.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from quantai_tui.core.errors import DataError
from quantai_tui.core.events import Event
from quantai_tui.data.codec import decoder
from quantai_tui.data.files import logical_path, physical_files
from quantai_tui.data.schema import KINDS, FileMeta, schema, timeframe_ns

BATCH_ROWS = 65_536
PathArg = str | PathLike[str]


@dataclass(frozen=True, slots=True)
class FileInfo:
    """What a logical file holds, from its footers (no row is read)."""

    path: Path
    files: tuple[Path, ...]
    meta: FileMeta
    rows: int
    bytes: int
    ts_min: int  # ts_event range; 0, 0 when empty
    ts_max: int


def _infer_meta(pf: pq.ParquetFile, path: Path) -> FileMeta:
    meta = FileMeta.from_schema(pf.schema_arrow)
    if meta is not None:
        return meta
    names = set(pf.schema_arrow.names)
    for kind in KINDS:
        if kind != "book_snapshots" and set(schema(kind).names) <= names:
            # a file in our schema written by other tools: venue, symbol (and timeframe) from row 0
            cols = ["venue", "symbol"] + (["timeframe"] if kind == "bars" else [])
            first = pf.read_row_group(0, columns=cols).slice(0, 1).to_pylist() if pf.num_row_groups else []
            row = first[0] if first else {"venue": "", "symbol": ""}
            return FileMeta(kind, row["venue"], row["symbol"], row.get("timeframe"), source="external")
    raise DataError(f"{path}: not a market data file in the QuantAI schema (see docs/data.md)")


def _open(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"{path}: not a readable Parquet file ({exc})") from None


def _resolve(path: PathArg) -> tuple[Path, list[Path]]:
    main = logical_path(Path(path))
    files = physical_files(main)
    if not files:
        raise DataError(f"no such data file: {main}")
    return main, files


def file_info(path: PathArg) -> FileInfo:
    main, files = _resolve(path)
    meta: FileMeta | None = None
    rows = size = 0
    lo, hi = None, None
    for f in files:
        pf = _open(f)
        if meta is None:
            meta = _infer_meta(pf, f)
        md = pf.metadata
        rows += md.num_rows
        size += f.stat().st_size
        idx = md.schema.to_arrow_schema().get_field_index("ts_event")
        for i in range(md.num_row_groups):
            st = md.row_group(i).column(idx).statistics
            if st is None or not st.has_min_max:
                continue
            lo = st.min if lo is None else min(lo, st.min)
            hi = st.max if hi is None else max(hi, st.max)
    assert meta is not None
    return FileInfo(main, tuple(files), meta, rows, size, lo or 0, hi or 0)


def _time_window(meta: FileMeta, start_ns: int | None, end_ns: int | None) -> tuple[int | None, int | None]:
    """The window on ts_event: bars are chosen by open time, so shift by the timeframe."""
    if meta.kind == "bars" and meta.timeframe:
        tf = timeframe_ns(meta.timeframe)
        return (None if start_ns is None else start_ns + tf), (None if end_ns is None else end_ns + tf)
    return start_ns, end_ns


def record_batches(path: PathArg, *, start_ns: int | None = None, end_ns: int | None = None,
                   columns: list[str] | None = None, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """Arrow record batches of one logical file in row order, filtered to the time window."""
    _, files = _resolve(path)
    meta: FileMeta | None = None
    for f in files:
        pf = _open(f)
        meta = meta or _infer_meta(pf, f)
        lo, hi = _time_window(meta, start_ns, end_ns)
        groups = _row_groups(pf, lo, hi)
        if not groups:
            continue
        cols = None if columns is None else list(dict.fromkeys([*columns, "ts_event"]))
        for batch in pf.iter_batches(batch_size=batch_rows, row_groups=groups, columns=cols):
            if lo is not None or hi is not None:
                ts = batch.column("ts_event")
                mask = None
                if lo is not None:
                    mask = pc.greater_equal(ts, lo)
                if hi is not None:
                    m2 = pc.less(ts, hi)
                    mask = m2 if mask is None else pc.and_(mask, m2)
                batch = batch.filter(mask)
            if columns is not None and "ts_event" not in columns:
                batch = batch.drop_columns(["ts_event"])
            if batch.num_rows:
                yield batch


def _row_groups(pf: pq.ParquetFile, lo: int | None, hi: int | None) -> list[int]:
    md = pf.metadata
    if lo is None and hi is None:
        return list(range(md.num_row_groups))
    idx = pf.schema_arrow.get_field_index("ts_event")
    out = []
    for i in range(md.num_row_groups):
        st = md.row_group(i).column(idx).statistics
        if st is not None and st.has_min_max and ((lo is not None and st.max < lo) or (hi is not None and st.min >= hi)):
            continue  # the whole row group is outside the window
        out.append(i)
    return out


def iter_keyed(path: PathArg, *, start_ns: int | None = None, end_ns: int | None = None,
               batch_rows: int = BATCH_ROWS) -> Iterator[tuple[int, int, Event]]:
    """(ts_init, seq, event) of one logical file, in file order."""
    info_meta = file_info(path).meta
    feed, finish = decoder(info_meta.kind)
    for batch in record_batches(path, start_ns=start_ns, end_ns=end_ns, batch_rows=batch_rows):
        for seq, ev in feed(batch):
            yield ev.ts_init, seq, ev
    for seq, ev in finish():
        yield ev.ts_init, seq, ev


def iter_events(path: PathArg, *, start_ns: int | None = None, end_ns: int | None = None) -> Iterator[Event]:
    """The events of one logical file, in file order."""
    for _, _, ev in iter_keyed(path, start_ns=start_ns, end_ns=end_ns):
        yield ev


def replay(paths: Iterable[PathArg], *, start_ns: int | None = None, end_ns: int | None = None,
           dedupe_bars: bool = True) -> Iterator[Event]:
    """The events of several logical files merged by (ts_init, seq): the order they were
    received in. With `dedupe_bars`, a bar whose series already had a bar at the same or a later
    close time is skipped (overlapping downloads and recordings hold the same bars)."""
    streams = [iter_keyed(p, start_ns=start_ns, end_ns=end_ns) for p in paths]
    merged = streams[0] if len(streams) == 1 else heapq.merge(*streams, key=lambda t: (t[0], t[1]))
    last_bar: dict[tuple[str, str, str], int] = {}
    for _, _, ev in merged:
        if dedupe_bars and ev.TOPIC == "bars":
            key = (ev.venue, ev.symbol, ev.timeframe)  # type: ignore[attr-defined]
            if ev.ts_event <= last_bar.get(key, -1):
                continue
            last_bar[key] = ev.ts_event
        yield ev


def replay_batches(paths: Iterable[PathArg], *, start_ns: int | None = None, end_ns: int | None = None,
                   batch_events: int = 10_000) -> Iterator[list[Event]]:
    """`replay` in lists of up to `batch_events` events."""
    out: list[Event] = []
    for ev in replay(paths, start_ns=start_ns, end_ns=end_ns):
        out.append(ev)
        if len(out) >= batch_events:
            yield out
            out = []
    if out:
        yield out

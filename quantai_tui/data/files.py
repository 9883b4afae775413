"""Durable Parquet files: atomic writes, and day files that grow by parts and compact.

A *logical file* is a main Parquet file plus, while it is being recorded, a directory of
parts beside it:

    sim_BTC-USDT_20261128.trades.parquet               (after compaction)
    sim_BTC-USDT_20261128.trades.parquet.parts/
        p0000000001-0000000016.parquet                 (parts 1..16, merged)
        p0000000017-0000000017.parquet                 (one flush)

Every write goes to a hidden temp file, is fsynced, renamed into place and the directory
fsynced, so a file is either complete or absent: a kill -9 loses at most the rows not yet
flushed and never leaves an unreadable file. Parts merge 16 at a time (log-structured, so a
row is rewritten O(log n) times, not once per flush); `finalize` folds everything into the
main file and records the last part it holds (`parts_upto`). A crash between a merge's
rename and the removal of its sources leaves sources that are *covered*: readers skip them
and the next writer deletes them.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from quantai_tui.core.errors import DataError
from quantai_tui.data.schema import COMPRESSION, ROW_GROUP_ROWS, FileMeta

PARTS_SUFFIX = ".parts"
_PART_RE = re.compile(r"^p(\d{10})-(\d{10})\.parquet$")
MERGE_FANOUT = 16


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temp_path(path: Path) -> Path:
    """A hidden sibling: readers and the catalog skip names starting with '.'."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")


def atomic_write(path: Path, write: Callable[[Path], None]) -> int:
    """Run `write(tmp)`, fsync, rename onto `path`, fsync the directory. Returns the size."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        size = tmp.stat().st_size
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return size


def write_table(path: Path, table: pa.Table) -> int:
    """Write a whole table atomically (zstd)."""
    return atomic_write(path, lambda tmp: pq.write_table(table, tmp, compression=COMPRESSION,
                                                         row_group_size=ROW_GROUP_ROWS))


def copy_files(path: Path, sources: Iterable[Path], meta: FileMeta) -> int:
    """Concatenate Parquet files of one kind into `path` atomically, streaming row groups of up
    to ROW_GROUP_ROWS rows (memory stays flat however large the sources are)."""
    sch = meta.schema()

    def write(tmp: Path) -> None:
        with pq.ParquetWriter(tmp, sch, compression=COMPRESSION) as w:
            pending: list[pa.RecordBatch] = []
            rows = 0
            for src in sources:
                for batch in pq.ParquetFile(src).iter_batches(batch_size=65_536):
                    pending.append(pa.RecordBatch.from_arrays(batch.columns, schema=sch))
                    rows += batch.num_rows
                    if rows >= ROW_GROUP_ROWS:
                        w.write_table(pa.Table.from_batches(pending, schema=sch))
                        pending, rows = [], 0
            if pending:
                w.write_table(pa.Table.from_batches(pending, schema=sch))

    return atomic_write(path, write)


# --- logical files --------------------------------------------------------------------------------
def parts_dir(main: Path) -> Path:
    return main.with_name(main.name + PARTS_SUFFIX)


def part_name(first: int, last: int) -> str:
    return f"p{first:010d}-{last:010d}.parquet"


def _parts(main: Path) -> list[tuple[int, int, Path]]:
    d = parts_dir(main)
    if not d.is_dir():
        return []
    out = []
    for p in d.iterdir():
        m = _PART_RE.match(p.name)
        if m:
            out.append((int(m.group(1)), int(m.group(2)), p))
    out.sort(key=lambda t: (t[0], -t[1]))
    return out


def read_meta(path: Path) -> FileMeta | None:
    try:
        return FileMeta.from_schema(pq.read_schema(path))
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"{path}: not a readable Parquet file ({exc})") from None


def _layout(main: Path) -> tuple[int, list[tuple[int, int, Path]], list[Path]]:
    """(parts held by the main file, uncovered parts in order, covered leftovers)."""
    upto = 0
    if main.exists():
        meta = read_meta(main)
        upto = meta.parts_upto if meta else 0
    live: list[tuple[int, int, Path]] = []
    dead: list[Path] = []
    covered = upto
    for first, last, p in _parts(main):
        if last <= covered:
            dead.append(p)
        else:
            live.append((first, last, p))
            covered = last
    return upto, live, dead


def physical_files(main: Path) -> list[Path]:
    """The files that make up a logical file, in row order (main first, then its parts)."""
    upto, live, _ = _layout(main)
    out = [main] if main.exists() else []
    return out + [p for _, _, p in live]


def logical_path(path: Path) -> Path:
    """The main path of a part or a parts directory; other paths unchanged."""
    if path.parent.name.endswith(PARTS_SUFFIX) and _PART_RE.match(path.name):
        path = path.parent
    if path.name.endswith(PARTS_SUFFIX):
        return path.with_name(path.name[: -len(PARTS_SUFFIX)])
    return path


class DayFileWriter:
    """Grows one logical file by durable parts; merges them as they pile up; `finalize`
    compacts everything into the main file. Not thread-safe: one writer per file."""

    def __init__(self, main: Path, meta: FileMeta, fanout: int = MERGE_FANOUT) -> None:
        self.main = main
        self.meta = meta
        self.fanout = fanout
        self.bytes_written = 0  # everything written, merges included
        self.data_bytes = 0  # parts appended: the size of the data recorded
        self.rows_written = 0
        upto, live, dead = _layout(main)
        for p in dead:  # sources of a merge that finished just before a crash
            p.unlink(missing_ok=True)
        d = parts_dir(main)
        for stale in list(d.glob(".*.tmp-*")) if d.is_dir() else []:
            stale.unlink(missing_ok=True)
        for stale in main.parent.glob(f".{main.name}.tmp-*"):
            stale.unlink(missing_ok=True)
        self._upto = upto
        self._live = live
        self._next = max([upto] + [last for _, last, _ in live]) + 1

    @property
    def parts(self) -> int:
        return len(self._live)

    def append(self, table: pa.Table) -> int:
        """Write `table` as the next part (durable when this returns). Returns bytes written."""
        if table.num_rows == 0:
            return 0
        n = self._next
        path = parts_dir(self.main) / part_name(n, n)
        size = write_table(path, table.replace_schema_metadata(self.meta.schema().metadata))
        self._next += 1
        self._live.append((n, n, path))
        self.bytes_written += size
        self.data_bytes += size
        self.rows_written += table.num_rows
        self._maybe_merge()
        return size

    def _maybe_merge(self) -> None:
        while len(self._live) >= self.fanout:
            tail = self._live[-self.fanout:]
            span = tail[0][1] - tail[0][0]
            if any(last - first != span for first, last, _ in tail):
                return
            first, last = tail[0][0], tail[-1][1]
            target = parts_dir(self.main) / part_name(first, last)
            self.bytes_written += copy_files(target, [p for _, _, p in tail], self.meta)
            for _, _, p in tail:
                p.unlink(missing_ok=True)
            self._live[-self.fanout:] = [(first, last, target)]

    def finalize(self) -> Path | None:
        """Fold the main file and every part into the main file; remove the parts. Returns the
        main path (None if nothing was ever written)."""
        if not self._live:
            try:
                parts_dir(self.main).rmdir()  # empty after a merge's sources were removed
            except OSError:
                pass
            return self.main if self.main.exists() else None
        sources = ([self.main] if self.main.exists() else []) + [p for _, _, p in self._live]
        last = self._live[-1][1]
        self.bytes_written += copy_files(self.main, sources, self.meta.with_parts_upto(last))
        self._upto = last
        for _, _, p in self._live:
            p.unlink(missing_ok=True)
        self._live = []
        d = parts_dir(self.main)
        try:
            d.rmdir()
        except OSError:
            pass
        return self.main


def compact_leftovers(directory: Path, prefix: str = "") -> list[Path]:
    """Compact every logical file in `directory` whose name starts with `prefix` and still has
    parts (left by a recorder that was killed): each becomes its main file alone. Returns the
    main paths. Call only where no other writer is growing those files."""
    done = []
    for d in sorted(directory.glob(f"{prefix}*{PARTS_SUFFIX}")):
        main = logical_path(d)
        first = next((p for _, _, p in _parts(main)), None)
        meta = read_meta(main) if main.exists() else read_meta(first) if first else None
        if meta is None:
            continue
        path = DayFileWriter(main, meta).finalize()
        if path is not None:
            done.append(path)
    return done

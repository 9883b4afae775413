"""The local catalog: every recorded, imported or downloaded file, found by exchange, symbol,
kind and time range.

    cat = Catalog(paths)                         # recordings_dir + catalog_dir, recursively
    files = cat.find(symbol="BTC/USDT", kind="bars", timeframe="1m", start="2025-03-01", end="2025-03-10")
    for batch in cat.read(files, start="2025-03-01", end="2025-03-10"):   # lists of events, in time order
        ...
    for rb in cat.scan(files, start=..., end=...): ...                  # Arrow batches, one kind

Nothing is indexed by hand: each file's footer says what it holds (kind, venue, symbol,
timeframe in the metadata; the ts_event range in the column statistics). Footers are cached
per Catalog by (path, size, mtime), so repeated queries do not reread them. Times accept
ns ints, datetimes, dates and ISO strings ("2025-03-01", "2025-03-01T12:00"); naive means UTC.
Ranges are half-open [start, end); bars are matched by their open time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from quantai_tui.core.errors import DataError
from quantai_tui.core.events import Event
from quantai_tui.core.symbols import normalize_symbol
from quantai_tui.data.files import PARTS_SUFFIX, logical_path
from quantai_tui.data.reader import FileInfo, file_info, record_batches, replay_batches
from quantai_tui.data.schema import check_kind, timeframe_ns

TimeArg = int | str | date | datetime | None


def to_ns(value: TimeArg) -> int | None:
    """ns since the epoch from an int (ns), a date, a datetime or an ISO string (UTC if naive)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise DataError(f"not a time: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d{13}", text):  # ms, as ccxt and Binance write them
            return int(text) * 1_000_000
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise DataError(f"not a date or time: {value!r} (use e.g. 2025-03-01 or 2025-03-01T12:00)") from None
    else:
        raise DataError(f"not a time: {value!r}")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp()) * 1_000_000_000 + dt.microsecond * 1000


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One logical file. `path` is the file to hand to the readers (its parts come along)."""

    path: Path
    exchange: str
    symbol: str
    kind: str
    timeframe: str | None
    start_ns: int  # first and last ts_event
    end_ns: int
    rows: int
    bytes: int
    source: str
    files: tuple[Path, ...]

    @property
    def open_start_ns(self) -> int:
        """The first bar's open time for bars, else start_ns."""
        return self.start_ns - self._tf()

    @property
    def open_end_ns(self) -> int:
        return self.end_ns - self._tf()

    def _tf(self) -> int:
        return timeframe_ns(self.timeframe) if self.kind == "bars" and self.timeframe else 0

    def __fspath__(self) -> str:
        return str(self.path)


class Catalog:
    def __init__(self, paths: Any = None, dirs: Iterable[Path] | None = None) -> None:
        """`paths`: a quantai_tui.paths.Paths (its recordings_dir and catalog_dir), or give `dirs`."""
        if dirs is None:
            if paths is None:
                from quantai_tui.paths import Paths

                paths = Paths()
            dirs = [paths.recordings_dir, paths.catalog_dir]
        self.dirs = [Path(d) for d in dirs]
        self._cache: dict[Path, tuple[tuple[Any, ...], CatalogEntry | None]] = {}
        self.errors: list[str] = []

    # --- discovery ------------------------------------------------------------------------------
    def _logical_paths(self) -> list[Path]:
        seen: dict[Path, None] = {}
        for d in self.dirs:
            if not d.is_dir():
                continue
            for p in d.rglob("*.parquet"):
                if any(part.startswith(".") for part in p.relative_to(d).parts):
                    continue  # temp files
                if p.parent.name.endswith(PARTS_SUFFIX) or p.is_file():
                    seen.setdefault(logical_path(p))
        return sorted(seen)

    def _entry(self, path: Path) -> CatalogEntry | None:
        try:
            st = path.stat() if path.exists() else None
            parts = path.with_name(path.name + PARTS_SUFFIX)
            pst = parts.stat() if parts.is_dir() else None
            sig = (st and (st.st_size, st.st_mtime_ns), pst and pst.st_mtime_ns,
                   tuple(sorted(p.name for p in parts.iterdir())) if pst else ())
        except OSError:
            return None
        hit = self._cache.get(path)
        if hit is not None and hit[0] == sig:
            return hit[1]
        try:
            info: FileInfo = file_info(path)
        except DataError as exc:
            self.errors.append(str(exc))
            self._cache[path] = (sig, None)
            return None
        m = info.meta
        entry = CatalogEntry(path, m.venue, m.symbol, m.kind, m.timeframe, info.ts_min, info.ts_max, info.rows,
                             info.bytes, m.source, info.files) if info.rows else None
        self._cache[path] = (sig, entry)
        return entry

    def entries(self) -> list[CatalogEntry]:
        """Everything in the catalog (empty files left out), by exchange, symbol, kind, start."""
        self.errors = []
        out = [e for p in self._logical_paths() if (e := self._entry(p)) is not None]
        out.sort(key=lambda e: (e.exchange, e.symbol, e.kind, e.timeframe or "", e.start_ns, str(e.path)))
        return out

    def find(self, symbol: str | None = None, kind: str | None = None, timeframe: str | None = None,
             start: TimeArg = None, end: TimeArg = None, exchange: str | None = None) -> list[CatalogEntry]:
        """Files that hold `kind` data of `symbol` overlapping [start, end), oldest first.
        `timeframe` narrows bars ("1m"); `exchange` narrows the venue."""
        sym = normalize_symbol(symbol) if symbol else None
        if kind is not None:
            check_kind(kind)
        lo, hi = to_ns(start), to_ns(end)
        out = []
        for e in self.entries():
            if sym is not None and e.symbol != sym:
                continue
            if kind is not None and e.kind != kind:
                continue
            if timeframe is not None and e.timeframe != timeframe:
                continue
            if exchange is not None and e.exchange != exchange.lower():
                continue
            if lo is not None and e.open_end_ns < lo:
                continue
            if hi is not None and e.open_start_ns >= hi:
                continue
            out.append(e)
        out.sort(key=lambda e: (e.start_ns, e.exchange, str(e.path)))
        return out

    # --- reading ----------------------------------------------------------------------------------
    def read(self, entries: Iterable[CatalogEntry | Path], start: TimeArg = None, end: TimeArg = None,
             batch_events: int = 10_000) -> Iterator[list[Event]]:
        """Events of the files merged in time order ((ts_init, seq)), in lists of up to
        `batch_events`; memory stays flat however many rows there are. Duplicate bars from
        overlapping files are dropped."""
        paths = [e.path if isinstance(e, CatalogEntry) else Path(e) for e in entries]
        if not paths:
            return iter(())
        return replay_batches(paths, start_ns=to_ns(start), end_ns=to_ns(end), batch_events=batch_events)

    def scan(self, entries: Iterable[CatalogEntry | Path], start: TimeArg = None, end: TimeArg = None,
             columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        """Arrow record batches file after file (one kind; for columnar code such as sweeps).
        Files are taken in time order; rows are not merged across overlapping files."""
        lo, hi = to_ns(start), to_ns(end)
        for e in entries:
            yield from record_batches(e.path if isinstance(e, CatalogEntry) else Path(e), start_ns=lo, end_ns=hi,
                                      columns=columns)

    def bar_coverage(self, exchange: str, symbol: str, timeframe: str, start: TimeArg = None,
                      end: TimeArg = None) -> list[tuple[int, int]]:
        """Covered [first open, last open] ranges of bars in [start, end), merged and sorted."""
        spans = sorted((e.open_start_ns, e.open_end_ns) for e in
                       self.find(symbol, "bars", timeframe, start, end, exchange))
        merged: list[list[int]] = []
        tf = timeframe_ns(timeframe)
        for a, b in spans:
            if merged and a <= merged[-1][1] + tf:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        return [(a, b) for a, b in merged]

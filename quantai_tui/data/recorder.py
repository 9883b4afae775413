"""The recorder: market data events from the bus -> durable Parquet day files.

It is an async bus subscriber (`subscribe_recorder`), so it never slows the engine: `on_event`
only appends to column lists; every `flush_interval_s` the lists are swapped out and written
as a durable part in a worker thread (data/files.py), so a kill -9 loses at most one flush
interval. Files are per venue, symbol, kind and UTC day (of ts_init), named by
`schema.file_name`; when the clock passes midnight the previous day's files are compacted
into their final form. `close()` flushes and compacts everything, including the parts a
killed session left of this recorder's symbols (kinds or days this session never wrote).

Each message gets a `seq` (session start in ns + message number), strictly increasing
across kinds and across recordings, so a replay merged by (ts_init, seq) returns the events
in the order they were published. For books, the recorder also keeps its own L2 book and
writes a full snapshot to the `book_snapshots` file at the start of each day file and every
`snapshot_interval_s`, so a reader can start anywhere without the day's first message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from quantai_tui.core.clock import Clock, LiveClock
from quantai_tui.core.events import Event, OrderBookDeltas
from quantai_tui.data.codec import KIND_OF, ColumnBuffer
from quantai_tui.data.files import DayFileWriter, compact_leftovers
from quantai_tui.core.symbols import file_token
from quantai_tui.data.schema import FileMeta, file_name

log = logging.getLogger("quantai.data.recorder")

DAY_NS = 86_400 * 1_000_000_000
# (venue, symbol, kind, timeframe, day index)
Key = tuple[str, str, str, str | None, int]


def day_string(day_index: int) -> str:
    return datetime.fromtimestamp(day_index * 86_400, tz=UTC).strftime("%Y%m%d")


class Recorder:
    def __init__(
        self,
        out_dir: Path,
        *,
        clock: Clock | None = None,
        flush_interval_s: float = 2.0,
        snapshot_interval_s: float = 60.0,
        source: str = "record",
    ) -> None:
        self.out_dir = Path(out_dir)
        self.clock: Clock = clock or LiveClock()
        self.flush_interval_s = max(0.05, float(flush_interval_s))
        self.snapshot_interval_ns = int(snapshot_interval_s * 1e9)
        self.source = source
        self.seq = time.time_ns()  # see the module docstring
        self.messages = 0
        self.flushes = 0
        self._buffers: dict[Key, ColumnBuffer] = {}
        self._writers: dict[Key, DayFileWriter] = {}
        self._books: dict[tuple[str, str], tuple[dict[float, float], dict[float, float]]] = {}
        self._last_snap: dict[tuple[str, str], tuple[int, int]] = {}  # -> (day, ts_init)
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._bytes_done = 0  # by writers already finalized and dropped
        self.files_done: list[Path] = []
        self._accept: set[tuple[str, str, str]] | None = None
        self._pairs: set[tuple[str, str]] = set()  # (venue, symbol) written

    # --- the bus side: cheap, synchronous ------------------------------------------------------------
    def accept(self, venue: str, symbols: Iterable[str], kinds: Iterable[str]) -> None:
        """Record only these (adds to what was accepted before; by default everything)."""
        if self._accept is None:
            self._accept = set()
        kinds = list(kinds)
        self._accept.update((venue, s, k) for s in symbols for k in kinds)

    def on_event(self, ev: Event) -> None:
        kind = KIND_OF.get(type(ev))
        if kind is None or self._closed:
            return
        if self._accept is not None and (ev.venue, ev.symbol, kind) not in self._accept:  # type: ignore[attr-defined]
            return
        self.seq += 1
        seq = self.seq
        day = ev.ts_init // DAY_NS
        tf = getattr(ev, "timeframe", None) if kind == "bars" else None
        key = (ev.venue, ev.symbol, kind, tf, day)  # type: ignore[attr-defined]
        buf = self._buffers.get(key)
        if buf is None:
            buf = self._buffers[key] = ColumnBuffer(kind)
        buf.append(ev, seq)
        self.messages += 1
        if kind == "book":
            self._track_book(ev, seq, day)  # type: ignore[arg-type]

    def _track_book(self, ev: OrderBookDeltas, seq: int, day: int) -> None:
        # plain dicts: sorted only when a snapshot is taken, which is rare
        bk = (ev.venue, ev.symbol)
        book = self._books.get(bk)
        if book is None:
            book = self._books[bk] = ({}, {})
        bids, asks = book
        if ev.is_snapshot:
            bids.clear()
            asks.clear()
        for side, levels in ((bids, ev.bids), (asks, ev.asks)):
            for p, q in levels:
                if q > 0.0:
                    side[p] = q
                else:
                    side.pop(p, None)
        last = self._last_snap.get(bk)
        if last is None or last[0] != day or ev.ts_init - last[1] >= self.snapshot_interval_ns:
            self._last_snap[bk] = (day, ev.ts_init)
            key = (ev.venue, ev.symbol, "book_snapshots", None, day)
            buf = self._buffers.get(key)
            if buf is None:
                buf = self._buffers[key] = ColumnBuffer("book_snapshots")
            snap = OrderBookDeltas.make(ev.venue, ev.symbol, tuple(sorted(bids.items(), reverse=True)),
                                        tuple(sorted(asks.items())), True, ev.sequence, ev.ts_event, ev.ts_init)
            buf.append(snap, seq)

    # --- the writing side ---------------------------------------------------------------------------
    def start(self) -> asyncio.Task[None]:
        """Flush every flush_interval_s from a task (call inside a running loop)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="recorder-flush")
        return self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval_s)
            try:
                await self.flush()
            except Exception:
                log.exception("recorder flush failed; retrying at the next interval")

    async def flush(self, final: bool = False) -> None:
        """Write what is buffered as durable parts (in a thread); compact the files of days
        that are over (all files when `final`)."""
        async with self._lock:
            buffers, self._buffers = self._buffers, {}
            today = self.clock.timestamp_ns() // DAY_NS
            write = asyncio.ensure_future(asyncio.to_thread(self._write, buffers, today, final))
            try:
                await asyncio.shield(write)
            except asyncio.CancelledError:
                # A cancelled await does not stop the thread: keep the lock until it is done, or
                # close()'s final write would finalize files this one is still appending to.
                await write
                raise
            self.flushes += 1

    def _write(self, buffers: dict[Key, ColumnBuffer], today: int, final: bool) -> None:
        for key, buf in buffers.items():
            if not len(buf):
                continue
            venue, symbol, kind, tf, day = key
            w = self._writers.get(key)
            if w is None:
                meta = FileMeta(kind, venue, symbol, tf, source=self.source)
                path = self.out_dir / file_name(venue, symbol, day_string(day), kind, tf)
                w = self._writers[key] = DayFileWriter(path, meta)
            w.append(buf.take(w.meta))
        for key in [k for k in self._writers if final or k[4] < today]:
            w = self._writers.pop(key)
            path = w.finalize()
            self._bytes_done += w.data_bytes
            self._pairs.add((key[0], key[1]))
            if path is not None:
                self.files_done.append(path)
        if final:  # parts a killed session left of files this one never wrote (a kind, a day)
            for venue, symbol in sorted(self._pairs | {(v, s) for v, s, _ in self._accept or ()}):
                self.files_done += compact_leftovers(self.out_dir, f"{venue}_{file_token(symbol)}_")

    async def close(self) -> list[Path]:
        """Stop the flush task, write everything, compact every file. Returns the files."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self.flush(final=True)
        self._closed = True
        return sorted(set(self.files_done))

    # --- progress ------------------------------------------------------------------------------------
    @property
    def bytes_written(self) -> int:
        """Bytes of data recorded (parts appended; merges and compaction not counted)."""
        return self._bytes_done + sum(w.data_bytes for w in list(self._writers.values()))

    @property
    def pending(self) -> int:
        return sum(b.messages for b in list(self._buffers.values()))

    def stats(self) -> dict[str, int]:
        return {
            "messages": self.messages,
            "pending": self.pending,
            "bytes": self.bytes_written,
            "files": len(list(self._writers)) + len(self.files_done),
            "flushes": self.flushes,
        }


def subscribe_recorder(bus: Any, recorder: Recorder, venue: str, symbols: Iterable[str],
                       kinds: Iterable[str] = ("trades", "book", "quotes", "bars"), maxsize: int = 1_000_000) -> Any:
    """Subscribe `recorder` to a MessageBus (duck-typed: data/ does not import the engine) as
    one async subscriber, so it sees the venue's messages in publish order. Returns the
    subscriber: start it with `await bus.start()` (or `sub.start()`), and the recorder's flush
    task with `recorder.start()`; `sub.dropped` counts messages lost to a full queue."""
    recorder.accept(venue, symbols, kinds)
    return bus.subscribe_async(f"*.{venue}.*", recorder.on_event, types=tuple(KIND_OF), maxsize=maxsize,
                               name=f"recorder:{venue}")

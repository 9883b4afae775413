"""The event store on SQLite: append-only, one writer task, group commit.

    store = EventStore(path, synchronous="NORMAL")
    await store.open()
    seq = await store.append(event)                 # returns after COMMIT (durable)
    seq = store.append_nowait(event)                # queued; committed with the next group
    async for seq, ev in store.replay(from_seq=0, types={"OrderFilled"}): ...
    await store.close()                             # flushes everything queued

Every event gets its `seq` when appended (in memory, in order); the writer commits queued
events in groups (one executemany + COMMIT per group), so many appenders share one fsync.
`append` resolves only after its group committed: that is what "durable" means here. Commit
listeners (the headless printer, the UI) are told (seq, event) pairs after each COMMIT.

`synchronous`: FULL syncs the WAL on every commit (survives power loss; default for live),
NORMAL syncs at checkpoints (a process crash never loses a commit, a power cut may lose the
last ones; default for paper and backtest). See docs/store.md.

Where a commit runs: with NORMAL (or OFF) a commit is a write into the OS page cache, ~50-150 us
for a small group, cheaper than the two thread hops (and GIL hand-offs) it takes to run it on
the SQLite thread: groups of up to `inline_max` events commit on the event loop's thread, on a
writer connection of their own. Larger groups, every commit under FULL/EXTRA (an fsync each)
and a group that finds the database locked go to the SQLite thread, so the loop never waits for
a disk or a lock.

Checkpoints: SQLite's own auto-checkpoint runs inside whichever commit crosses its threshold
(an fsync of the WAL, pages copied, an fsync of the database: ~10-20 ms, every ~120 order
groups). Instead, a checkpoint thread with its own connection copies the WAL into the database
every `checkpoint_events` events (a passive checkpoint never blocks a commit), and every
`restart_events` events one group is committed on the SQLite thread right after a checkpoint of
the little that is left, so the WAL starts over from its beginning (it cannot while commits keep
landing during the background checkpoint) and stays bounded.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import aiosqlite

from quantai_tui.core.errors import StoreCorruptError, StoreError, StoreForeignError
from quantai_tui.core.events import Event
from quantai_tui.store.codecs import decode, encode
from quantai_tui.store.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION

log = logging.getLogger("quantai.store")

SYNC_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")
BUSY_TIMEOUT_MS = 5000
_INSERT = "INSERT INTO events(seq, type, topic, ts_event, ts_init, payload) VALUES (?, ?, ?, ?, ?, ?)"

CommitListener = Callable[[list[tuple[int, Event]]], Any]


def inspect_file(path: Path) -> int:
    """Check that `path` is ours (or new) without writing; return its schema version (0 = new).

    Raises StoreCorruptError for a file that is not SQLite or is damaged, StoreForeignError for
    a SQLite database that belongs to some other program."""
    if not path.exists() or path.stat().st_size == 0:
        return 0
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            app_id = con.execute("PRAGMA application_id").fetchone()[0]
            version = con.execute("PRAGMA user_version").fetchone()[0]
            tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise StoreCorruptError(f"{path} is not a readable event store ({exc}); it was left untouched") from None
    if app_id != APPLICATION_ID:
        if app_id == 0 and not tables:
            return 0
        raise StoreForeignError(f"{path} is a SQLite database of another program; refusing to use it")
    if version > SCHEMA_VERSION:
        raise StoreError(f"{path} has schema version {version}, newer than this program's {SCHEMA_VERSION}")
    return version


class _Checkpointer:
    """Runs `PRAGMA wal_checkpoint(PASSIVE)` on its own thread and connection when poked.

    A passive checkpoint never takes the write lock: commits go on appending to the WAL while it
    copies pages into the database and syncs (as the store's `synchronous` says)."""

    def __init__(self, path: Path, synchronous: str) -> None:
        self.path = path
        self.synchronous = synchronous
        self.runs = 0
        self.lock = threading.Lock()  # held while checkpointing: the writer's own checkpoint waits for it
        self._poke = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="store-checkpoint", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        self._poke.set()

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA synchronous={self.synchronous}")  # the checkpoint's syncs follow it
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        except sqlite3.Error:
            log.exception("event store checkpoint thread could not open %s", self.path)
            return
        try:
            while True:
                self._poke.wait()
                self._poke.clear()
                if self._stopping:
                    return
                try:
                    with self.lock:
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.runs += 1
                except sqlite3.Error:
                    log.exception("event store checkpoint failed (the next one retries)")
        finally:
            conn.close()

    def stop(self) -> None:
        self._stopping = True
        self._poke.set()
        self._thread.join()


class EventStore:
    def __init__(self, path: str | Path, *, synchronous: str = "NORMAL", max_batch: int = 5000,
                 inline_max: int = 32, checkpoint_events: int = 500, restart_events: int = 2000) -> None:
        sync = synchronous.upper()
        if sync not in SYNC_MODES:
            raise StoreError(f"store synchronous must be one of {', '.join(SYNC_MODES)}, got {synchronous!r}")
        self.path = Path(path)
        self.synchronous = sync
        self.max_batch = max_batch
        # groups up to this many events commit on the loop's thread when a commit does not sync
        # (NORMAL, OFF); 0: every commit on the SQLite thread
        self.inline_max = inline_max if sync in ("OFF", "NORMAL") else 0
        # a WAL checkpoint on the checkpoint thread after this many committed events, and the WAL
        # started over after `restart_events` (0: SQLite's own auto-checkpoint, inside a commit)
        self.checkpoint_events = checkpoint_events
        self.restart_events = max(restart_events, checkpoint_events)
        self._db: aiosqlite.Connection | None = None
        self._wconn: sqlite3.Connection | None = None  # the writer's connection
        self._checkpointer: _Checkpointer | None = None
        self._since_checkpoint = 0
        self._since_restart = 0
        self._restart_due = False
        self._next_seq = 1
        self._committed_seq = 0
        self._queue: list[tuple[int, str, Event]] = []  # (seq, topic, event), in seq order
        self._gen: asyncio.Future[None] | None = None  # waiters of what is queued now
        self._writing: asyncio.Future[None] | None = None  # waiters of the group being written
        self._failures: list[tuple[int, int, StoreError]] = []
        self._wake: asyncio.Event | None = None
        self._writer: asyncio.Task[None] | None = None
        self._listeners: list[CommitListener] = []
        self._closing = False
        self.commits = 0
        self.committed_events = 0
        self.write_errors = 0
        self.wal_restarts = 0  # commits that started the WAL over (after a checkpoint of all of it)

    # --- lifecycle ----------------------------------------------------------------------------
    async def open(self) -> None:
        version = inspect_file(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = aiosqlite.connect(self.path, isolation_level=None)
            # A forgotten close() must not keep the process alive at exit; a half-done commit
            # cut at exit is the same as a crash, which SQLite's journal already survives.
            thread = getattr(conn, "_thread", None)
            if thread is not None:
                thread.daemon = True
            db = await conn
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute(f"PRAGMA synchronous={self.synchronous}")
            await db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            await self._migrate(db, version)
            async with db.execute("SELECT COALESCE(MAX(seq), 0) FROM events") as cur:
                row = await cur.fetchone()
        except sqlite3.DatabaseError as exc:
            raise StoreCorruptError(f"{self.path}: {exc}; it was left untouched") from None
        wconn: sqlite3.Connection | None = None
        try:
            # The writer's own connection: used on the loop's thread (small groups) and on the
            # SQLite thread (large groups, syncing commits), never on both at once.
            wconn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            wconn.execute(f"PRAGMA synchronous={self.synchronous}")
            # never wait for a lock on the loop's thread: a group that finds the database locked
            # (another writer) goes to the SQLite thread, which waits up to BUSY_TIMEOUT_MS
            wconn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS if not self.inline_max else 0}")
            if self.checkpoint_events:
                # a safety net only (the WAL restarts every restart_events, ~1.4 pages per event)
                wconn.execute(f"PRAGMA wal_autocheckpoint={max(1000, self.restart_events * 5)}")
        except sqlite3.DatabaseError as exc:
            if wconn is not None:
                wconn.close()
            await db.close()
            raise StoreCorruptError(f"{self.path}: {exc}; it was left untouched") from None
        self._wconn = wconn
        if self.checkpoint_events:
            self._checkpointer = _Checkpointer(self.path, self.synchronous)
        self._db = db
        self._committed_seq = int(row[0]) if row else 0
        self._next_seq = self._committed_seq + 1
        self._wake = asyncio.Event()
        self._closing = False
        self._writer = asyncio.get_running_loop().create_task(self._write_loop(), name="store-writer")

    async def _migrate(self, db: aiosqlite.Connection, version: int) -> None:
        if version == SCHEMA_VERSION:
            return
        await db.execute("BEGIN IMMEDIATE")
        try:
            for v in range(version, SCHEMA_VERSION):
                for stmt in _statements(MIGRATIONS[v]):
                    await db.execute(stmt)
            await db.execute(f"PRAGMA application_id={APPLICATION_ID}")
            await db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        log.info("event store %s migrated from schema %d to %d", self.path, version, SCHEMA_VERSION)

    async def close(self) -> None:
        """Commit everything queued, then close."""
        if self._db is None:
            return
        self._closing = True
        if self._wake is not None:
            self._wake.set()
        if self._writer is not None:
            await self._writer
        # both off the loop (on the SQLite thread): the checkpoint thread may be mid-checkpoint,
        # and closing a connection may checkpoint
        if self._checkpointer is not None:
            await self._db._execute(self._checkpointer.stop)  # noqa: SLF001
            self._checkpointer = None
        if self._wconn is not None:
            await self._db._execute(self._wconn.close)  # noqa: SLF001
            self._wconn = None
        await self._db.close()
        self._db = None

    @property
    def is_open(self) -> bool:
        return self._db is not None

    # --- appending ----------------------------------------------------------------------------
    def append_nowait(self, event: Event, topic: str = "") -> int:
        """Queue an event; it is committed with the next group. Returns its seq."""
        return self._enqueue(event, topic)

    async def append(self, event: Event, durable: bool = True, topic: str = "") -> int:
        """Append an event; with durable=True return only after its group is committed."""
        seq = self._enqueue(event, topic)
        if durable:
            # One future per group, shared by every appender in it: no per-event future.
            await self._generation()
            self._raise_if_failed(seq)
        return seq

    async def append_many(self, events: Iterable[Event], durable: bool = True) -> list[int]:
        seqs = [self._enqueue(e, "") for e in events]
        if durable and seqs:
            await self.wait_durable(seqs[-1])
        return seqs

    def _enqueue(self, event: Event, topic: str) -> int:
        if self._db is None or self._closing:
            raise StoreError("the event store is not open")
        seq = self._next_seq
        self._next_seq = seq + 1
        self._queue.append((seq, topic, event))
        assert self._wake is not None
        self._wake.set()
        return seq

    def _generation(self) -> asyncio.Future[None]:
        """The future that resolves when everything queued so far is committed."""
        if self._gen is None:
            self._gen = asyncio.get_running_loop().create_future()
        return self._gen

    def _raise_if_failed(self, seq: int) -> None:
        for lo, hi, err in self._failures:
            if lo <= seq <= hi:
                raise err

    async def wait_durable(self, seq: int) -> None:
        """Return once `seq` (and everything before it) is committed."""
        if seq >= self._next_seq:
            raise StoreError(f"seq {seq} was never appended")
        while self._committed_seq < seq:
            if self._db is None:
                raise StoreError("the event store closed before the event was committed")
            if not self._queue and self._gen is None and self._writing is None:
                break  # nothing left to commit: the seq failed
            await (self._writing if self._writing is not None and not self._queue else self._generation())
        self._raise_if_failed(seq)

    async def flush(self) -> None:
        if self._next_seq > 1:
            await self.wait_durable(self._next_seq - 1)

    @property
    def last_seq(self) -> int:
        """The seq of the newest event appended (committed or not)."""
        return self._next_seq - 1

    @property
    def committed_seq(self) -> int:
        return self._committed_seq

    def add_commit_listener(self, listener: CommitListener) -> None:
        """`listener([(seq, event), ...])` is called after every COMMIT, in seq order."""
        self._listeners.append(listener)

    def remove_commit_listener(self, listener: CommitListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    # --- the single writer --------------------------------------------------------------------
    async def _write_loop(self) -> None:
        assert self._wake is not None and self._db is not None
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            # Take the whole queue and its waiters' future at once (no await in between).
            batch, self._queue = self._queue, []
            gen, self._gen = self._gen, None
            self._writing = gen
            for i in range(0, len(batch), self.max_batch):
                chunk = batch[i : i + self.max_batch]
                if self._restart_due:
                    self._restart_due = False
                    await self._commit(chunk, restart=True)
                elif len(chunk) > self.inline_max or not self._commit_inline(chunk):
                    await self._commit(chunk)
            self._writing = None
            if gen is not None and not gen.done():
                gen.set_result(None)

    def _fail(self, lo: int, hi: int, err: StoreError) -> None:
        self._failures.append((lo, hi, err))
        del self._failures[:-256]  # waiters check right after their group; old entries are moot

    def _rows(self, batch: list[tuple[int, str, Event]],
              failed: list[tuple[int, Event, Exception]]) -> Iterator[tuple[int, str, str, int, int, str]]:
        """The rows of a group, encoded as executemany consumes them (on whichever thread
        commits); an unencodable event is left out and noted in `failed`."""
        for seq, topic, ev in batch:
            try:
                name, ts_event, ts_init, payload = encode(ev)
            except Exception as exc:
                failed.append((seq, ev, exc))
                continue
            yield (seq, name, topic, ts_event, ts_init, payload)

    def _commit_inline(self, batch: list[tuple[int, str, Event]]) -> bool:
        """Commit a small group right here, on the loop's thread (no sync per commit). False,
        with nothing written, if the database is locked by another writer: then the group
        goes to the SQLite thread, which may wait for the lock."""
        conn = self._wconn
        assert conn is not None
        failed: list[tuple[int, Event, Exception]] = []
        try:
            _write_group(conn, self._rows(batch, failed), "BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF in _LOCKED:  # extended codes: BUSY_*, LOCKED_*
                return False
            self._write_failed(batch, exc)
            return True
        except Exception as exc:
            self._write_failed(batch, exc)
            return True
        self._committed(batch, failed)
        return True

    async def _commit(self, batch: list[tuple[int, str, Event]], restart: bool = False) -> None:
        """Commit a group on the SQLite thread: BEGIN, INSERT, COMMIT in one hop; with `restart`,
        after a checkpoint of what is left in the WAL, so that this commit starts it over."""
        assert self._db is not None and self._wconn is not None
        failed: list[tuple[int, Event, Exception]] = []
        try:
            lock = self._checkpointer.lock if restart and self._checkpointer is not None else None
            if await self._db._execute(_write_group_threaded, self._wconn, self._rows(batch, failed),  # noqa: SLF001
                                       0 if self.inline_max else None, lock):
                self.wal_restarts += 1
        except Exception as exc:
            self._write_failed(batch, exc)
            return
        self._committed(batch, failed)

    def _write_failed(self, batch: list[tuple[int, str, Event]], exc: Exception) -> None:
        self.write_errors += len(batch)
        log.error("event store commit of %d events failed: %r", len(batch), exc)
        self._fail(batch[0][0], batch[-1][0], StoreError(f"event store write failed: {exc}"))

    def _committed(self, batch: list[tuple[int, str, Event]], failed: list[tuple[int, Event, Exception]]) -> None:
        bad = set()
        for seq, ev, exc in failed:
            self.write_errors += 1
            bad.add(seq)
            log.error("event %s seq %d could not be encoded: %r", type(ev).__name__, seq, exc)
            self._fail(seq, seq, StoreError(f"cannot store {type(ev).__name__}: {exc}"))
        done = [(seq, ev) for seq, _, ev in batch if seq not in bad] if bad else [(seq, ev) for seq, _, ev in batch]
        self._committed_seq = max(self._committed_seq, batch[-1][0])
        self.commits += 1
        self.committed_events += len(done)
        if self._checkpointer is not None:
            n = len(batch)
            self._since_checkpoint += n
            self._since_restart += n
            if self._since_restart >= self.restart_events:
                self._since_restart = self._since_checkpoint = 0
                self._restart_due = True  # the next group, on the SQLite thread
            elif self._since_checkpoint >= self.checkpoint_events:
                self._since_checkpoint = 0
                self._checkpointer.poke()
        for listener in self._listeners:
            try:
                listener(done)
            except Exception:
                log.exception("commit listener failed")

    # --- reading ------------------------------------------------------------------------------
    async def replay(
        self, from_seq: int = 0, types: Iterable[str] | None = None, page: int = 2000
    ) -> AsyncIterator[tuple[int, Event]]:
        """Committed events with seq >= from_seq, in order (optionally only some types)."""
        if self._db is None:
            raise StoreError("the event store is not open")
        type_list = sorted(set(types)) if types else None
        last = from_seq - 1
        while True:
            sql = "SELECT seq, type, ts_event, ts_init, payload FROM events WHERE seq > ?"
            args: list[Any] = [last]
            if type_list:
                sql += f" AND type IN ({','.join('?' * len(type_list))})"
                args += type_list
            sql += " ORDER BY seq LIMIT ?"
            args.append(page)
            async with self._db.execute(sql, args) as cur:
                rows = await cur.fetchall()
            for seq, name, ts_event, ts_init, payload in rows:
                yield seq, decode(name, ts_event, ts_init, payload)
            if len(rows) < page:
                return
            last = rows[-1][0]

    async def count(self) -> int:
        assert self._db is not None
        async with self._db.execute("SELECT COUNT(*) FROM events") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def put_snapshot(self, name: str, seq: int, payload: str) -> None:
        assert self._db is not None
        await self.flush()
        await self._db.execute(
            "INSERT INTO snapshots(name, seq, payload) VALUES (?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET seq=excluded.seq, payload=excluded.payload",
            (name, seq, payload),
        )

    async def get_snapshot(self, name: str) -> tuple[int, str] | None:
        assert self._db is not None
        async with self._db.execute("SELECT seq, payload FROM snapshots WHERE name = ?", (name,)) as cur:
            row = await cur.fetchone()
        return (int(row[0]), str(row[1])) if row else None


_LOCKED = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}


def _write_group(conn: sqlite3.Connection, rows: Iterator[tuple[int, str, str, int, int, str]],
                 begin: str = "BEGIN") -> None:
    """One group: BEGIN, INSERT every row, COMMIT (ROLLBACK if anything fails)."""
    conn.execute(begin)
    try:
        conn.executemany(_INSERT, rows)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _write_group_threaded(conn: sqlite3.Connection, rows: Iterator[tuple[int, str, str, int, int, str]],
                          busy_timeout_after: int | None, restart: threading.Lock | None) -> bool:
    """_write_group on the SQLite thread. Here the connection may wait for a lock (on the loop's
    thread it does not: `busy_timeout_after`); with `restart` (the checkpoint thread's lock: one
    checkpoint at a time), a checkpoint first: the writer is paused, nothing lands after it, so
    this commit starts the WAL over (unless a reader still uses it). True if it did."""
    if busy_timeout_after is not None:
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    restarted = False
    try:
        if restart is not None:
            try:
                with restart:
                    busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                restarted = not busy and frames == copied
            except sqlite3.Error:
                log.warning("event store checkpoint before a WAL restart failed", exc_info=True)
        _write_group(conn, rows)
    finally:
        if busy_timeout_after is not None:
            conn.execute(f"PRAGMA busy_timeout={busy_timeout_after}")
    return restarted


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip() and not s.strip().startswith("--")]


def read_events(
    path: str | Path, from_seq: int = 0, types: Iterable[str] | None = None, page: int = 5000
) -> Iterator[tuple[int, Event]]:
    """Read committed events without an event loop (CLI export/tail). Opens read-only."""
    p = Path(path)
    if not p.exists():
        raise StoreError(f"no event store at {p}")
    inspect_file(p)
    type_list = sorted(set(types)) if types else None
    con = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
    try:
        last = from_seq - 1
        while True:
            sql = "SELECT seq, type, ts_event, ts_init, payload FROM events WHERE seq > ?"
            args: list[Any] = [last]
            if type_list:
                sql += f" AND type IN ({','.join('?' * len(type_list))})"
                args += type_list
            sql += " ORDER BY seq LIMIT ?"
            args.append(page)
            try:
                rows = con.execute(sql, args).fetchall()
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    return
                raise StoreCorruptError(f"{p}: {exc}") from None
            except sqlite3.DatabaseError as exc:
                raise StoreCorruptError(f"{p}: {exc}") from None
            for seq, name, ts_event, ts_init, payload in rows:
                yield seq, decode(name, ts_event, ts_init, payload)
            if len(rows) < page:
                return
            last = rows[-1][0]
    finally:
        con.close()

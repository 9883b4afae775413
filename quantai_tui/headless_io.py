"""Headless mode's plumbing: durable events to stdout as JSON lines, logging to stderr and the
log file, the one-engine-per-profile lock, and a look at the store before the engine opens it.

    printer = JsonLinePrinter(sys.stdout.buffer, on_broken=...)
    printer.start(); store.add_commit_listener(printer)     # one line per committed event
    ...
    printer.close()                                         # writes what is queued, then stops
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from quantai_tui.core.events import Event
    from quantai_tui.paths import Paths

log = logging.getLogger("quantai.headless")
MARKET_TYPES = frozenset({"TradeTick", "QuoteTick", "OrderBookDeltas", "Bar"})


# --- stdout ----------------------------------------------------------------------------------------
class JsonLinePrinter:
    """A store commit listener: every durable event becomes one JSON line on `out`, written by a
    thread (the engine never waits for the reader). `hold()` buffers while stored events are
    caught up (`--from-seq`), so lines stay in seq order."""

    def __init__(self, out: BinaryIO, on_broken: Callable[[], None] | None = None) -> None:
        self.out = out
        self.on_broken = on_broken
        self._q: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write_loop, name="stdout-writer", daemon=True)
        self._held: list[tuple[int, bytes]] | None = None
        self.enqueued = 0
        self.written = 0
        self.first_seq: int | None = None
        self.last_seq = 0
        self.broken = False

    @staticmethod
    def encode(batch: list[tuple[int, Event]]) -> tuple[bytes, int]:
        import orjson

        from quantai_tui.store.codecs import to_record

        lines = [orjson.dumps(to_record(seq, ev)) for seq, ev in batch if type(ev).__name__ not in MARKET_TYPES]
        return b"".join(line + b"\n" for line in lines), len(lines)

    def __call__(self, batch: list[tuple[int, Event]]) -> None:
        if not batch:
            return
        if self.first_seq is None:
            self.first_seq = batch[0][0]
        self.last_seq = batch[-1][0]
        data, n = self.encode(batch)
        if self._held is not None:
            self._held.append((batch[0][0], data))
            self.enqueued += n
        elif n:
            self._put(data, n)

    def _put(self, data: bytes, n: int) -> None:
        if not self.broken:
            self.enqueued += n
            self._q.put(data)

    def start(self) -> None:
        self._thread.start()

    def hold(self) -> None:
        self._held = []

    async def catch_up(self, store: Any, from_seq: int) -> int:
        """Print stored events from `from_seq` up to the first one this run printed; then go live."""
        held = self._held or []
        cutoff = held[0][0] if held else store.committed_seq + 1
        n = 0
        batch: list[tuple[int, Event]] = []
        async for seq, ev in store.replay(from_seq):
            if seq >= cutoff:
                break
            batch.append((seq, ev))
            if len(batch) >= 1000:
                n += self._flush_catchup(batch)
        n += self._flush_catchup(batch)
        for _, data in self._held or []:
            self._q.put(data)  # counted in enqueued when held
        self._held = None
        return n

    def _flush_catchup(self, batch: list[tuple[int, Event]]) -> int:
        data, n = self.encode(batch)
        batch.clear()
        if n:
            self._put(data, n)
        return n

    def _write_loop(self) -> None:
        while True:
            data = self._q.get()
            if data is None:
                return
            if self.broken:
                continue
            try:
                self.out.write(data)
                self.out.flush()
                self.written += data.count(b"\n")
            except (BrokenPipeError, ValueError, OSError):
                self.broken = True
                _silence_stdout()
                if self.on_broken is not None:
                    self.on_broken()

    @property
    def backlog(self) -> int:
        return max(0, self.enqueued - self.written)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (waiting at most `timeout` for a stuck reader), then stop."""
        if self._held is not None:
            for _, data in self._held:
                self._q.put(data)
            self._held = None
        self._q.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("stdout reader is not reading: %d event line(s) were not written", self.backlog)


def _silence_stdout() -> None:
    """The reader went away: point fd 1 at /dev/null so exit-time flushes do not complain."""
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
        os.close(fd)
    except OSError:
        pass


# --- logging ---------------------------------------------------------------------------------------
class _OneLineFormatter(logging.Formatter):
    """stderr gets one line per record; tracebacks go to the log file only."""

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info or record.exc_text or record.stack_info:
            record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None,
                                            "stack_info": None})
        return super().format(record).replace("\n", " | ")


def setup_logging(level: str, log_file: Path | None) -> None:
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.setLevel(level)
    err = logging.StreamHandler(sys.stderr)
    err.setFormatter(_OneLineFormatter(fmt))
    root.addHandler(err)
    if log_file is not None:
        from logging.handlers import RotatingFileHandler

        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            fh = RotatingFileHandler(log_file, maxBytes=10_000_000, backupCount=5, encoding="utf-8")
        except OSError as exc:
            log.warning("cannot write the log file %s: %s (logging to stderr only)", log_file, exc)
            return
        fh.setFormatter(logging.Formatter(fmt))
        root.addHandler(fh)


class EngineLock:
    """One engine per profile: an flock on run/engine.lock, released by the OS if we die."""

    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self._fd: int | None = None

    def acquire(self) -> None:
        import fcntl

        from quantai_tui.core.errors import ConfigError

        run = self.paths.run_dir
        run.mkdir(parents=True, exist_ok=True)
        os.chmod(run, 0o700)
        fd = os.open(run / "engine.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            pid = _read_pid(self.paths.pid_file)
            raise ConfigError(f"another engine is running for profile {self.paths.profile!r}"
                              + (f" (pid {pid})" if pid else "") + "; stop it first or use --profile") from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def last_stored_event(path: Path) -> tuple[int, str] | None:
    """(seq, type) of the newest event in the store, read-only; None for a new or unreadable one."""
    import sqlite3

    if not path.exists():
        return None
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = con.execute("SELECT seq, type FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        return None  # the kernel's open reports a damaged store properly
    return (int(row[0]), str(row[1])) if row else None

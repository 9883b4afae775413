"""Where ToolCalled / ToolResult events go when no kernel runs in this process (`quantai ask`).

The profile's event store belongs to its engine: two writers would hand out the same sequence
numbers. So each event is written under the engine's own lock (run/engine.lock): take it
without waiting, open the store, append durably, close, release (a few ms per event; a tool
call makes two). When an engine holds the lock, the events go to `ai_audit.sqlite` beside the
store instead (same format: `quantai events tail --store FILE` reads it), and nothing waits.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from quantai_tui.core.events import Event

if TYPE_CHECKING:
    from quantai_tui.paths import Paths

__all__ = ["ProfileAuditSink", "kernel_sink"]

log = logging.getLogger("quantai.ai")
SIDE_STORE = "ai_audit.sqlite"


class ProfileAuditSink:
    def __init__(self, paths: Paths, synchronous: str = "NORMAL") -> None:
        self.paths = paths
        self.synchronous = synchronous
        self.written = 0
        self.side_written = 0
        self.last_path: Path | None = None

    @property
    def side_store(self) -> Path:
        return self.paths.data_dir / SIDE_STORE

    async def __call__(self, event: Event) -> None:
        fd = self._try_lock()
        path = self.paths.store_file if fd is not None else self.side_store
        try:
            await _append(path, event, self.synchronous)
        finally:
            if fd is not None:
                os.close(fd)  # closing the descriptor releases the flock
        self.last_path = path
        self.written += 1
        if fd is None:
            if not self.side_written:
                log.info("an engine owns %s: AI tool events go to %s", self.paths.store_file, path)
            self.side_written += 1

    def _try_lock(self) -> int | None:
        import fcntl

        run = self.paths.run_dir
        run.mkdir(parents=True, exist_ok=True)
        fd = os.open(run / "engine.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
        return fd


async def _append(path: Path, event: Event, synchronous: str) -> None:
    from quantai_tui.store.sqlite import EventStore

    store = EventStore(path, synchronous=synchronous)
    await store.open()
    try:
        await store.append(event, durable=True, topic="ai")
    finally:
        await store.close()


def kernel_sink(kernel: object) -> object:
    """The sink of a kernel running in this process: its journal (stored, and published on the
    bus under the `ai` topic so the UI's log can show it)."""
    journal = kernel.journal  # type: ignore[attr-defined]

    def sink(event: Event) -> None:
        journal.emit(event, "ai")

    return sink

"""Plain-text progress on stderr (no rich below the engine): one line rewritten in place on a
terminal; on a pipe or a file, a line every `every_s` seconds."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, label: str, total: int | None = None, *, unit: str = "", stream: TextIO | None = None,
                 every_s: float = 10.0, enabled: bool = True) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every_s = every_s if not self.tty else 0.2
        self.enabled = enabled
        self._last = 0.0
        self._t0 = time.monotonic()
        self._shown = False

    def update(self, done: int, extra: str = "", *, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < self.every_s:
            return
        self._last = now
        parts = [self.label]
        if self.total:
            pct = min(100.0, 100.0 * done / self.total)
            width = 24
            fill = int(width * pct / 100)
            parts.append(f"[{'#' * fill}{'.' * (width - fill)}] {pct:5.1f}%")
        if extra:
            parts.append(extra)
        line = "  ".join(parts)
        if self.tty:
            print(f"\r\x1b[K{line}", end="", file=self.stream, flush=True)
        else:
            print(line, file=self.stream, flush=True)
        self._shown = True

    def done(self, extra: str = "") -> None:
        """The last line (always printed when anything was shown, or on a terminal)."""
        if not self.enabled:
            return
        if self.tty or self._shown:
            self.update(self.total or 0, extra, force=True)
            if self.tty:
                print(file=self.stream, flush=True)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._t0

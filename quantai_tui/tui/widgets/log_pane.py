"""Log pane: engine log records, engine events and key actions, filterable by level."""

from __future__ import annotations

import logging
from collections import deque
from datetime import datetime
from collections.abc import Callable
from typing import NamedTuple

from rich.text import Text
from textual.timer import Timer
from textual.widgets import RichLog

from quantai_tui.tui.widgets.theme_style import theme_style

LEVELS = (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR)
_VAR = {logging.DEBUG: "foreground-muted", logging.INFO: "foreground", logging.WARNING: "warning"}


class Entry(NamedTuple):
    level: int
    text: str
    ts_ns: int
    source: str


class LogPane(RichLog):
    DEFAULT_CSS = "LogPane { height: 1fr; overflow-x: hidden; background: $surface; scrollbar-size-vertical: 1; }"
    KEEP = 2000

    def __init__(self, *, level: int = logging.INFO, show_time: bool = True, id: str | None = None,
                 classes: str | None = None, batch_s: float = 0.2,
                 held: Callable[[], bool] | None = None) -> None:
        super().__init__(id=id, classes=classes, max_lines=self.KEEP, wrap=True, min_width=20, markup=False,
                         auto_scroll=True)
        self.level = level
        self.show_time = show_time
        self.entries: deque[Entry] = deque(maxlen=self.KEEP)
        # Each write grows the log and costs a relayout of the screen: lines are written in
        # batches (at most 1/batch_s a second), and not at all while the kill switch runs.
        self.batch_s = batch_s
        self._held = held or (lambda: False)
        self._pending: list[Entry] = []
        self._flush_timer: Timer | None = None

    def add(self, level: int, text: str, ts_ns: int = 0, source: str = "engine") -> None:
        entry = Entry(level, text, ts_ns, source)
        self.entries.append(entry)
        if level < self.level:
            return
        if self.batch_s <= 0:
            self.write(self._line(entry))
            return
        self._pending.append(entry)
        if self._flush_timer is None:
            self._flush_timer = self.set_timer(self.batch_s, self._flush)

    def _flush(self) -> None:
        self._flush_timer = None
        if self._held():
            self._flush_timer = self.set_timer(self.batch_s, self._flush)
            return
        pending, self._pending = self._pending, []
        for e in pending:
            self.write(self._line(e))

    def _line(self, e: Entry) -> Text:
        line = Text()  # long engine messages wrap instead of vanishing at the border
        if self.show_time and e.ts_ns:
            stamp = datetime.fromtimestamp(e.ts_ns / 1e9).strftime("%H:%M:%S")  # local time, like a clock
            line.append(stamp + " ", theme_style(self.app, "foreground-muted"))
        style = theme_style(self.app, _VAR.get(e.level, "error"), bold=e.level >= logging.ERROR)
        if e.source == "key":
            line.append("⌨ ", theme_style(self.app, "accent"))
        line.append(e.text, style)
        return line

    def set_level(self, level: int) -> None:
        self.level = level
        self._pending.clear()
        self.clear()
        for e in self.entries:
            if e.level >= level:
                self.write(self._line(e))

    def cycle_level(self) -> int:
        i = LEVELS.index(self.level) if self.level in LEVELS else 1
        self.set_level(LEVELS[(i + 1) % len(LEVELS)])
        return self.level

    @property
    def level_name(self) -> str:
        return logging.getLevelName(self.level)

"""Clocks. Everything reads time through a Clock, so replay can run on a TestClock.

A timer calls `callback(TimeEvent)` every interval; an alert once. The TestClock fires them as
time is advanced (in time order, deterministic); the LiveClock schedules them on the running
asyncio loop.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from quantai_tui.core.errors import ValidationError


@dataclass(frozen=True, slots=True)
class TimeEvent:
    name: str
    ts_event: int  # when it was due
    ts_init: int  # when it fired


TimerCallback = Callable[[TimeEvent], Any]


class Clock(Protocol):
    def timestamp_ns(self) -> int: ...
    def set_timer(
        self, name: str, interval_ns: int, callback: TimerCallback, start_ns: int | None = None, stop_ns: int | None = None
    ) -> None: ...
    def set_alert(self, name: str, at_ns: int, callback: TimerCallback) -> None: ...
    def cancel_timer(self, name: str) -> None: ...
    @property
    def timer_names(self) -> list[str]: ...


def ns_to_datetime(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC)


def datetime_to_ns(dt: datetime) -> int:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp()) * 1_000_000_000 + dt.microsecond * 1000


def utc_day_start_ns(ns: int) -> int:
    day = 86_400 * 1_000_000_000
    return ns - ns % day


@dataclass(slots=True)
class _Timer:
    name: str
    interval_ns: int  # 0 for an alert
    next_ns: int
    stop_ns: int | None
    callback: TimerCallback


class TestClock:
    """Time moves only when told. `advance_to` fires due timers in time order."""

    __test__ = False  # not a pytest test class

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns
        self._timers: dict[str, _Timer] = {}
        self._heap: list[tuple[int, int, str]] = []
        self._seq = 0

    def timestamp_ns(self) -> int:
        return self._now

    def utc_now(self) -> datetime:
        return ns_to_datetime(self._now)

    def set_time(self, ns: int) -> None:
        """Jump without firing timers (used when the first datum arrives)."""
        self._now = ns

    @property
    def next_due_ns(self) -> int | None:
        while self._heap:
            due, _, name = self._heap[0]
            t = self._timers.get(name)
            if t is not None and t.next_ns == due:
                return due
            heapq.heappop(self._heap)  # stale entry
        return None

    def advance_to(self, ns: int) -> list[TimeEvent]:
        """Move time forward to `ns`, firing every timer due on the way; returns what fired."""
        if ns < self._now:
            raise ValidationError(f"time cannot go backwards: {ns} < {self._now}")
        fired: list[TimeEvent] = []
        while True:
            due = self.next_due_ns
            if due is None or due > ns:
                break
            _, _, name = heapq.heappop(self._heap)
            t = self._timers[name]
            self._now = due
            ev = TimeEvent(name, due, due)
            if t.interval_ns and (t.stop_ns is None or due + t.interval_ns <= t.stop_ns):
                t.next_ns = due + t.interval_ns
                self._push(t)
            else:
                del self._timers[name]
            fired.append(ev)
            t.callback(ev)
        self._now = ns
        return fired

    def _push(self, t: _Timer) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t.next_ns, self._seq, t.name))

    def set_timer(
        self, name: str, interval_ns: int, callback: TimerCallback, start_ns: int | None = None, stop_ns: int | None = None
    ) -> None:
        if interval_ns <= 0:
            raise ValidationError(f"timer {name!r}: interval must be positive")
        start = self._now if start_ns is None else start_ns
        t = _Timer(name, interval_ns, start + interval_ns, stop_ns, callback)
        self._timers[name] = t
        self._push(t)

    def set_alert(self, name: str, at_ns: int, callback: TimerCallback) -> None:
        t = _Timer(name, 0, max(at_ns, self._now), None, callback)
        self._timers[name] = t
        self._push(t)

    def cancel_timer(self, name: str) -> None:
        self._timers.pop(name, None)

    @property
    def timer_names(self) -> list[str]:
        return sorted(self._timers)


class LiveClock:
    """Wall-clock time; timers run on the asyncio loop that is running when they are set."""

    def __init__(self) -> None:
        self._handles: dict[str, Any] = {}

    timestamp_ns = staticmethod(time.time_ns)

    def utc_now(self) -> datetime:
        return datetime.now(UTC)

    def set_timer(
        self, name: str, interval_ns: int, callback: TimerCallback, start_ns: int | None = None, stop_ns: int | None = None
    ) -> None:
        if interval_ns <= 0:
            raise ValidationError(f"timer {name!r}: interval must be positive")
        first = (start_ns if start_ns is not None else time.time_ns()) + interval_ns
        self._schedule(name, first, interval_ns, stop_ns, callback)

    def set_alert(self, name: str, at_ns: int, callback: TimerCallback) -> None:
        self._schedule(name, at_ns, 0, None, callback)

    def _schedule(self, name: str, due_ns: int, interval_ns: int, stop_ns: int | None, callback: TimerCallback) -> None:
        import asyncio

        self.cancel_timer(name)
        loop = asyncio.get_running_loop()
        delay = max(0.0, (due_ns - time.time_ns()) / 1e9)

        def fire() -> None:
            self._handles.pop(name, None)
            if interval_ns and (stop_ns is None or due_ns + interval_ns <= stop_ns):
                self._schedule(name, due_ns + interval_ns, interval_ns, stop_ns, callback)
            callback(TimeEvent(name, due_ns, time.time_ns()))

        self._handles[name] = loop.call_later(delay, fire)

    def cancel_timer(self, name: str) -> None:
        h = self._handles.pop(name, None)
        if h is not None:
            h.cancel()

    @property
    def timer_names(self) -> list[str]:
        return sorted(self._handles)

"""Named tasks with kept handles and logged failures (no fire-and-forget), and the driver
that runs engine coroutines without an event loop on the backtest path.

    tasks = TaskGroup("oms")
    tasks.spawn(self._resolve(order), f"resolve:{coid}")
    await tasks.close()          # cancels and awaits what is left
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from quantai_tui.core.errors import QuantAIError

T = TypeVar("T")
log = logging.getLogger("quantai.tasks")


class SuspendedError(QuantAIError):
    """A coroutine on the backtest path awaited something that waits."""


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that must complete without suspending (backtests); one `send(None)`."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    coro.close()
    raise SuspendedError(f"{getattr(coro, '__qualname__', coro)} suspended on the synchronous (backtest) path")


class TaskGroup:
    def __init__(self, name: str) -> None:
        self.name = name
        self.tasks: dict[str, asyncio.Task[Any]] = {}
        self.failures = 0
        self._n = 0

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any] | None:
        """Start `coro` as a named task on the running loop. With no loop (a backtest) it runs
        inline and must not suspend."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            run_sync(coro)
            return None
        self._n += 1
        key = f"{self.name}:{name}"
        if key in self.tasks:  # a namesake still running: both are kept (and closed)
            key = f"{key}#{self._n}"
        task = loop.create_task(coro, name=key)
        self.tasks[key] = task
        task.add_done_callback(lambda t, k=key: self._done(k, t))
        return task

    def _done(self, key: str, task: asyncio.Task[Any]) -> None:
        self.tasks.pop(key, None)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.failures += 1
            log.error("task %s failed: %r", key, exc, exc_info=exc)

    def running(self) -> list[str]:
        return sorted(self.tasks)

    async def close(self) -> None:
        tasks = list(self.tasks.values())
        for t in tasks:
            t.cancel()
        for t in tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        self.tasks.clear()

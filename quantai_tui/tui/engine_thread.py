"""The engine's own event loop, on its own thread.

The UI and the engine share one process but not one loop: a screen relayout can take tens of
milliseconds, and on a shared loop the engine (the kill switch included) would wait for it.
Here the UI loop only hands commands over (`call`) and receives messages (Textual's
post_message is thread-safe); the interpreter switches threads every few milliseconds, so a
long render slows the engine a little instead of stopping it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

log = logging.getLogger("quantai.tui")
T = TypeVar("T")


class EngineThread:
    def __init__(self, name: str = "engine") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._ready = threading.Event()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        try:
            self.loop.run_forever()
        finally:
            try:
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            finally:
                self.loop.close()

    def start(self) -> None:
        if not self._thread.is_alive():
            self._thread.start()
            self._ready.wait(5.0)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the engine loop; await its result from the caller's loop."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def soon(self, fn: Callable[[], Any]) -> None:
        """Run `fn()` on the engine loop, without waiting for it."""
        self.loop.call_soon_threadsafe(fn)

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("the engine thread did not stop within %.0f s", timeout)

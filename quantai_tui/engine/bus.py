"""In-process publish/subscribe by topic (and optionally event type).

Topics are dot-separated: `trades.binance.BTC/USDT`, `orders.sim.ETH/USDT`, `risk`. Patterns
match segment by segment: `*` is exactly one segment, `>` (last only) is one or more.

    bus.subscribe("trades.*.BTC/USDT", on_trade)          # synchronous, in publish order
    bus.subscribe("orders.>", on_fill, types=(OrderFilled,))
    sub = bus.subscribe_async("book.>", ui_handler, coalesce=True, min_interval_s=0.05)

Synchronous dispatch is what replay uses: publish returns after every handler ran. The async
path is for consumers that must never slow the engine (the UI, the recorder): publish only
appends to the subscriber's queue; a task drains it. A bounded queue drops its oldest entry
(counted) rather than grow; a coalescing subscriber keeps only the latest message per topic,
so a UI gets the latest book, not a backlog. A handler that raises is logged and counted; it
never stops the bus or the other handlers.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger("quantai.bus")

Handler = Callable[[Any], Any]


def topic_matches(pattern: str, topic: str) -> bool:
    if pattern == topic or pattern == ">":
        return True
    p = pattern.split(".")
    t = topic.split(".")
    for i, seg in enumerate(p):
        if seg == ">":
            return i == len(p) - 1 and len(t) > i
        if i >= len(t):
            return False
        if seg != "*" and seg != t[i]:
            return False
    return len(p) == len(t)


class Subscription:
    __slots__ = ("pattern", "handler", "types", "priority", "name", "order", "_call")

    def __init__(
        self, pattern: str, handler: Handler, types: tuple[type, ...] | None, priority: int, name: str, order: int
    ) -> None:
        self.pattern = pattern
        self.handler = handler
        self.types = types
        self.priority = priority
        self.name = name
        self.order = order
        if types:
            t = types

            def filtered(msg: Any, _h: Handler = handler) -> Any:
                if isinstance(msg, t):
                    return _h(msg)
                return None

            self._call: Handler = filtered
        else:
            self._call = handler

    def __repr__(self) -> str:
        return f"Subscription({self.pattern!r}, {self.name})"


class MessageBus:
    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        self._cache: dict[str, tuple[Handler, ...]] = {}
        self._names: dict[Handler, str] = {}
        self._order = 0
        self.published = 0
        self.handler_errors: dict[str, int] = {}
        self._async_subs: list[AsyncSubscriber] = []
        self.version = 0  # +1 whenever the subscriptions change (what a cached answer about them is keyed on)

    # --- subscribing --------------------------------------------------------------------------
    def subscribe(
        self,
        pattern: str,
        handler: Handler,
        *,
        types: tuple[type, ...] | type | None = None,
        priority: int = 0,
        name: str | None = None,
    ) -> Subscription:
        """Call `handler(msg)` synchronously for every message on a matching topic. Higher
        priority runs first; equal priorities run in subscription order."""
        if isinstance(types, type):
            types = (types,)
        self._order += 1
        sub = Subscription(pattern, handler, types, priority, name or _name_of(handler), self._order)
        self._subs.append(sub)
        self._subs.sort(key=lambda s: (-s.priority, s.order))
        self._names[sub._call] = sub.name
        self._cache.clear()
        self.version += 1
        return sub

    def subscribe_async(
        self,
        pattern: str,
        handler: Handler,
        *,
        types: tuple[type, ...] | type | None = None,
        maxsize: int = 10_000,
        coalesce: bool = False,
        min_interval_s: float = 0.0,
        name: str | None = None,
    ) -> AsyncSubscriber:
        """Deliver matching messages to `handler` (sync or async) from its own task. Call
        `await sub.start()` (or let the kernel do it) inside a running loop."""
        sub = AsyncSubscriber(self, handler, maxsize=maxsize, coalesce=coalesce, min_interval_s=min_interval_s,
                              name=name or _name_of(handler))
        sub.subscription = self.subscribe(pattern, sub.deliver, types=types, priority=-1_000_000, name=sub.name)
        self._async_subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription | AsyncSubscriber) -> None:
        if isinstance(sub, AsyncSubscriber):
            if sub in self._async_subs:
                self._async_subs.remove(sub)
            sub.close()
            if sub.subscription is None:
                return
            sub = sub.subscription
        if sub in self._subs:
            self._subs.remove(sub)
            self._names.pop(sub._call, None)
            self._cache.clear()
            self.version += 1

    def _resolve(self, topic: str) -> tuple[Handler, ...]:
        handlers = tuple(s._call for s in self._subs if topic_matches(s.pattern, topic))
        self._cache[topic] = handlers
        return handlers

    def has_subscribers(self, topic: str) -> bool:
        handlers = self._cache.get(topic)
        if handlers is None:
            handlers = self._resolve(topic)
        return bool(handlers)

    # --- publishing ---------------------------------------------------------------------------
    def publish(self, topic: str, msg: Any) -> None:
        handlers = self._cache.get(topic)
        if handlers is None:
            handlers = self._resolve(topic)
        self.published += 1
        for h in handlers:
            try:
                h(msg)
            except Exception as exc:  # a bad handler never stops the bus
                self._handler_failed(h, topic, msg, exc)

    def _handler_failed(self, handler: Handler, topic: str, msg: Any, exc: BaseException) -> None:
        name = self._names.get(handler, _name_of(handler))
        n = self.handler_errors.get(name, 0) + 1
        self.handler_errors[name] = n
        if n <= 10 or n % 1000 == 0:  # never flood the log from a handler failing per tick
            log.error("handler %s failed on %s (%s), failure #%d: %r", name, topic, type(msg).__name__, n, exc,
                      exc_info=exc if n == 1 else None)

    @property
    def async_subscribers(self) -> list[AsyncSubscriber]:
        return list(self._async_subs)

    async def start(self) -> None:
        """Start the tasks of async subscribers made before the loop ran."""
        for s in self._async_subs:
            s.start()

    async def close(self) -> None:
        for s in list(self._async_subs):
            await s.aclose()


class AsyncSubscriber:
    """A queue plus a draining task between the bus and one slow consumer."""

    def __init__(
        self,
        bus: MessageBus,
        handler: Handler,
        *,
        maxsize: int,
        coalesce: bool,
        min_interval_s: float,
        name: str,
    ) -> None:
        self.bus = bus
        self.handler = handler
        self.name = name
        self.maxsize = maxsize
        self.coalesce = coalesce
        self.min_interval_s = min_interval_s
        self.subscription: Subscription | None = None
        self.delivered = 0
        self.dropped = 0
        self.coalesced = 0
        self.errors = 0
        self._queue: deque[Any] = deque()
        self._latest: dict[str, Any] = {}
        self._waiter: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._is_coro = inspect.iscoroutinefunction(handler)

        # publish calls `deliver`: O(1), never blocks, never raises. Bound per mode, no branching.
        self.deliver = self._deliver_latest if coalesce else self._deliver_queued

    def _deliver_queued(self, msg: Any) -> None:
        if self._closed:
            return
        q = self._queue
        if len(q) >= self.maxsize:
            q.popleft()
            self.dropped += 1
        q.append(msg)
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    def _deliver_latest(self, msg: Any) -> None:
        if self._closed:
            return
        key = _topic_key(msg)
        latest = self._latest
        if key in latest:
            self.coalesced += 1
        latest[key] = msg
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    @property
    def pending(self) -> int:
        return len(self._latest) if self.coalesce else len(self._queue)

    def start(self) -> asyncio.Task[None]:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"bus-subscriber:{self.name}")
        return self._task

    def _take(self) -> list[Any]:
        if self.coalesce:
            batch = list(self._latest.values())
            self._latest.clear()
        else:
            batch = list(self._queue)
            self._queue.clear()
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last = 0.0
        while not self._closed:
            if not self.pending:
                self._waiter = loop.create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
                continue
            if self.min_interval_s:
                wait = last + self.min_interval_s - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)  # meanwhile newer messages replace queued ones
                last = time.monotonic()
            batch = self._take()
            if self._is_coro:
                for msg in batch:
                    try:
                        await self.handler(msg)
                    except Exception as exc:
                        self._failed(msg, exc)
            else:
                handler = self.handler
                for msg in batch:
                    try:
                        handler(msg)
                    except Exception as exc:
                        self._failed(msg, exc)
            self.delivered += len(batch)
            # let other tasks (and publishers) run between batches
            await asyncio.sleep(0)

    def _failed(self, msg: Any, exc: BaseException) -> None:
        self.errors += 1
        self.bus._handler_failed(self.handler, self.name, msg, exc)

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait until the queue is empty (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            await asyncio.sleep(0.001)
        await asyncio.sleep(0)

    def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
        w = self._waiter
        if w is not None and not w.done():
            w.cancel()

    async def aclose(self) -> None:
        self.close()
        if self._task is not None:
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            except Exception:
                log.exception("subscriber %s ended with an error", self.name)


def _topic_key(msg: Any) -> Any:
    # Coalescing key when the publisher's topic is not passed: type + venue + symbol.
    return (type(msg), getattr(msg, "venue", None), getattr(msg, "symbol", None))


def _name_of(handler: Handler) -> str:
    return getattr(handler, "__qualname__", None) or repr(handler)

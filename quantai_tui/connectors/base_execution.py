"""The base of every execution venue (satisfies engine.ports.ExecutionClient).

A venue writes only small hooks:

    _connect() / _disconnect()                 sessions, user streams
    _submit(order)                             place one order (an OrderRequest); raise VenueRejected
                                               when the venue said no
    _cancel(client_order_id, symbol)           raise VenueRejected if it is not cancelable
    _cancel_all(symbol) -> bool                True if the venue did it in one call (default: no)
    _modify(client_order_id, symbol, qty, px)  when supports_amend
    _query_order / _open_orders / _fills_since / _account     reads

and reports what happens with the helpers (`accepted`, `filled`, `canceled`, ...), which stamp
and pass core order events to the engine's `report` callable. The base owns the rest:

- creates are never retried. A submit that times out (VenueTimeout, or no answer within
  submit_timeout_s) is reported as OrderStatusUnknown and the engine resolves it by client order
  id. A rate-limit refusal of a create (RateLimited) means it was not placed: VenueRejected.
- reads are retried with backoff on VenueUnavailable / VenueTimeout / RateLimited (honouring
  Retry-After).
- cancels go through a priority lane that never waits for the rate limiter (the kill switch
  and cancel-all are risk-reducing; they must not queue behind creates or market data).
- named tasks with kept handles and logged failures (`create_task`).

Connectors sit below the engine and never import it: `report` and `clock` are given.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from quantai_tui.core.clock import Clock
from quantai_tui.core.enums import ConnectionState, LiquiditySide, OrderSide
from quantai_tui.core.errors import RateLimited, VenueError, VenueRejected, VenueTimeout, VenueUnavailable
from quantai_tui.core.events import (
    Event,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderStatusUnknown,
    OrderUpdated,
    VenueConnected,
    VenueDisconnected,
)
from quantai_tui.core.execution import AccountReport, FillReport, OrderRequest, OrderStatusReport
from quantai_tui.core.values import Money, Price, Quantity

T = TypeVar("T")
Report = Callable[[Event], None]


class RateLimiter:
    """A token bucket: `rate` requests per second, bursts up to `burst`. `acquire` returns at
    once when a token is there (it never suspends then); `pause` backs everyone off after a 429."""

    def __init__(self, rate: float, burst: int | None = None) -> None:
        self.rate = rate
        self.burst = float(burst or max(1, int(rate)))
        self.tokens = self.burst
        self._t = time.monotonic()
        self._paused_until = 0.0

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self._t) * self.rate)
        self._t = now

    async def acquire(self, cost: float = 1.0) -> None:
        while True:
            now = time.monotonic()
            if now < self._paused_until:
                await asyncio.sleep(self._paused_until - now)
                continue
            self._refill()
            if self.tokens >= cost:
                self.tokens -= cost
                return
            await asyncio.sleep((cost - self.tokens) / self.rate)

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)


class BaseExecutionClient:
    venue: str
    supports_amend: bool = False
    supports_trigger_amend: bool = False  # a stop's trigger can move (`_modify(..., trigger=)`)

    def __init__(self, venue: str, report: Report, clock: Clock, *, submit_timeout_s: float | None = 10.0,
                 request_timeout_s: float | None = 10.0, read_retries: int = 3, read_backoff_s: float = 0.25,
                 rate_limiter: RateLimiter | None = None) -> None:
        self.venue = venue
        self._report = report
        self.clock = clock
        self.submit_timeout_s = submit_timeout_s
        self.request_timeout_s = request_timeout_s
        self.read_retries = read_retries
        self.read_backoff_s = read_backoff_s
        self.limiter = rate_limiter
        self.log = logging.getLogger(f"quantai.exec.{venue}")
        self.state = ConnectionState.DISCONNECTED
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        self.stats: dict[str, int] = {"submits": 0, "unknown": 0, "rejected": 0, "cancels": 0, "reads": 0,
                                      "read_retries": 0, "task_failures": 0}

    # --- lifecycle ----------------------------------------------------------------------------------
    async def start(self) -> None:
        await self._connect()
        self.state = ConnectionState.CONNECTED
        now = self.clock.timestamp_ns()
        self._report(VenueConnected(self.venue, stream="user", ts_event=now, ts_init=now))

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for t in tasks:
            t.cancel()
        for t in tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks.clear()
        await self._disconnect()
        if self.state is not ConnectionState.DISCONNECTED:
            self.state = ConnectionState.DISCONNECTED
            now = self.clock.timestamp_ns()
            self._report(VenueDisconnected(self.venue, "stopped", stream="user", ts_event=now, ts_init=now))

    def create_task(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """A named task whose handle is kept and whose failure is logged."""
        key = f"{self.venue}:{name}"
        task = asyncio.get_running_loop().create_task(coro, name=key)
        self._tasks[key] = task

        def done(t: asyncio.Task[Any], k: str = key) -> None:
            self._tasks.pop(k, None)
            if not t.cancelled() and t.exception() is not None:
                self.stats["task_failures"] += 1
                self.log.error("task %s failed: %r", k, t.exception(), exc_info=t.exception())

        task.add_done_callback(done)
        return task

    # --- the ExecutionClient interface ------------------------------------------------------------
    async def submit(self, order: OrderRequest) -> None:
        self.stats["submits"] += 1
        if self.limiter is not None:
            await self.limiter.acquire()
        try:
            await self._timed(self._submit(order), self.submit_timeout_s)
        except RateLimited as exc:
            if self.limiter is not None:
                self.limiter.pause(exc.retry_after or 1.0)
            self.stats["rejected"] += 1
            raise VenueRejected(f"rate limited, order not placed: {exc}") from None
        except VenueRejected:
            self.stats["rejected"] += 1
            raise
        except (TimeoutError, VenueTimeout) as exc:
            # the venue may have it: never resend; the engine looks it up by client order id
            self.stats["unknown"] += 1
            self.unknown(order.client_order_id, order.symbol, f"submit timed out: {exc or 'no reply'}")

    async def cancel(self, client_order_id: str, symbol: str) -> None:
        self.stats["cancels"] += 1
        try:  # priority lane: no rate-limiter wait
            await self._timed(self._cancel(client_order_id, symbol), self.request_timeout_s)
        except VenueUnavailable:  # a cancel is safe to send twice
            await self._timed(self._cancel(client_order_id, symbol), self.request_timeout_s)

    async def cancel_all(self, symbol: str | None = None) -> None:
        if await self._timed(self._cancel_all(symbol), self.request_timeout_s):
            return
        # priority lane: this read does not wait for the rate limiter either
        orders = await self._timed(self._open_orders(symbol), self.request_timeout_s)
        results = await asyncio.gather(*(self.cancel(o.client_order_id, o.symbol) for o in orders),
                                       return_exceptions=True)
        for o, r in zip(orders, results, strict=True):
            if isinstance(r, Exception) and not isinstance(r, VenueRejected):
                self.log.warning("cancel of %s failed: %r", o.client_order_id, r)

    async def modify(self, client_order_id: str, symbol: str, quantity: Quantity | None, price: Price | None,
                     trigger_price: Price | None = None) -> None:
        """Amend quantity and/or price; a stop's trigger only where `supports_trigger_amend`
        (the venue's `_modify` then takes `trigger=`)."""
        if not self.supports_amend:
            raise VenueRejected(f"{self.venue} does not support amending orders")
        if trigger_price is not None and not self.supports_trigger_amend:
            raise VenueRejected(f"{self.venue} cannot move a stop's trigger: cancel it and place a new one")
        if self.limiter is not None:
            await self.limiter.acquire()
        call = (self._modify(client_order_id, symbol, quantity, price) if trigger_price is None else
                self._modify(client_order_id, symbol, quantity, price, trigger=trigger_price))  # type: ignore[call-arg]
        await self._timed(call, self.request_timeout_s)

    async def query_order(self, client_order_id: str, symbol: str) -> OrderStatusReport | None:
        return await self._read(lambda: self._query_order(client_order_id, symbol))

    async def open_orders(self, symbol: str | None = None) -> list[OrderStatusReport]:
        return await self._read(lambda: self._open_orders(symbol))

    async def fills_since(self, ts_ns: int, symbol: str | None = None) -> list[FillReport]:
        return await self._read(lambda: self._fills_since(ts_ns, symbol))

    async def account(self) -> AccountReport:
        return await self._read(self._account)

    # --- plumbing -----------------------------------------------------------------------------------
    async def _timed(self, aw: Awaitable[T], timeout: float | None) -> T:
        if timeout is None:
            return await aw
        async with asyncio.timeout(timeout):
            return await aw

    async def _read(self, call: Callable[[], Awaitable[T]]) -> T:
        self.stats["reads"] += 1
        delay = self.read_backoff_s
        for attempt in range(self.read_retries + 1):
            try:
                if self.limiter is not None:
                    await self.limiter.acquire()
                return await self._timed(call(), self.request_timeout_s)
            except (VenueUnavailable, VenueTimeout, RateLimited, TimeoutError) as exc:
                if attempt >= self.read_retries:
                    raise
                self.stats["read_retries"] += 1
                wait = exc.retry_after if isinstance(exc, RateLimited) and exc.retry_after else delay
                if isinstance(exc, RateLimited) and self.limiter is not None:
                    self.limiter.pause(wait)
                self.log.info("read failed (%r), retry %d in %.2fs", exc, attempt + 1, wait)
                await asyncio.sleep(wait)
                delay *= 2
        raise VenueError("unreachable")  # pragma: no cover

    # --- report helpers (stamp and pass order events to the engine) ------------------------------------
    def report(self, event: Event) -> None:
        self._report(event)

    def accepted(self, coid: str, symbol: str, venue_order_id: str, ts: int | None = None) -> None:
        now = self.clock.timestamp_ns()
        self._report(OrderAccepted.make(coid, self.venue, symbol, venue_order_id, ts or now, now))

    def rejected(self, coid: str, symbol: str, reason: str, ts: int | None = None) -> None:
        now = self.clock.timestamp_ns()
        self._report(OrderRejected.make(coid, self.venue, symbol, reason, ts or now, now))

    def canceled(self, coid: str, symbol: str, venue_order_id: str = "", reason: str = "", ts: int | None = None) -> None:
        now = self.clock.timestamp_ns()
        self._report(OrderCanceled.make(coid, self.venue, symbol, venue_order_id, reason, ts or now, now))

    def expired(self, coid: str, symbol: str, venue_order_id: str = "", ts: int | None = None) -> None:
        now = self.clock.timestamp_ns()
        self._report(OrderExpired.make(coid, self.venue, symbol, venue_order_id, ts or now, now))

    def updated(self, coid: str, symbol: str, quantity: Quantity, price: Price | None, ts: int | None = None,
                trigger: Price | None = None) -> None:
        now = self.clock.timestamp_ns()
        self._report(OrderUpdated.make(coid, self.venue, symbol, quantity, price, trigger, ts or now, now))

    def filled(self, coid: str, symbol: str, venue_order_id: str, trade_id: str, side: OrderSide, qty: Quantity,
               price: Price, fee: Money, liquidity: LiquiditySide = LiquiditySide.TAKER, ts: int | None = None) -> None:
        now = self.clock.timestamp_ns()
        self._report(OrderFilled.make(coid, self.venue, symbol, venue_order_id, trade_id, side, qty, price, fee,
                                      liquidity, ts or now, now))

    def unknown(self, coid: str, symbol: str, reason: str) -> None:
        now = self.clock.timestamp_ns()
        self._report(OrderStatusUnknown.make(coid, self.venue, symbol, reason, now, now))

    # --- hooks a venue implements ---------------------------------------------------------------------
    async def _connect(self) -> None:
        return None

    async def _disconnect(self) -> None:
        return None

    async def _submit(self, order: OrderRequest) -> None:
        raise NotImplementedError

    async def _cancel(self, client_order_id: str, symbol: str) -> None:
        raise NotImplementedError

    async def _cancel_all(self, symbol: str | None) -> bool:
        """Cancel everything (on `symbol`) in one call; False to let the base cancel one by one."""
        return False

    async def _modify(self, client_order_id: str, symbol: str, quantity: Quantity | None, price: Price | None) -> None:
        raise VenueRejected(f"{self.venue} does not support amending orders")

    async def _query_order(self, client_order_id: str, symbol: str) -> OrderStatusReport | None:
        raise NotImplementedError

    async def _open_orders(self, symbol: str | None) -> list[OrderStatusReport]:
        raise NotImplementedError

    async def _fills_since(self, ts_ns: int, symbol: str | None) -> list[FillReport]:
        raise NotImplementedError

    async def _account(self) -> AccountReport:
        raise NotImplementedError

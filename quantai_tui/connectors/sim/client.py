"""The sim exchange's market data client: the SimMarket generator paced in real time.

Each loop tick publishes every event whose simulated time has come (by the injected clock),
at most `max_batch` at a time, then yields to the event loop; so a rate of 10,000+ messages/s
arrives in small batches and the loop stays responsive. A symbol's market starts when it is
subscribed (at the clock's time then, or at `start_ns` if one was given, for replayable runs).
The events are exactly those `SimMarket(seed, ...)` generates; the client only filters them
by the kinds subscribed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from quantai_tui.connectors.sim.instruments import VENUE, sim_instruments, sim_spec
from quantai_tui.connectors.sim.market import SimMarket
from quantai_tui.core.book import OrderBook
from quantai_tui.core.clock import Clock, LiveClock
from quantai_tui.core.enums import ConnectionState
from quantai_tui.core.events import Event, VenueConnected, VenueDisconnected, market_topic
from quantai_tui.core.instruments import Instrument

log = logging.getLogger("quantai.connectors.sim")

KINDS = ("trades", "book", "quotes", "bars")


class SimMarketDataClient:
    """MarketDataClient of the built-in `sim` exchange (works offline)."""

    venue = VENUE

    def __init__(
        self,
        publish: Callable[[str, Event], Any],
        clock: Clock | None = None,
        *,
        seed: int = 42,
        rate: float = 50.0,
        depth: int = 20,
        start_ns: int | None = None,
        interval_s: float = 0.005,
        max_batch: int = 32,  # ~1-2 ms of engine work: a kill command never waits behind a long batch
    ) -> None:
        self._publish = publish
        self._clock: Clock = clock or LiveClock()
        self._start_ns = start_ns
        self.market = SimMarket(seed, (), rate=rate, depth=depth, start_ns=start_ns or 0)
        self.interval_s = interval_s
        self.max_batch = max(1, max_batch)
        self._topics: set[str] = set()
        self._state = ConnectionState.DISCONNECTED
        self._task: asyncio.Task[None] | None = None
        self.published = 0
        self.counts: dict[str, int] = dict.fromkeys(KINDS, 0)
        self._t0 = 0.0

    @property
    def state(self) -> ConnectionState:
        return self._state

    async def start(self) -> None:
        if self._task is not None:
            return
        self._state = ConnectionState.CONNECTED
        self._t0 = time.monotonic()
        now = self._clock.timestamp_ns()
        self._publish(f"connector.{VENUE}", VenueConnected(VENUE, ts_event=now, ts_init=now))
        self._task = asyncio.get_running_loop().create_task(self._run(), name="sim-market")
        self._task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("sim market task failed", exc_info=task.exception())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        if self._state is ConnectionState.CONNECTED:
            now = self._clock.timestamp_ns()
            self._publish(f"connector.{VENUE}", VenueDisconnected(VENUE, "stopped", ts_event=now, ts_init=now))
        self._state = ConnectionState.DISCONNECTED

    async def subscribe(self, symbol: str, kinds: Iterable[str] = KINDS) -> None:
        spec = sim_spec(symbol)
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown market data kinds {sorted(unknown)}; choose from {', '.join(KINDS)}")
        for k in kinds:
            self._topics.add(market_topic(k, VENUE, spec.symbol))
        if spec.symbol not in self.market.symbols:
            start = self._start_ns if self._start_ns is not None else self._clock.timestamp_ns()
            self.market.add_symbol(spec.symbol, start_ns=start)

    async def load_instruments(self) -> dict[str, Instrument]:
        return sim_instruments()

    def book(self, symbol: str) -> OrderBook | None:
        spec = sim_spec(symbol)
        return self.market.book(spec.symbol) if spec.symbol in self.market.symbols else None

    def stats(self) -> dict[str, int | float]:
        elapsed = max(1e-9, time.monotonic() - self._t0) if self._t0 else 0.0
        out: dict[str, int | float] = {"published": self.published, **self.counts}
        out["msgs_per_s"] = self.published / elapsed if elapsed else 0.0
        return out

    async def _run(self) -> None:
        market, publish, topics, counts = self.market, self._publish, self._topics, self.counts
        while True:
            now = self._clock.timestamp_ns()
            batch = market.generate_until(now, self.max_batch)
            for topic, ev in batch:
                if topic in topics:
                    publish(topic, ev)
                    self.published += 1
                    kind = topic[: topic.index(".")]
                    counts[kind] += 1
            if len(batch) >= self.max_batch:
                await asyncio.sleep(0)  # behind: catch up, but let everything else run first
                continue
            nxt = market.next_ts
            delay = self.interval_s if nxt is None else min(self.interval_s, max(0.0, (nxt - now) / 1e9))
            await asyncio.sleep(delay)

"""What the shared connector suite needs to know about each venue, and a running scenario:
the local exchange server, a real client connected to it over 127.0.0.1, and a recorder of
everything the client published."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from quantai_tui.connectors.base import MARKET_KINDS, WebSocketMarketDataClient
from quantai_tui.connectors.stream import StreamOptions
from quantai_tui.core.events import BookResynced, OrderBookDeltas, TradeTick
from tests.connectors import reference
from tests.exchange_server import ExchangeServer, VenueFeed

# Short timings so faults resolve in well under a second. The heartbeat timeout is not short: on
# a loaded machine a 1 s stall would count as a reconnect (the half-open test sets 1 s itself).
FAST = dict(
    heartbeat_timeout_s=5.0, ping_interval_s=0.2, backoff_initial_s=0.05, backoff_max_s=0.4,
    open_timeout_s=3.0, close_timeout_s=0.5, stable_after_s=0.2,
)
TIMEOUT = 15.0  # generous: a wait that fails names what it waited for


BINANCE_BARRIER_ID = 9_000_000_000_000_000


def barrier_number(trade_id: str) -> int | None:
    """The number of a barrier trade (see VenueFeed.barrier), None for a real trade."""
    if trade_id.startswith("barrier-"):
        return int(trade_id[8:])
    if trade_id.isdigit() and int(trade_id) >= BINANCE_BARRIER_ID:
        return int(trade_id) - BINANCE_BARRIER_ID
    return None


def fast_options(**kw: Any) -> StreamOptions:
    return StreamOptions(**{**FAST, **kw})  # type: ignore[arg-type]


class Recorder:
    """The `publish` callable: keeps (topic, event)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def __call__(self, topic: str, event: Any) -> None:
        self.events.append((topic, event))

    def of(self, cls: type) -> list[Any]:
        return [e for _, e in self.events if isinstance(e, cls)]

    def topics(self, prefix: str) -> list[str]:
        return [t for t, _ in self.events if t.startswith(prefix)]


class VenueCase:
    """One venue of the shared suite. Subclasses fill in the blanks."""

    name = ""
    symbol = ""
    native = ""
    has_seq = True  # False: the feed has no sequence numbers (OKX before 2022): wait by barrier
    kinds: tuple[str, ...] = MARKET_KINDS
    client_options: dict[str, Any] = {}

    def make_venue(self, server: ExchangeServer) -> VenueFeed:
        raise NotImplementedError

    def make_client(self, server: ExchangeServer, publish: Recorder, **kw: Any) -> WebSocketMarketDataClient:
        raise NotImplementedError

    def book_channel(self) -> str:
        raise NotImplementedError

    def reference(self, n: int | None) -> reference.Book:
        raise NotImplementedError

    def truth_seq(self, venue: Any) -> int:
        raise NotImplementedError

    def released_updates(self, venue: VenueFeed) -> int:
        return sum(1 for i in venue.items[: venue.cursor] if i.kind == "book" and i.symbol == self.native)

    async def initial_sync(self, sc: Scenario) -> None:
        """Bring the client's book in sync the way the venue does it (a snapshot on subscribe)."""
        await sc.wait(lambda: sc.client.is_synced(self.symbol), "the first snapshot")


@dataclass
class Scenario:
    case: VenueCase
    server: ExchangeServer
    venue: Any
    client: Any
    rec: Recorder
    _barrier: int = field(default=0)

    async def wait(self, predicate: Any, what: str, timeout: float = TIMEOUT) -> None:
        await self.server.wait_until(predicate, timeout, what)

    async def subscribed(self) -> None:
        ch = self.case.book_channel()
        await self.wait(lambda: any(ch in s.subscriptions for s in self.server.sessions), f"a subscription to {ch}")

    def book(self) -> reference.Book:
        return reference.book_dict(self.client.book(self.case.symbol))

    def expected(self) -> reference.Book:
        return self.case.reference(self.case.released_updates(self.venue))

    async def caught_up(self, timeout: float = TIMEOUT, barrier: bool = True) -> None:
        """Wait until the client has handled every frame released so far and its book is synced:
        the book's sequence reaches the venue's (when the feed has one), then a barrier trade
        sent after everything comes back published (frames are handled in order)."""
        sym = self.case.symbol
        if self.case.has_seq:
            await self.wait(
                lambda: self.client.is_synced(sym) and self.client.book(sym).sequence == self.case.truth_seq(self.venue),
                f"the book to reach sequence {self.case.truth_seq(self.venue)}", timeout,
            )
        if not barrier:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            self._barrier += 1
            n = self._barrier
            sent = await self.venue.barrier(self.case.native, n)
            try:  # back from every connection it went to (Binance USD-M has two per symbol)
                await self.wait(lambda: sum(barrier_number(e.trade_id) == n for e in self.rec.of(TradeTick)) >= sent > 0,
                                f"barrier {n}", 0.5)
            except TimeoutError:
                continue  # sent to a connection that was dropped or silent: send another
            if self.client.is_synced(sym):
                return
        raise TimeoutError("the client never caught up with the feed")

    def assert_book_matches(self) -> None:
        got, want = self.book(), self.expected()
        assert got == want, reference.diff_summary(got, want)

    def resyncs(self) -> list[BookResynced]:
        return self.rec.of(BookResynced)

    def book_events(self) -> list[OrderBookDeltas]:
        return self.rec.of(OrderBookDeltas)


@asynccontextmanager
async def running(case: VenueCase, **client_kw: Any) -> AsyncIterator[Scenario]:
    """A server with the venue's captured market, and a started client subscribed to the symbol."""
    server = ExchangeServer(case.name)
    venue = case.make_venue(server)
    rec = Recorder()
    async with server:
        client = case.make_client(server, rec, **{**case.client_options, **client_kw})
        await client.subscribe(case.symbol, case.kinds)
        await client.start()
        try:
            yield Scenario(case, server, venue, client, rec)
        finally:
            await client.stop()

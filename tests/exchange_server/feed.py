"""The market a venue server plays: captured frames released in order, and the venue's true book.

A `VenueFeed` holds the captured frames of one session as `FeedItem`s. `release(n)` pushes the
next n to every WebSocket session subscribed to their channel, like a live market: a client that
is disconnected misses what was released meanwhile. Book frames also update the server's *true*
book (`StrBook`, prices and sizes kept as the venue's strings), so snapshots served later (REST or
on resubscribe) are the real state of the market at that moment. `faults.skip_book_updates`
drops the next book frames of a symbol on the wire only: the truth still moves (a sequence gap).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from tests.conftest import SHARED_DATA

from tests.exchange_server.core import ExchangeServer, WsSession

DATA_DIR = SHARED_DATA
EXCHANGES = DATA_DIR / "exchanges"


def data_available() -> bool:
    return EXCHANGES.is_dir()


def read_capture_ws(path: Path) -> list[tuple[float, str]]:
    """cryptofeed capture lines `<ts>: <json>` (skips the URL header and sent-message lines)."""
    out: list[tuple[float, str]] = []
    for line in path.read_text().splitlines():
        head, sep, body = line.partition(": ")
        if not sep or not body.startswith(("{", "[")) or " " in head:
            continue
        out.append((float(head), body))
    return out


def read_capture_http(path: Path) -> list[tuple[str, float, str]]:
    """cryptofeed REST capture lines `<url> -> <ts>: <json>`."""
    out: list[tuple[str, float, str]] = []
    for line in path.read_text().splitlines():
        url, sep, rest = line.partition(" -> ")
        if not sep:
            continue
        ts, _, body = rest.partition(": ")
        out.append((url, float(ts), body))
    return out


@dataclass(slots=True)
class FeedItem:
    channel: str  # what a session must be subscribed to, in the venue's own spelling
    symbol: str  # the venue's symbol id
    kind: str  # "book", "trades", "quotes", "bars"
    text: str  # the frame exactly as captured
    msg: Any  # the parsed frame
    ts: float = 0.0  # capture time (s)


class StrBook:
    """A venue's book with prices and sizes kept as the strings the venue sent
    (keyed by float price, so "8477" and "8477.0" are one level)."""

    def __init__(self) -> None:
        self.bids: dict[float, tuple[str, str]] = {}
        self.asks: dict[float, tuple[str, str]] = {}
        self.seq = 0

    def clear(self) -> None:
        self.bids.clear()
        self.asks.clear()

    @staticmethod
    def update(side: dict[float, tuple[str, str]], levels: list[list[str]]) -> None:
        for lv in levels:
            price = float(lv[0])
            if float(lv[1]) == 0.0:
                side.pop(price, None)
            else:
                side[price] = (lv[0], lv[1])

    def sorted_bids(self, n: int | None = None) -> list[tuple[str, str]]:
        return [self.bids[p] for p in sorted(self.bids, reverse=True)[:n]]

    def sorted_asks(self, n: int | None = None) -> list[tuple[str, str]]:
        return [self.asks[p] for p in sorted(self.asks)[:n]]

    def copy(self) -> StrBook:
        b = StrBook()
        b.bids, b.asks, b.seq = dict(self.bids), dict(self.asks), self.seq
        return b


class VenueFeed:
    """Base of a venue server: captured items, release to subscribers, truth kept by subclasses."""

    def __init__(self, server: ExchangeServer, items: list[FeedItem]) -> None:
        self.server = server
        self.items = items
        self.cursor = 0
        self.sent: dict[int, int] = {}  # session id -> frames sent (tests read it)

    @property
    def remaining(self) -> int:
        return len(self.items) - self.cursor

    def symbols(self) -> list[str]:
        return sorted({i.symbol for i in self.items})

    async def release(self, n: int | None = None, *, symbol: str | None = None) -> int:
        """Release the next n items (all when None); with `symbol`, stop after n of its items."""
        count = 0
        while self.cursor < len(self.items) and (n is None or count < n):
            item = self.items[self.cursor]
            self.cursor += 1
            if symbol is None or item.symbol == symbol:
                count += 1
            await self._deliver(item)
            await asyncio.sleep(0)
        return count

    async def release_all(self) -> int:
        return await self.release(None)

    async def _deliver(self, item: FeedItem) -> None:
        frames: list[tuple[str, str]] = []
        if item.kind == "book":
            self.on_book(item)
            if self.server.faults.skip_book_updates[item.symbol] > 0:
                self.server.faults.skip_book_updates[item.symbol] -= 1
            else:
                frames.append((item.channel, item.text))
            frames.extend(self.derived(item))
        else:
            frames.append((item.channel, item.text))
        for s in list(self.server.sessions):
            for channel, text in frames:
                if channel in s.subscriptions:
                    await self.send_item(s, channel, text)
                    self.sent[s.id] = self.sent.get(s.id, 0) + 1

    async def send_item(self, session: WsSession, channel: str, text: str) -> None:
        await session.send(text)

    async def barrier(self, symbol: str, n: int) -> int:
        """Send a marker trade for `symbol` (trade id `barrier-<n>` or a venue-legal equivalent)
        to every connection that carries `symbol`: once a client has published it from each,
        it has handled every frame sent before it. Returns how many connections it went to."""
        channel, text = self.barrier_frame(symbol, n)
        sent = 0
        for s in list(self.server.sessions):
            if self.carries(s, symbol, channel):
                await s.send(text)
                sent += 1
        return sent

    def carries(self, session: WsSession, symbol: str, channel: str) -> bool:
        """Whether a barrier for `symbol` goes to `session` (its trade subscribers by default)."""
        return channel in session.subscriptions

    def barrier_frame(self, symbol: str, n: int) -> tuple[str, str]:
        raise NotImplementedError

    # --- venue hooks ------------------------------------------------------------------------------
    def on_book(self, item: FeedItem) -> None:
        """Update the true book with a released book frame."""

    def derived(self, item: FeedItem) -> list[tuple[str, str]]:
        """Frames the venue derives from a book change (e.g. best bid/offer channels)."""
        return []


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()

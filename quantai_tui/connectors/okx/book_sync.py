"""OKX's `books` rules as a pure state machine (https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-order-book-channel).

- A snapshot (re)starts the book; its seqId is the chain's start.
- An update applies when its prevSeqId equals the last seqId. Ids jump (they are not +1);
  seqId == prevSeqId with no levels is a keep-alive; after a maintenance seqId may be lower
  than prevSeqId, which is fine as long as prevSeqId chains. Anything else is a GAP.
- Recordings from before seq ids existed have none: then only the checksum protects the book.
- checksum: when non-zero, the CRC32 (signed 32-bit) of the top 25 levels as the venue's own
  strings, bid and ask interleaved, `bidPx:bidSz:askPx:askSz:...`; a mismatch is a GAP. OKX
  sends 0 since 2026: then it is not checked.
A GAP means: resubscribe, and wait for the new snapshot (updates before it are dropped).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zlib import crc32

from quantai_tui.core.book import OrderBook

APPLY = 0
DROP = 1  # no snapshot yet (waiting for one after a (re)subscribe)
GAP = 3
DEPTH = 25


class OkxBookSync:
    __slots__ = ("seq", "synced", "verify", "bid_raw", "ask_raw")

    def __init__(self) -> None:
        self.seq: int | None = None
        self.synced = False
        self.verify = False  # the snapshot carried a checksum: keep the strings to check it
        self.bid_raw: dict[float, Sequence[Any]] = {}  # price -> the level as sent [px, sz, ...]
        self.ask_raw: dict[float, Sequence[Any]] = {}

    def reset(self) -> None:
        self.seq = None
        self.synced = False
        self.verify = False
        self.bid_raw.clear()
        self.ask_raw.clear()

    def on_snapshot(self, seq: int | None, checksum: int) -> None:
        self.seq = seq
        self.synced = True
        self.verify = checksum != 0  # OKX sends 0 since 2026: then no strings are kept at all
        self.bid_raw.clear()
        self.ask_raw.clear()

    def on_update(self, seq: int | None, prev: int | None) -> int:
        if not self.synced:
            return DROP
        if seq is None or prev is None or self.seq is None:
            self.seq = seq
            return APPLY  # no chain on this feed: the checksum decides
        if prev != self.seq:
            return GAP
        self.seq = seq
        return APPLY

    def keep_levels(
        self, raw_bids: Sequence[Sequence[Any]], raw_asks: Sequence[Sequence[Any]],
        bids: Sequence[tuple[float, float]], asks: Sequence[tuple[float, float]],
    ) -> None:
        """Remember the levels as sent (the parsed floats give the keys and the deletions)."""
        if not self.verify:
            return
        for store, raw, levels in ((self.bid_raw, raw_bids, bids), (self.ask_raw, raw_asks, asks)):
            for lv, (price, size) in zip(raw, levels, strict=True):
                if size == 0.0:
                    store.pop(price, None)
                else:
                    store[price] = lv

    def checksum(self, book: OrderBook) -> int:
        """CRC32 of the top 25 levels as sent. Raises (KeyError, TypeError) when the kept levels
        do not match the book: the caller treats that as a mismatch."""
        bids = book.bids.top(DEPTH)
        asks = book.asks.top(DEPTH)
        br, ar = self.bid_raw, self.ask_raw
        nb, na = len(bids), len(asks)
        parts: list[str] = []
        ext = parts.extend
        for i in range(max(nb, na)):
            if i < nb:
                lv = br[bids[i][0]]
                ext((lv[0], lv[1]))
            if i < na:
                lv = ar[asks[i][0]]
                ext((lv[0], lv[1]))
        return signed32(crc32(":".join(parts).encode()))


def signed32(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value

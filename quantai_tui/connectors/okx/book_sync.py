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
    __slots__ = ("seq", "synced", "bid_str", "ask_str")

    def __init__(self) -> None:
        self.seq: int | None = None
        self.synced = False
        self.bid_str: dict[float, str] = {}  # price -> "px:sz" as sent, for the checksum
        self.ask_str: dict[float, str] = {}

    def reset(self) -> None:
        self.seq = None
        self.synced = False
        self.bid_str.clear()
        self.ask_str.clear()

    def on_snapshot(self, seq: int | None) -> None:
        self.seq = seq
        self.synced = True
        self.bid_str.clear()
        self.ask_str.clear()

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

    def keep_strings(
        self, raw_bids: Sequence[Sequence[Any]], raw_asks: Sequence[Sequence[Any]],
        bids: Sequence[tuple[float, float]], asks: Sequence[tuple[float, float]],
    ) -> None:
        """Remember the levels' strings (parsed floats give the keys and the deletions)."""
        for store, raw, levels in ((self.bid_str, raw_bids, bids), (self.ask_str, raw_asks, asks)):
            for lv, (price, size) in zip(raw, levels, strict=True):
                if size == 0.0:
                    store.pop(price, None)
                else:
                    store[price] = f"{lv[0]}:{lv[1]}"

    def checksum(self, book: OrderBook) -> int:
        bids = book.bids.top(DEPTH)
        asks = book.asks.top(DEPTH)
        bs, as_ = self.bid_str, self.ask_str
        parts: list[str] = []
        for i in range(max(len(bids), len(asks))):
            if i < len(bids):
                parts.append(bs[bids[i][0]])
            if i < len(asks):
                parts.append(as_[asks[i][0]])
        return signed32(crc32(":".join(parts).encode()))


def signed32(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value

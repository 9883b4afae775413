"""Bybit's `orderbook.N` rules as a pure state machine (https://bybit-exchange.github.io/docs/v5/websocket/public/orderbook).

- A snapshot replaces the local book, whenever it comes (Bybit resends one after trouble).
- `u == 1` means the service restarted: overwrite the book (parsing turns it into a snapshot).
- Deltas follow with u continuous (+1). A delta at or before the last u is a duplicate (DROP);
  one past u + 1 is a GAP: resubscribe, which makes Bybit push a new snapshot.
- Before the first snapshot deltas are dropped.
"""

from __future__ import annotations

APPLY = 0
DROP = 1
GAP = 3


class BybitBookSync:
    __slots__ = ("last_u", "synced")

    def __init__(self) -> None:
        self.last_u = 0
        self.synced = False

    def reset(self) -> None:
        self.last_u = 0
        self.synced = False

    def on_snapshot(self, u: int) -> None:
        self.last_u = u
        self.synced = True

    def on_delta(self, u: int) -> int:
        if not self.synced:
            return DROP
        if u <= self.last_u:
            return DROP
        if u != self.last_u + 1:
            return GAP
        self.last_u = u
        return APPLY

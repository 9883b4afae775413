"""Binance's order-book rules as pure state machines over update ids (no I/O, no books).

Spot (https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams):
  buffer diffs; fetch a snapshot; drop every diff with u <= lastUpdateId; the first applied diff
  straddles lastUpdateId + 1 (U <= lastUpdateId + 1 <= u); after that U == previous u + 1.
USD-M futures: drop diffs with u < lastUpdateId; the first applied one has
  U <= lastUpdateId <= u; after that each diff's pu equals the previous diff's u.
Anything else is a GAP: discard the book and sync again from a new snapshot.

A diff entirely at or before the last applied id is a DROP (a duplicate, e.g. from the second
connection during a make-before-break rotation), never a gap.

    sync = SpotDepthSync()
    sync.on_diff(U, u, pu)   -> BUFFER until on_snapshot(last_update_id) was called
    sync.on_snapshot(lid); sync.on_diff(...) -> APPLY | DROP | GAP
"""

from __future__ import annotations

APPLY = 0  # apply the diff to the book
DROP = 1  # already contained in the book: ignore
BUFFER = 2  # no snapshot yet: keep it for when the snapshot arrives
GAP = 3  # a sequence break (or a snapshot older than the diffs): resync


class SpotDepthSync:
    __slots__ = ("last_u", "synced")

    def __init__(self) -> None:
        self.last_u = 0
        self.synced = False

    def reset(self) -> None:
        self.last_u = 0
        self.synced = False

    def on_snapshot(self, last_update_id: int) -> None:
        self.last_u = last_update_id
        self.synced = True

    def on_diff(self, first: int, last: int, prev: int = -1) -> int:
        if not self.synced:
            return BUFFER
        if last <= self.last_u:
            return DROP
        if first > self.last_u + 1:
            return GAP
        self.last_u = last
        return APPLY


class FuturesDepthSync:
    __slots__ = ("last_u", "synced", "first")

    def __init__(self) -> None:
        self.last_u = 0
        self.synced = False
        self.first = True  # the next applied diff must straddle the snapshot's id

    def reset(self) -> None:
        self.last_u = 0
        self.synced = False
        self.first = True

    def on_snapshot(self, last_update_id: int) -> None:
        self.last_u = last_update_id
        self.synced = True
        self.first = True

    def on_diff(self, first: int, last: int, prev: int) -> int:
        if not self.synced:
            return BUFFER
        if self.first:
            if last < self.last_u:
                return DROP
            if first > self.last_u:
                return GAP  # the snapshot is older than the stream: a newer one is needed
            self.first = False
            self.last_u = last
            return APPLY
        if last <= self.last_u:
            return DROP
        if prev != self.last_u:
            return GAP
        self.last_u = last
        return APPLY

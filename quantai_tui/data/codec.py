"""Market data events <-> Arrow columns, one codec per kind (see data/schema.py).

Encoding appends to plain Python lists (cheap per event, on the recorder's task); a table is
built only when a chunk is flushed. Decoding turns record batches back into the very events
that were recorded, built with the fast `Event.make`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from quantai_tui.core.enums import AggressorSide
from quantai_tui.core.events import Bar, Event, OrderBookDeltas, QuoteTick, TradeTick
from quantai_tui.data.schema import BOOK_NO_LEVEL, FileMeta, check_kind, schema

_AGGRESSOR = (AggressorSide.NONE, AggressorSide.BUYER, AggressorSide.SELLER)

KIND_OF: dict[type, str] = {TradeTick: "trades", QuoteTick: "quotes", Bar: "bars", OrderBookDeltas: "book"}


def warm_up() -> None:
    """Make pyarrow's first conversion now: it imports pandas then (a second or more without
    bytecode), which should happen before a market starts, not in the first flush."""
    pa.array([0], pa.int64())


def kind_of(event: Event) -> str | None:
    return KIND_OF.get(type(event))


class ColumnBuffer:
    """Rows of one kind, as column lists. `append(event, seq)`; `take()` -> Arrow table."""

    def __init__(self, kind: str) -> None:
        self.kind = check_kind(kind)
        self.names = schema(kind).names
        self._reset()
        self.append = getattr(self, f"_append_{'book' if kind.startswith('book') else kind}")

    def _reset(self) -> None:
        # one list per column, in schema order; the append methods unpack this tuple
        self.lists: tuple[list[Any], ...] = tuple([] for _ in self.names)
        self.messages = 0

    def __len__(self) -> int:
        return len(self.lists[0])

    def take(self, meta: FileMeta | None = None) -> pa.Table:
        """The rows as a table (with `meta` as file metadata); the buffer is emptied."""
        sch = meta.schema() if meta is not None else schema(self.kind)
        table = pa.Table.from_arrays([pa.array(col, type=f.type) for col, f in zip(self.lists, sch, strict=True)],
                                     schema=sch)
        self._reset()
        return table

    def _append_trades(self, ev: TradeTick, seq: int) -> None:
        s, te, ti, v, sy, p, q, side, tid = self.lists
        s.append(seq)
        te.append(ev.ts_event)
        ti.append(ev.ts_init)
        v.append(ev.venue)
        sy.append(ev.symbol)
        p.append(ev.price)
        q.append(ev.size)
        side.append(int(ev.aggressor))
        tid.append(ev.trade_id)
        self.messages += 1

    def _append_quotes(self, ev: QuoteTick, seq: int) -> None:
        s, te, ti, v, sy, b, bs, a, as_ = self.lists
        s.append(seq)
        te.append(ev.ts_event)
        ti.append(ev.ts_init)
        v.append(ev.venue)
        sy.append(ev.symbol)
        b.append(ev.bid)
        bs.append(ev.bid_size)
        a.append(ev.ask)
        as_.append(ev.ask_size)
        self.messages += 1

    def _append_bars(self, ev: Bar, seq: int) -> None:
        s, te, ti, v, sy, tf, o, h, lo, c, vol, closed = self.lists
        s.append(seq)
        te.append(ev.ts_event)
        ti.append(ev.ts_init)
        v.append(ev.venue)
        sy.append(ev.symbol)
        tf.append(ev.timeframe)
        o.append(ev.open)
        h.append(ev.high)
        lo.append(ev.low)
        c.append(ev.close)
        vol.append(ev.volume)
        closed.append(ev.closed)
        self.messages += 1

    def _append_book(self, ev: OrderBookDeltas, seq: int) -> None:
        s, te, ti, v, sy, snap, sq, side, p, q = self.lists
        bids, asks = ev.bids, ev.asks
        nb, na = len(bids), len(asks)
        n = nb + na
        if n:
            side.extend([0] * nb)
            side.extend([1] * na)
            p.extend([lv[0] for lv in bids])
            p.extend([lv[0] for lv in asks])
            q.extend([lv[1] for lv in bids])
            q.extend([lv[1] for lv in asks])
        else:  # keep the message: an empty snapshot clears the book
            n = 1
            side.append(BOOK_NO_LEVEL)
            p.append(None)
            q.append(None)
        s.extend([seq] * n)
        te.extend([ev.ts_event] * n)
        ti.extend([ev.ts_init] * n)
        v.extend([ev.venue] * n)
        sy.extend([ev.symbol] * n)
        snap.extend([ev.is_snapshot] * n)
        sq.extend([ev.sequence] * n)
        self.messages += 1


# --- decoding ------------------------------------------------------------------------------------
def _cols(batch: pa.RecordBatch, names: tuple[str, ...]) -> list[list[Any]]:
    return [batch.column(n).to_pylist() for n in names]


def decode_trades(batch: pa.RecordBatch) -> Iterator[tuple[int, Event]]:
    make = TradeTick.make
    agg = _AGGRESSOR
    cols = _cols(batch, ("seq", "venue", "symbol", "price", "size", "side", "trade_id", "ts_event", "ts_init"))
    for seq, v, s, p, q, side, tid, te, ti in zip(*cols, strict=True):
        yield seq, make(v, s, p, q, agg[side], tid, te, ti)


def decode_quotes(batch: pa.RecordBatch) -> Iterator[tuple[int, Event]]:
    make = QuoteTick.make
    cols = _cols(batch, ("seq", "venue", "symbol", "bid", "bid_size", "ask", "ask_size", "ts_event", "ts_init"))
    for seq, v, s, b, bs, a, as_, te, ti in zip(*cols, strict=True):
        yield seq, make(v, s, b, bs, a, as_, te, ti)


def decode_bars(batch: pa.RecordBatch) -> Iterator[tuple[int, Event]]:
    make = Bar.make
    cols = _cols(batch, ("seq", "venue", "symbol", "timeframe", "open", "high", "low", "close", "volume", "closed",
                         "ts_event", "ts_init"))
    for seq, v, s, tf, o, h, lo, c, vol, closed, te, ti in zip(*cols, strict=True):
        yield seq, make(v, s, tf, o, h, lo, c, vol, closed, te, ti)


class BookDecoder:
    """Regroups book rows into messages by seq. Rows of a message may straddle two batches,
    so the last, possibly incomplete group waits for the next batch (or `finish`)."""

    def __init__(self) -> None:
        self._open: list[Any] | None = None  # [seq, venue, symbol, snap, sequence, te, ti, bids, asks]

    def _emit(self) -> tuple[int, Event]:
        g = self._open
        assert g is not None
        self._open = None
        return g[0], OrderBookDeltas.make(g[1], g[2], tuple(g[7]), tuple(g[8]), g[3], g[4], g[5], g[6])

    def feed(self, batch: pa.RecordBatch) -> Iterator[tuple[int, Event]]:
        cols = _cols(batch, ("seq", "venue", "symbol", "is_snapshot", "sequence", "ts_event", "ts_init", "side",
                             "price", "size"))
        for seq, v, s, snap, sq, te, ti, side, p, q in zip(*cols, strict=True):
            g = self._open
            if g is None or g[0] != seq:
                if g is not None:
                    yield self._emit()
                g = self._open = [seq, v, s, snap, sq, te, ti, [], []]
            if side == 0:
                g[7].append((p, q))
            elif side == 1:
                g[8].append((p, q))

    def finish(self) -> Iterator[tuple[int, Event]]:
        if self._open is not None:
            yield self._emit()


def decoder(kind: str) -> tuple[Any, Any]:
    """(feed(batch) -> iterator of (seq, event), finish() -> iterator) for a kind."""
    check_kind(kind)
    if kind.startswith("book"):
        d = BookDecoder()
        return d.feed, d.finish
    fn = {"trades": decode_trades, "quotes": decode_quotes, "bars": decode_bars}[kind]
    return fn, lambda: iter(())

"""OKX v5 market data: `books` (L2, 400 levels), `trades`, `bbo-tbt` (best bid/offer) on the
public endpoint, `candle*` on the business endpoint.

The book follows book_sync.py: the snapshot pushed after subscribing starts it, updates chain
by prevSeqId and are checked by CRC32 when the checksum is non-zero; a break unsubscribes and
subscribes again, which makes OKX push a fresh snapshot. Heartbeat: the text `ping`, answered
by `pong` (OKX closes a connection that stays silent for 30 s).
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from quantai_tui.connectors.base import Publish, SymbolState, WebSocketMarketDataClient
from quantai_tui.connectors.okx import parsing
from quantai_tui.connectors.okx.book_sync import APPLY, GAP, OkxBookSync
from quantai_tui.connectors.okx.config import CANDLES, VENUE, endpoints, inst_id
from quantai_tui.connectors.stream import Conn, StreamOptions, WsStream
from quantai_tui.core.clock import Clock
from quantai_tui.core.instruments import Instrument

log = logging.getLogger("quantai.connectors.okx")

_loads = orjson.loads
_PONG = b"pong"
MAX_ARGS = 20  # subscriptions per message


class OkxMarketDataClient(WebSocketMarketDataClient):
    def __init__(
        self,
        publish: Publish,
        clock: Clock,
        *,
        rest_url: str = "",
        ws_url: str = "",
        testnet: bool = False,
        options: StreamOptions | None = None,
        cache_dir: Path | str | None = None,
        bar_timeframe: str = "1m",
        book_channel: str = "books",
        markets_max_age_s: float = 24 * 3600.0,
    ) -> None:
        if bar_timeframe not in CANDLES:
            raise ValueError(f"okx: unsupported bar timeframe {bar_timeframe!r}; one of {sorted(CANDLES)}")
        super().__init__(
            VENUE, publish, clock, options=options, cache_dir=cache_dir, bar_timeframe=bar_timeframe,
            markets_max_age_s=markets_max_age_s,
        )
        self.testnet = testnet
        self.endpoints = endpoints(rest_url, ws_url, testnet)
        self.rest_override = rest_url  # ccxt keeps its own URLs unless overridden
        self.book_channel = book_channel
        self._routes: dict[tuple[str, str], Any] = {}

    # --- symbols and subscriptions ----------------------------------------------------------
    def _native(self, symbol: str) -> str:
        return inst_id(symbol)

    def _stream_for(self, symbol: str, kind: str) -> str:
        return "business" if kind == "bars" else "public"

    def _stream_url(self, name: str) -> str:
        return self.endpoints.business if name == "business" else self.endpoints.public

    def _channels(self, st: SymbolState, kinds: set[str]) -> dict[str, str]:
        names = {"book": self.book_channel, "trades": "trades", "quotes": "bbo-tbt", "bars": CANDLES[st.timeframe]}
        return {k: v for k, v in names.items() if k in kinds}

    def _on_subscribed(self, st: SymbolState, kinds: set[str]) -> None:
        if st.x is None:
            st.x = OkxBookSync()
        handlers = {"book": self._on_books, "trades": self._on_trades, "quotes": self._on_bbo, "bars": self._on_candle}
        for kind, channel in self._channels(st, kinds).items():
            self._routes[(channel, st.native)] = partial(handlers[kind], st)

    async def _subscribe(self, stream: WsStream, conn: Conn, states: list[SymbolState], kinds: set[str] | None) -> None:
        args = [
            {"channel": ch, "instId": st.native}
            for st in states
            for ch in self._channels(st, self.kinds_on(stream, st, kinds)).values()
        ]
        await self._send_op(conn, "subscribe", args)

    async def _send_op(self, conn: Conn, op: str, args: list[dict[str, str]]) -> None:
        for i in range(0, len(args), MAX_ARGS):
            await conn.send(orjson.dumps({"op": op, "args": args[i : i + MAX_ARGS]}).decode())

    async def _ping(self, stream: WsStream, conn: Conn) -> None:
        await conn.send("ping")

    # --- frames (the hot path) ----------------------------------------------------------------
    def _handle(self, stream: WsStream, conn: Conn, raw: bytes) -> None:
        if raw == _PONG:
            return
        msg = _loads(raw)
        if "event" in msg:
            self._control(msg, raw)
            return
        arg = msg["arg"]
        route = self._routes.get((arg["channel"], arg["instId"]))
        if route is not None:
            route(msg, self.clock.timestamp_ns())

    def _control(self, msg: dict[str, Any], raw: bytes) -> None:
        event = msg["event"]
        if event == "error":
            log.error("okx: the venue answered an error: %s", raw[:300])
        elif event == "notice":
            log.warning("okx: notice: %s", raw[:300])  # e.g. 64008: a service upgrade will cut us

    def _on_trades(self, st: SymbolState, msg: dict[str, Any], ts_init: int) -> None:
        venue, symbol, publish, topic = self.venue, st.symbol, self._publish, st.trade_topic
        for ev in [parsing.parse_trade(d, venue, symbol, ts_init) for d in msg["data"]]:
            publish(topic, ev)

    def _on_bbo(self, st: SymbolState, msg: dict[str, Any], ts_init: int) -> None:
        ev = parsing.parse_bbo(msg["data"][0], self.venue, st.symbol, ts_init)
        if ev is not None:
            self._publish(st.quote_topic, ev)

    def _on_candle(self, st: SymbolState, msg: dict[str, Any], ts_init: int) -> None:
        venue, symbol, tf = self.venue, st.symbol, st.timeframe
        for ev in [parsing.parse_candle(row, venue, symbol, tf, ts_init) for row in msg["data"]]:
            self._publish(st.bar_topic, ev)

    def _on_books(self, st: SymbolState, msg: dict[str, Any], ts_init: int) -> None:
        is_snapshot = msg["action"] == "snapshot"
        for d in msg["data"]:
            seq, prev, checksum, ev = parsing.parse_book(d, self.venue, st.symbol, ts_init, is_snapshot)
            self._book_frame(st, d, seq, prev, checksum, ev)

    def _book_frame(self, st: SymbolState, d: dict[str, Any], seq: int | None, prev: int | None, checksum: int,
                    ev: Any) -> None:
        x: OkxBookSync = st.x
        book = st.book
        if book is None:
            return
        if ev.is_snapshot:
            x.on_snapshot(seq, checksum)
            x.keep_levels(d["bids"], d["asks"], ev.bids, ev.asks)
            if not self.apply_snapshot(st, ev, (lambda: self._checksum_ok(st, checksum)) if checksum else None):
                self.book_gap(st, f"checksum mismatch on the snapshot (venue {checksum})")
            return
        act = x.on_update(seq, prev)
        if act == APPLY:
            x.keep_levels(d["bids"], d["asks"], ev.bids, ev.asks)
            book.apply(ev)
            if checksum and not self._checksum_ok(st, checksum):
                self.book_gap(st, f"checksum mismatch (venue {checksum}, local {self._local_checksum(st)})")
                return
            self._publish(st.book_topic, ev)
        elif act == GAP:
            self.book_gap(st, f"sequence gap: prevSeqId {prev} after seqId {x.seq}")
        # DROP: waiting for the snapshot of a (re)subscription

    def _local_checksum(self, st: SymbolState) -> int | None:
        try:
            return st.x.checksum(st.book)  # type: ignore[no-any-return]
        except Exception:  # the kept levels do not match the book (or were not kept): a mismatch
            return None

    def _checksum_ok(self, st: SymbolState, checksum: int) -> bool:
        return self._local_checksum(st) == checksum

    # --- resync: resubscribe, OKX pushes a new snapshot ------------------------------------------
    def _resync(self, st: SymbolState, reason: str, subscribed: bool) -> None:
        x: OkxBookSync = st.x
        x.reset()
        if subscribed:
            return  # the snapshot of the fresh subscription is on its way
        stream = self._streams.get(st.stream)
        if stream is None or not stream.connected:
            return  # on_connected resubscribes everything
        self._spawn(f"resubscribe:{st.symbol}", self._resubscribe(stream, st))

    async def _resubscribe(self, stream: WsStream, st: SymbolState) -> None:
        arg = [{"channel": self.book_channel, "instId": st.native}]
        for conn in list(stream.conns):
            await self._send_op(conn, "unsubscribe", arg)
            await self._send_op(conn, "subscribe", arg)

    # --- instruments -----------------------------------------------------------------------------
    async def _load_instruments(self) -> dict[str, Instrument]:
        from quantai_tui.connectors.okx.instruments import load_instruments

        return await load_instruments(
            self.markets_cache_path(), self.markets_max_age_s, rest_url=self.rest_override, testnet=self.testnet
        )

"""Bybit v5 public market data: `orderbook.<depth>` (L2), `publicTrade`, `orderbook.1` (best
bid/offer: Bybit's recommended BBO source, tickers carry none on spot), `kline.<interval>`.
One WebSocket per category (spot, linear, inverse), chosen from the symbol.

The book follows book_sync.py: the snapshot pushed after subscribing starts it, deltas chain by
u, a new snapshot (or u == 1) replaces it, a break resubscribes. Heartbeat: `{"op": "ping"}`,
answered by a pong message.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from quantai_tui.connectors.base import Publish, SymbolState, WebSocketMarketDataClient, parse_levels
from quantai_tui.connectors.bybit import parsing
from quantai_tui.connectors.bybit.book_sync import APPLY, GAP, BybitBookSync
from quantai_tui.connectors.bybit.config import (
    INTERVALS, VENUE, category, native_symbol, rest_url_for, ws_url_for,
)
from quantai_tui.connectors.stream import Conn, StreamOptions, WsStream
from quantai_tui.core.clock import Clock
from quantai_tui.core.events import QuoteTick
from quantai_tui.core.instruments import Instrument

log = logging.getLogger("quantai.connectors.bybit")

_loads = orjson.loads
_MS = 1_000_000
_make_quote = QuoteTick.make
MAX_ARGS = 10  # Bybit spot accepts at most 10 topics per subscribe request


class _State:
    __slots__ = ("sync", "bid", "bid_size", "ask", "ask_size")

    def __init__(self) -> None:
        self.sync = BybitBookSync()
        self.bid = self.bid_size = self.ask = self.ask_size = 0.0  # orderbook.1, for quotes


class BybitMarketDataClient(WebSocketMarketDataClient):
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
        book_depth: int = 50,
        markets_max_age_s: float = 24 * 3600.0,
    ) -> None:
        if bar_timeframe not in INTERVALS:
            raise ValueError(f"bybit: unsupported bar timeframe {bar_timeframe!r}; one of {sorted(INTERVALS)}")
        super().__init__(
            VENUE, publish, clock, options=options, cache_dir=cache_dir, bar_timeframe=bar_timeframe,
            markets_max_age_s=markets_max_age_s,
        )
        self.testnet = testnet
        self.rest_url = rest_url_for(rest_url, testnet)
        self.rest_override = rest_url  # ccxt keeps its own URLs unless overridden
        self._ws_override = ws_url
        self.book_depth = book_depth
        self._routes: dict[str, dict[str, Any]] = {}  # stream -> topic -> handler
        self._req_id = 0

    # --- symbols and subscriptions ----------------------------------------------------------
    def _native(self, symbol: str) -> str:
        return native_symbol(symbol)

    def _stream_for(self, symbol: str, kind: str) -> str:
        return category(symbol)

    def _stream_url(self, name: str) -> str:
        return ws_url_for(self._ws_override, self.testnet, name)

    def _topics(self, st: SymbolState, kinds: set[str]) -> dict[str, str]:
        n = st.native
        names = {
            "book": f"orderbook.{self.book_depth}.{n}",
            "trades": f"publicTrade.{n}",
            "quotes": f"orderbook.1.{n}",
            "bars": f"kline.{INTERVALS[st.timeframe]}.{n}",
        }
        return {k: v for k, v in names.items() if k in kinds}

    def _on_subscribed(self, st: SymbolState, kinds: set[str]) -> None:
        if st.x is None:
            st.x = _State()
        handlers = {"book": self._on_book, "trades": self._on_trades, "quotes": self._on_bbo, "bars": self._on_kline}
        routes = self._routes.setdefault(st.stream, {})
        for kind, topic in self._topics(st, kinds).items():
            routes[topic] = partial(handlers[kind], st)

    async def _subscribe(self, stream: WsStream, conn: Conn, states: list[SymbolState], kinds: set[str] | None) -> None:
        topics = [t for st in states for t in self._topics(st, self.kinds_on(stream, st, kinds)).values()]
        await self._send_op(conn, "subscribe", topics)

    async def _send_op(self, conn: Conn, op: str, topics: list[str]) -> None:
        for i in range(0, len(topics), MAX_ARGS):
            self._req_id += 1
            msg = {"op": op, "args": topics[i : i + MAX_ARGS], "req_id": str(self._req_id)}
            await conn.send(orjson.dumps(msg).decode())

    async def _ping(self, stream: WsStream, conn: Conn) -> None:
        self._req_id += 1
        await conn.send(orjson.dumps({"op": "ping", "req_id": str(self._req_id)}).decode())

    # --- frames (the hot path) ----------------------------------------------------------------
    def _handle(self, stream: WsStream, conn: Conn, raw: bytes) -> None:
        msg = _loads(raw)
        topic = msg.get("topic")
        if topic is None:
            self._control(msg, raw)
            return
        route = self._routes[stream.key].get(topic)
        if route is not None:
            route(msg, self.clock.timestamp_ns())

    def _control(self, msg: dict[str, Any], raw: bytes) -> None:
        op = msg.get("op")
        if op in ("ping", "pong"):
            return  # the pong: receiving it already refreshed the heartbeat
        if msg.get("success") is False:
            log.error("bybit: the venue refused a request: %s", raw[:300])
        elif op is None:
            raise ValueError("frame without a topic")

    def _on_trades(self, st: SymbolState, msg: dict[str, Any], ts_init: int) -> None:
        venue, symbol, publish, topic = self.venue, st.symbol, self._publish, st.trade_topic
        for ev in [parsing.parse_trade(d, venue, symbol, ts_init) for d in msg["data"]]:
            publish(topic, ev)

    def _on_kline(self, st: SymbolState, msg: dict[str, Any], ts_init: int) -> None:
        for ev in [parsing.parse_kline(d, self.venue, st.symbol, ts_init) for d in msg["data"]]:
            self._publish(st.bar_topic, ev)

    def _on_bbo(self, st: SymbolState, msg: dict[str, Any], ts_init: int) -> None:
        """orderbook.1: a snapshot sets both sides; a delta updates the sides it carries."""
        d = msg["data"]
        bids, asks = parse_levels(d["b"]), parse_levels(d["a"])
        x: _State = st.x
        if msg["type"] == "snapshot":
            x.bid = x.bid_size = x.ask = x.ask_size = 0.0
        if bids:
            x.bid, x.bid_size = bids[0] if bids[0][1] > 0.0 else (0.0, 0.0)
        if asks:
            x.ask, x.ask_size = asks[0] if asks[0][1] > 0.0 else (0.0, 0.0)
        if x.bid > 0.0 and x.ask > 0.0:
            self._publish(st.quote_topic, _make_quote(self.venue, st.symbol, x.bid, x.bid_size, x.ask, x.ask_size,
                                                      int(msg["ts"]) * _MS, ts_init))

    def _on_book(self, st: SymbolState, msg: dict[str, Any], ts_init: int) -> None:
        is_snapshot, u, ev = parsing.parse_book(msg, self.venue, st.symbol, ts_init)
        if st.book is None:
            return
        x: _State = st.x
        if is_snapshot:
            x.sync.on_snapshot(u)
            self.apply_snapshot(st, ev)
            return
        act = x.sync.on_delta(u)
        if act == APPLY:
            self.apply_delta(st, ev)
        elif act == GAP:
            self.book_gap(st, f"sequence gap: u={u} after u={x.sync.last_u}")

    # --- resync: resubscribe, Bybit pushes a new snapshot -----------------------------------------
    def _resync(self, st: SymbolState, reason: str, subscribed: bool) -> None:
        st.x.sync.reset()
        if subscribed:
            return
        stream = self._streams.get(st.stream)
        if stream is None or not stream.connected:
            return
        self._spawn(f"resubscribe:{st.symbol}", self._resubscribe(stream, st))

    async def _resubscribe(self, stream: WsStream, st: SymbolState) -> None:
        topic = [f"orderbook.{self.book_depth}.{st.native}"]
        for conn in list(stream.conns):
            await self._send_op(conn, "unsubscribe", topic)
            await self._send_op(conn, "subscribe", topic)

    # --- instruments -----------------------------------------------------------------------------
    async def _load_instruments(self) -> dict[str, Instrument]:
        from quantai_tui.connectors.bybit.instruments import load_instruments

        return await load_instruments(
            self.markets_cache_path(), self.markets_max_age_s, rest_url=self.rest_override, testnet=self.testnet
        )

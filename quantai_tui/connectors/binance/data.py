"""Binance spot and USD-M market data over the combined stream (`/stream`).

Streams per symbol: `<id>@depth@100ms` (L2 diffs), `@aggTrade`, `@bookTicker`, `@kline_<tf>`.
Spot carries them on one connection; USD-M on two (config.py): `public` (depth, bookTicker)
and `market` (aggTrade, klines).
The book follows book_sync.py: diffs are buffered while a REST snapshot is fetched, bridged onto
it, then chained; any gap discards the book and fetches a new snapshot. Binance ends every
connection after 24 h, so the stream rotates before that (make-before-break): during the overlap
both connections feed frames, duplicates are dropped by id and diffs that run ahead of the book
are held until the chain catches up.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from quantai_tui.connectors.base import Publish, SymbolState, WebSocketMarketDataClient
from quantai_tui.connectors.binance import parsing
from quantai_tui.connectors.binance.book_sync import APPLY, BUFFER, DROP, GAP, FuturesDepthSync, SpotDepthSync
from quantai_tui.connectors.binance.config import ROUTE_OF_KIND, SPOT, BinanceMarket, endpoints
from quantai_tui.connectors.stream import Conn, StreamOptions, WsStream
from quantai_tui.core.clock import Clock
from quantai_tui.core.enums import InstrumentKind
from quantai_tui.core.errors import RateLimited
from quantai_tui.core.instruments import Instrument
from quantai_tui.core.symbols import parse_symbol

log = logging.getLogger("quantai.connectors.binance")

_loads = orjson.loads
MAX_BUFFER = 10_000  # diffs kept while a snapshot is on its way
SNAPSHOT_CONCURRENCY = 4  # REST snapshots in flight at once (each weighs on Binance's rate limit)


class _BookState:
    __slots__ = ("sync", "buffer", "held", "task", "last_bar_closed")

    def __init__(self, futures: bool) -> None:
        self.sync: SpotDepthSync | FuturesDepthSync = FuturesDepthSync() if futures else SpotDepthSync()
        self.buffer: list[tuple[int, int, Any]] = []  # (U, pu, deltas) before the snapshot
        self.held: list[tuple[int, int, Any]] = []  # diffs ahead of the book during a rotation
        self.task: asyncio.Task[Any] | None = None
        self.last_bar_closed = -1


class BinanceMarketDataClient(WebSocketMarketDataClient):
    def __init__(
        self,
        publish: Publish,
        clock: Clock,
        *,
        market: BinanceMarket = SPOT,
        rest_url: str = "",
        ws_url: str = "",
        testnet: bool = False,
        options: StreamOptions | None = None,
        cache_dir: Path | str | None = None,
        bar_timeframe: str = "1m",
        snapshot_limit: int | None = None,
        snapshot_wait_s: float = 1.0,
        markets_max_age_s: float = 24 * 3600.0,
    ) -> None:
        if options is None:
            options = StreamOptions()
        if options.max_connection_age_s is None:  # Binance cuts at 24 h: always rotate before
            options = replace(options, max_connection_age_s=market.max_connection_age_s)
        super().__init__(
            market.venue, publish, clock, options=options, cache_dir=cache_dir, bar_timeframe=bar_timeframe,
            markets_max_age_s=markets_max_age_s,
        )
        self.market = market
        self.testnet = testnet
        self.endpoints = endpoints(market, rest_url, ws_url, testnet)
        self.rest_override = rest_url  # ccxt keeps its own URLs unless overridden
        self.snapshot_limit = snapshot_limit or market.snapshot_limit
        self.snapshot_wait_s = snapshot_wait_s
        self._futures = market.futures
        # the connection of each kind, for the overlap of a rotation (duplicates come on the same one)
        self._kind_stream = dict(ROUTE_OF_KIND) if market.routed else dict.fromkeys(ROUTE_OF_KIND, "market")
        self._routes: dict[str, Any] = {}
        self._req_id = 0
        self._snapshot_slots: asyncio.Semaphore | None = None

    # --- symbols and subscriptions ----------------------------------------------------------
    def _native(self, symbol: str) -> str:
        info = parse_symbol(symbol)
        if self._futures:
            if info.settle != info.quote:
                raise ValueError(f"{symbol}: binanceusdm lists USD-M (linear) contracts only")
            native = info.base + info.quote
            return native + "_" + info.expiry.strftime("%y%m%d") if info.expiry else native
        if info.kind is not InstrumentKind.SPOT:
            raise ValueError(f"{symbol}: use venue 'binanceusdm' for futures")
        return info.base + info.quote

    def _stream_for(self, symbol: str, kind: str) -> str:
        return self._kind_stream[kind]

    def _stream_url(self, name: str) -> str:
        return self.endpoints.ws_routes[name]

    def _stream_names(self, st: SymbolState, kinds: set[str]) -> dict[str, str]:
        n = st.native.lower()
        names = {
            "book": f"{n}@depth@100ms",
            "trades": f"{n}@aggTrade",
            "quotes": f"{n}@bookTicker",
            "bars": f"{n}@kline_{st.timeframe}",
        }
        return {k: v for k, v in names.items() if k in kinds}

    def _on_subscribed(self, st: SymbolState, kinds: set[str]) -> None:
        if st.x is None:
            st.x = _BookState(self._futures)
        handlers = {"book": self._on_depth, "trades": self._on_trade, "quotes": self._on_quote, "bars": self._on_kline}
        for kind, name in self._stream_names(st, kinds).items():
            self._routes[name] = partial(handlers[kind], st)

    async def _subscribe(self, stream: WsStream, conn: Conn, states: list[SymbolState], kinds: set[str] | None) -> None:
        params: list[str] = []
        for st in states:
            params.extend(self._stream_names(st, self.kinds_on(stream, st, kinds)).values())
        for i in range(0, len(params), 100):  # Binance: few messages per second, many streams each
            self._req_id += 1
            msg = {"method": "SUBSCRIBE", "params": params[i : i + 100], "id": self._req_id}
            await conn.send(orjson.dumps(msg).decode())  # a text frame, as the venue expects

    async def _ping(self, stream: WsStream, conn: Conn) -> None:
        waiter = await conn.ws.ping()  # a protocol ping; the pong refreshes the heartbeat
        waiter.add_done_callback(conn.touch)

    # --- frames (the hot path) ----------------------------------------------------------------
    def _handle(self, stream: WsStream, conn: Conn, raw: bytes) -> None:
        msg = _loads(raw)
        name = msg.get("stream")
        if name is None:
            self._control(msg, raw)
            return
        route = self._routes.get(name)
        if route is not None:
            route(msg["data"], self.clock.timestamp_ns())

    def _control(self, msg: dict[str, Any], raw: bytes) -> None:
        if "result" in msg and "id" in msg:
            return  # subscription acknowledged
        if "error" in msg or "code" in msg:
            log.error("%s: the venue answered an error: %s", self.venue, raw[:300])
            return
        raise ValueError("frame without a stream")

    def _on_trade(self, st: SymbolState, d: dict[str, Any], ts_init: int) -> None:
        ev = parsing.parse_agg_trade(d, self.venue, st.symbol, ts_init)
        tid = int(ev.trade_id)
        if tid <= st.last_trade_id and self._overlap.get(self._kind_stream["trades"]):
            return  # the same trade from the second connection of a rotation
        st.last_trade_id = tid
        self._publish(st.trade_topic, ev)

    def _on_quote(self, st: SymbolState, d: dict[str, Any], ts_init: int) -> None:
        ev = parsing.parse_book_ticker(d, self.venue, st.symbol, ts_init)
        uid = int(d["u"])
        if uid <= st.last_quote_id and self._overlap.get(self._kind_stream["quotes"]):
            return
        st.last_quote_id = uid
        self._publish(st.quote_topic, ev)

    def _on_kline(self, st: SymbolState, d: dict[str, Any], ts_init: int) -> None:
        ev = parsing.parse_kline(d, self.venue, st.symbol, ts_init)
        if ev.closed:
            x: _BookState = st.x
            if ev.ts_event <= x.last_bar_closed:
                return  # a closed bar is published once
            x.last_bar_closed = ev.ts_event
        self._publish(st.bar_topic, ev)

    def _on_depth(self, st: SymbolState, d: dict[str, Any], ts_init: int) -> None:
        # Parse (and validate) before the sync state moves: a bad frame must not advance it.
        first, prev, ev = parsing.parse_depth(d, self.venue, st.symbol, ts_init, self._futures)
        x: _BookState = st.x
        act = x.sync.on_diff(first, ev.sequence, prev)
        if act == APPLY:
            self.apply_delta(st, ev)
            if x.held:
                self._drain_held(st)
        elif act == BUFFER:
            buf = x.buffer
            buf.append((first, prev, ev))
            if len(buf) > MAX_BUFFER:
                del buf[: len(buf) - MAX_BUFFER]
        elif act == GAP:
            if self._overlap.get(st.stream):
                x.held.append((first, prev, ev))  # the other connection may still fill the hole
                return
            self.book_gap(st, f"sequence gap: U={first} pu={prev} after u={x.sync.last_u}")
        # DROP: already in the book

    def _drain_held(self, st: SymbolState) -> None:
        x: _BookState = st.x
        progress = True
        while progress and x.held:
            progress = False
            for item in list(x.held):
                act = x.sync.on_diff(item[0], item[2].sequence, item[1])
                if act == APPLY:
                    self.apply_delta(st, item[2])
                if act in (APPLY, DROP):
                    x.held.remove(item)
                    progress = True

    def on_overlap(self, stream: WsStream, active: bool) -> None:
        super().on_overlap(stream, active)
        if active:
            return
        for st in self._books_on(stream):
            x: _BookState | None = st.x
            if x is not None and x.held:
                self._drain_held(st)
                if x.held and st.synced:
                    x.held.clear()
                    self.book_gap(st, "gap after a connection rotation")

    # --- snapshots -----------------------------------------------------------------------------
    def _resync(self, st: SymbolState, reason: str, subscribed: bool) -> None:
        x: _BookState = st.x
        x.sync.reset()
        x.buffer.clear()
        x.held.clear()
        stream = self._streams.get(st.stream)
        if stream is None or not stream.connected:
            return  # on_connected starts the sync once the stream is back
        if x.task is None or x.task.done():
            x.task = self._spawn(f"snapshot:{st.symbol}", self._sync_book(st))

    async def _sync_book(self, st: SymbolState) -> None:
        x: _BookState = st.x
        stream = self._streams[st.stream]
        # Binance's advice: have the first diff buffered before asking for the snapshot.
        waited = 0.0
        while not x.buffer and waited < self.snapshot_wait_s:
            await asyncio.sleep(0.01)
            waited += 0.01
        attempt = 0
        while not st.synced and stream.connected and st.book is not None:
            attempt += 1
            try:
                if self._snapshot_slots is None:  # a reconnect resyncs every book: not all at once
                    self._snapshot_slots = asyncio.Semaphore(SNAPSHOT_CONCURRENCY)
                async with self._snapshot_slots:
                    body = await self.http_get_json(
                        self.endpoints.depth, {"symbol": st.native, "limit": str(self.snapshot_limit)}
                    )
                last_id, ev = parsing.parse_depth_snapshot(body, self.venue, st.symbol, self.clock.timestamp_ns())
            except asyncio.CancelledError:
                raise
            except RateLimited as exc:  # asking again sooner risks a ban (418): wait as told
                delay = max(exc.retry_after or 0.0, self._retry_delay(attempt))
                log.warning("%s %s: snapshot rate limited; retrying in %.1f s: %s", self.venue, st.symbol, delay, exc)
                await asyncio.sleep(delay)
                continue
            except Exception as exc:
                log.warning("%s %s: snapshot failed (attempt %d): %r", self.venue, st.symbol, attempt, exc)
                await asyncio.sleep(self._retry_delay(attempt))
                continue
            if not stream.connected or st.synced:
                return
            if self._bridge(st, last_id, ev):
                return
            await asyncio.sleep(self._retry_delay(attempt))

    def _retry_delay(self, attempt: int) -> float:
        return min(2.0, self.options.backoff_initial_s * attempt)

    def _bridge(self, st: SymbolState, last_id: int, snapshot: Any) -> bool:
        """Put the snapshot and the buffered diffs that follow it together. False when the
        snapshot is older than the buffer (stale) or the buffer has a hole: fetch again."""
        x: _BookState = st.x
        sync = x.sync
        buf = x.buffer
        sync.on_snapshot(last_id)
        ok: list[Any] = []
        for i, (first, prev, ev) in enumerate(buf):
            act = sync.on_diff(first, ev.sequence, prev)
            if act == GAP:
                why = "stale snapshot" if not ok else "hole in the buffered diffs"
                log.info("%s %s: %s (lastUpdateId %d, diff U=%d): fetching again", self.venue, st.symbol, why,
                         last_id, first)
                sync.reset()
                del buf[:i]
                return False
            if act == APPLY:
                ok.append(ev)
        buf.clear()
        self.apply_snapshot(st, snapshot)
        for ev in ok:
            self.apply_delta(st, ev)
        return True

    # --- instruments -----------------------------------------------------------------------------
    async def _load_instruments(self) -> dict[str, Instrument]:
        from quantai_tui.connectors.binance.instruments import load_instruments

        return await load_instruments(
            self.market, self.markets_cache_path(), self.markets_max_age_s, rest_url=self.rest_override,
            testnet=self.testnet,
        )

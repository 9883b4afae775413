"""The generic connector: market data of any ccxt exchange with WebSocket support, over
ccxt.pro's `watch_trades`, `watch_order_book`, `watch_bids_asks`/`watch_ticker` and
`watch_ohlcv`. `--exchange kraken` or `--exchange coinbase` works without bespoke code.

One task per subscribed (symbol, kind) calls its watch method in a loop and turns what ccxt
returns into core events:

    trades  -> TradeTick per new trade (ccxt returns new trades; ids seen lately are skipped)
    book    -> OrderBookDeltas: a snapshot first (and after every reconnect), then the diff
               between consecutive ccxt books (ccxt keeps the book by the venue's own rules)
    quotes  -> QuoteTick when the best bid/ask changes (watch_bids_asks when the venue has it)
    bars    -> Bar when a candle closes (the forming candle is kept, not published)

An error in a watch loop (a dropped connection, a timeout) publishes VenueDisconnected and
VenueReconnecting, waits with exponential backoff and jitter, and calls the watch method
again: ccxt reconnects and resyncs the book; the next book message goes out as a snapshot
with a BookResynced event. Errors that retrying cannot fix (unknown symbol, unsupported
method) end that loop with a logged error. REST and WebSocket base URLs can be overridden
(ccxt's `urls` rewritten, see urls.py); markets come from the disk cache or the venue once,
and are preloaded with `set_markets()`. ccxt is imported only when a client starts.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from quantai_tui.connectors.ccxt.urls import rewrite_ws_urls
from quantai_tui.core.book import OrderBook
from quantai_tui.core.clock import Clock
from quantai_tui.core.enums import AggressorSide, ConnectionState
from quantai_tui.core.errors import SymbolError, VenueUnavailable
from quantai_tui.core.events import (
    Bar,
    BookResynced,
    Event,
    OrderBookDeltas,
    QuoteTick,
    TradeTick,
    VenueConnected,
    VenueDisconnected,
    VenueReconnecting,
    market_topic,
)
from quantai_tui.core.instruments import Instrument
from quantai_tui.core.symbols import normalize_symbol

log = logging.getLogger("quantai.connectors.ccxt")

KINDS = ("trades", "book", "quotes", "bars")
_MS = 1_000_000
_SIDE = {"buy": AggressorSide.BUYER, "sell": AggressorSide.SELLER}
# binance loads three market types unless told; the others load what they list
_BINANCE_TYPES = {"spot": ["spot"], "swap": ["linear", "inverse"], "future": ["linear", "inverse"]}


class CcxtMarketDataClient:
    """MarketDataClient (engine/ports.py) for any ccxt.pro exchange."""

    def __init__(
        self,
        exchange_id: str,
        publish: Callable[[str, Event], Any],
        clock: Clock,
        *,
        rest_url: str = "",
        ws_url: str = "",
        testnet: bool = False,
        market_type: str = "spot",
        options: dict[str, Any] | None = None,
        config: dict[str, Any] | None = None,
        cache_dir: Path | None = None,
        markets: dict[str, Any] | None = None,
        markets_max_age_s: float = 24 * 3600.0,
        book_depth: int | None = None,
        bar_timeframe: str = "1m",
        backoff_s: tuple[float, float] = (0.5, 30.0),
    ) -> None:
        self.venue = exchange_id.lower()
        self._publish = publish
        self._clock = clock
        self.rest_url = rest_url
        self.ws_url = ws_url
        self.testnet = testnet
        self.market_type = market_type
        self.options = dict(options or {})
        if self.venue == "binance" and "fetchMarkets" not in self.options:
            self.options["fetchMarkets"] = {"types": _BINANCE_TYPES.get(market_type, ["spot"])}
        self.config = dict(config or {})
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.markets_max_age_s = markets_max_age_s
        self.book_depth = book_depth
        self.bar_timeframe = bar_timeframe
        self.backoff_s = backoff_s
        self.markets: dict[str, Any] | None = markets
        self.exchange: Any = None
        self._state = ConnectionState.DISCONNECTED
        self._subs: dict[str, set[str]] = {}
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._books: dict[str, OrderBook] = {}
        self._levels: dict[str, tuple[dict[float, float], dict[float, float]]] = {}
        self._resync: set[str] = set()
        self._seen_trades: dict[str, tuple[deque[str], set[str]]] = {}
        self._last_quote: dict[str, tuple[float, float, float, float]] = {}
        self._candle: dict[str, list[Any]] = {}
        self.counts: dict[str, int] = dict.fromkeys(KINDS, 0)
        self.errors = 0
        self.reconnects = 0
        self.unsupported: set[str] = set()

    # --- lifecycle ----------------------------------------------------------------------------------
    @property
    def state(self) -> ConnectionState:
        return self._state

    async def start(self) -> None:
        if self.exchange is not None:
            return
        self._state = ConnectionState.CONNECTING
        if self.markets is None:
            await self.load_instruments()
        self.exchange = self._new_exchange()
        for symbol, kinds in self._subs.items():
            for kind in kinds:
                self._spawn(symbol, kind)

    def _new_exchange(self) -> Any:
        import ccxt.pro as ccxtpro

        from quantai_tui.connectors.market_cache import rewrite_urls

        cls = getattr(ccxtpro, self.venue, None)
        if cls is None:
            raise VenueUnavailable(f"ccxt has no WebSocket support for {self.venue!r}")
        ex = cls({"enableRateLimit": True, **self.config})
        ex.options.update(self.options)
        if self.testnet:
            ex.set_sandbox_mode(True)  # before the overrides: it swaps in the testnet URLs
        if self.rest_url:
            ex.urls["api"] = rewrite_urls(ex.urls["api"], self.rest_url)
        if self.ws_url:
            ex.urls["api"] = rewrite_ws_urls(ex.urls["api"], self.ws_url)
        if self.markets:
            ex.set_markets(self.markets)
        return ex

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for t in tasks:
            t.cancel()
        for t in tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        ex, self.exchange = self.exchange, None
        if ex is not None:
            try:
                await ex.close()
            except Exception as exc:  # closing a dead connection may complain; nothing to do
                log.debug("%s: close: %r", self.venue, exc)
        if self._state in (ConnectionState.CONNECTED, ConnectionState.RECONNECTING):
            self._emit_state(VenueDisconnected, reason="stopped")
        self._state = ConnectionState.DISCONNECTED

    async def subscribe(self, symbol: str, kinds: Iterable[str] = KINDS) -> None:
        sym = normalize_symbol(symbol)
        kinds = list(kinds)
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown market data kinds {sorted(unknown)}; choose from {', '.join(KINDS)}")
        if self.markets is not None and sym not in self.markets:
            raise SymbolError(f"{self.venue} has no market {sym}")
        have = self._subs.setdefault(sym, set())
        for kind in kinds:
            if kind not in have:
                have.add(kind)
                if self.exchange is not None:
                    self._spawn(sym, kind)

    async def load_instruments(self) -> dict[str, Instrument]:
        from quantai_tui.connectors.market_cache import load_markets_cached, markets_to_instruments

        if self.markets is None:
            cache = self.cache_dir / f"markets_{self.venue}.json" if self.cache_dir is not None else None
            self.markets = await load_markets_cached(self.venue, cache, self.markets_max_age_s, rest_url=self.rest_url,
                                                     testnet=self.testnet, options=self.options)
        return markets_to_instruments(self.venue, self.markets)

    def book(self, symbol: str) -> OrderBook | None:
        return self._books.get(normalize_symbol(symbol))

    def stats(self) -> dict[str, int | float]:
        return {**self.counts, "errors": self.errors, "reconnects": self.reconnects, "tasks": len(self._tasks),
                "unsupported": len(self.unsupported)}

    # --- the watch loops ----------------------------------------------------------------------------
    def _spawn(self, symbol: str, kind: str) -> None:
        has = self.exchange.has
        needs = {"trades": ("watchTrades",), "book": ("watchOrderBook",), "quotes": ("watchBidsAsks", "watchTicker"),
                 "bars": ("watchOHLCV",)}[kind]
        if not any(has.get(n) for n in needs):
            # e.g. a venue without candles over WebSocket: the other kinds still stream
            log.warning("%s does not stream %s over WebSocket (ccxt has no %s); skipped", self.venue, kind, needs[0])
            self.unsupported.add(kind)
            return
        task = asyncio.get_running_loop().create_task(self._run(symbol, kind), name=f"ccxt-{self.venue}-{kind}-{symbol}")
        self._tasks[(symbol, kind)] = task

    async def _run(self, symbol: str, kind: str) -> None:
        import ccxt.pro as ccxtpro

        step = {"trades": self._trades, "book": self._book, "quotes": self._quotes, "bars": self._bars}[kind]
        attempt = 0
        while True:
            try:
                await step(symbol)
                if attempt:
                    attempt = 0
            except asyncio.CancelledError:
                raise
            except ccxtpro.NotSupported as exc:
                log.warning("%s %s %s: not supported by the venue: %s", self.venue, symbol, kind, exc)
                self.unsupported.add(kind)
                return
            except (ccxtpro.BadSymbol, ccxtpro.AuthenticationError, ccxtpro.PermissionDenied) as exc:
                log.error("%s %s %s: giving up: %s", self.venue, symbol, kind, exc)
                self._emit_state(VenueDisconnected, reason=f"{kind} {symbol}: {type(exc).__name__}")
                return
            except Exception as exc:  # network, timeout, exchange hiccup: back off and watch again
                self.errors += 1
                attempt += 1
                self.reconnects += 1
                if kind == "book":
                    self._resync.add(symbol)
                lo, hi = self.backoff_s
                delay = min(hi, lo * 2 ** (attempt - 1)) * random.uniform(0.8, 1.2)
                if self._state is ConnectionState.CONNECTED:
                    self._emit_state(VenueDisconnected, reason=f"{type(exc).__name__}: {str(exc)[:120]}")
                self._state = ConnectionState.RECONNECTING
                self._emit_state(VenueReconnecting, attempt=attempt, delay_s=round(delay, 3))
                if attempt <= 3 or attempt % 20 == 0:
                    log.warning("%s %s %s: %r; retry %d in %.1fs", self.venue, symbol, kind, exc, attempt, delay)
                await asyncio.sleep(delay)

    def _alive(self) -> None:
        if self._state is not ConnectionState.CONNECTED:
            self._state = ConnectionState.CONNECTED
            self._emit_state(VenueConnected)

    def _emit_state(self, cls: Any, **fields: Any) -> None:
        now = self._clock.timestamp_ns()
        self._publish(f"connector.{self.venue}", cls(self.venue, **fields, ts_event=now, ts_init=now))

    async def _trades(self, symbol: str) -> None:
        trades = await self.exchange.watch_trades(symbol)
        now = self._clock.timestamp_ns()
        self._alive()
        ids, seen = self._seen_trades.setdefault(symbol, (deque(), set()))
        topic = market_topic("trades", self.venue, symbol)
        make = TradeTick.make
        for t in trades:
            tid = str(t.get("id") or f"{t.get('timestamp')}:{t.get('price')}:{t.get('amount')}")
            if tid in seen:
                continue
            seen.add(tid)
            ids.append(tid)
            if len(ids) > 5000:
                seen.discard(ids.popleft())
            ts = t.get("timestamp")
            self._publish(topic, make(self.venue, symbol, float(t["price"]), float(t["amount"]),
                                      _SIDE.get(t.get("side") or "", AggressorSide.NONE), tid,
                                      int(ts) * _MS if ts is not None else now, now))
            self.counts["trades"] += 1

    async def _book(self, symbol: str) -> None:
        ob = await (self.exchange.watch_order_book(symbol, self.book_depth) if self.book_depth
                    else self.exchange.watch_order_book(symbol))
        now = self._clock.timestamp_ns()
        self._alive()
        depth = self.book_depth
        bids = {float(lv[0]): float(lv[1]) for lv in (ob["bids"][:depth] if depth else ob["bids"])}
        asks = {float(lv[0]): float(lv[1]) for lv in (ob["asks"][:depth] if depth else ob["asks"])}
        ts = ob.get("timestamp")
        ts_event = int(ts) * _MS if ts else now
        seq = int(ob.get("nonce") or 0)
        prev = self._levels.get(symbol)
        book = self._books.get(symbol)
        if book is None:
            book = self._books[symbol] = OrderBook(self.venue, symbol)
        resync = symbol in self._resync
        if prev is None or resync:
            ev = OrderBookDeltas.make(self.venue, symbol, tuple(bids.items()), tuple(asks.items()), True, seq,
                                      ts_event, now)
            if resync:
                self._resync.discard(symbol)
                self._publish(f"connector.{self.venue}", BookResynced(self.venue, symbol, "reconnected",
                                                                      ts_event=now, ts_init=now))
        else:
            db = _diff(prev[0], bids)
            da = _diff(prev[1], asks)
            if not db and not da:
                self._levels[symbol] = (bids, asks)
                return
            ev = OrderBookDeltas.make(self.venue, symbol, db, da, False, seq, ts_event, now)
        self._levels[symbol] = (bids, asks)
        book.apply(ev)
        self._publish(market_topic("book", self.venue, symbol), ev)
        self.counts["book"] += 1

    async def _quotes(self, symbol: str) -> None:
        ex = self.exchange
        if ex.has.get("watchBidsAsks"):
            t = (await ex.watch_bids_asks([symbol])).get(symbol) or {}
        else:
            t = await ex.watch_ticker(symbol)
        now = self._clock.timestamp_ns()
        self._alive()
        bid, ask = t.get("bid"), t.get("ask")
        if bid is None or ask is None:
            return
        q = (float(bid), float(t.get("bidVolume") or 0.0), float(ask), float(t.get("askVolume") or 0.0))
        if self._last_quote.get(symbol) == q:
            return
        self._last_quote[symbol] = q
        ts = t.get("timestamp")
        self._publish(market_topic("quotes", self.venue, symbol),
                      QuoteTick.make(self.venue, symbol, *q, int(ts) * _MS if ts else now, now))
        self.counts["quotes"] += 1

    async def _bars(self, symbol: str) -> None:
        candles = await self.exchange.watch_ohlcv(symbol, self.bar_timeframe)
        now = self._clock.timestamp_ns()
        self._alive()
        tf_ns = self.exchange.parse_timeframe(self.bar_timeframe) * 1_000_000_000
        for c in candles:
            cur = self._candle.get(symbol)
            if cur is not None and c[0] > cur[0]:  # a newer candle: the current one has closed
                self._publish(market_topic("bars", self.venue, symbol), Bar.make(
                    self.venue, symbol, self.bar_timeframe, *(float(x or 0.0) for x in cur[1:6]), True,
                    int(cur[0]) * _MS + tf_ns, now))
                self.counts["bars"] += 1
            if cur is None or c[0] >= cur[0]:
                self._candle[symbol] = list(c)


def _diff(old: dict[float, float], new: dict[float, float]) -> tuple[tuple[float, float], ...]:
    out = [(p, s) for p, s in new.items() if old.get(p) != s]
    out += [(p, 0.0) for p in old if p not in new]
    return tuple(out)

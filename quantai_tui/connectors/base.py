"""The base of every native WebSocket market-data client: what all venues share.

A venue subclass writes only its wire format:

    _native(symbol) -> venue id           _stream_for(symbol, kind) -> which endpoint carries it
    _stream_url(name) -> URL              _subscribe(stream, conn, states, kinds) -> send messages
    _handle(stream, conn, raw) -> parse one frame (the hot path) and call the helpers below
    _ping(stream, conn)                   _resync(state, reason) -> rebuild one book its way

The base owns the rest: one `WsStream` per endpoint (connect, heartbeat, reconnect, rotation),
named tasks with kept handles and logged failures, malformed-frame counting (a bad frame is
counted and logged, never kills a task), per-symbol state and local books, connector events on
`connector.<venue>`, and stats().

Market events go out as `publish(market_topic(kind, venue, symbol), event)` with topics
precomputed per symbol; ts_event comes from the exchange, ts_init from the injected clock.
Connectors sit below the engine and never import it: `publish` and `clock` are given.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any

from quantai_tui.core.book import OrderBook
from quantai_tui.core.clock import Clock
from quantai_tui.core.enums import ConnectionState
from quantai_tui.core.errors import RateLimited
from quantai_tui.core.events import (
    BookResynced,
    OrderBookDeltas,
    VenueConnected,
    VenueDisconnected,
    VenueReconnecting,
    market_topic,
)
from quantai_tui.core.instruments import Instrument
from quantai_tui.core.symbols import normalize_symbol
from quantai_tui.connectors.stream import Conn, StreamOptions, WsStream

log = logging.getLogger("quantai.connectors")

Publish = Callable[[str, Any], None]  # bus.publish(topic, event): given, never imported
MARKET_KINDS = ("trades", "book", "quotes", "bars")
# What a frame that does not fit the venue's format raises while being parsed.
MALFORMED = (ValueError, KeyError, TypeError, IndexError, AttributeError, OverflowError)
_LOG_FIRST = 20  # log the first N malformed frames / errors, then every 1000th


class SymbolState:
    """Everything a client keeps per subscribed symbol. Venues add their own fields in `x`."""

    __slots__ = (
        "symbol", "native", "stream", "kinds", "book", "synced", "ever_synced", "resync_reason",
        "trade_topic", "quote_topic", "book_topic", "bar_topic", "last_trade_id", "last_quote_id",
        "timeframe", "x",
    )

    def __init__(self, venue: str, symbol: str, native: str, stream: str, timeframe: str) -> None:
        self.symbol = symbol
        self.native = native
        self.stream = stream
        self.kinds: set[str] = set()
        self.book: OrderBook | None = None
        self.synced = False
        self.ever_synced = False
        self.resync_reason = ""  # why the book is being rebuilt (empty on the first sync)
        self.trade_topic = market_topic("trades", venue, symbol)
        self.quote_topic = market_topic("quotes", venue, symbol)
        self.book_topic = market_topic("book", venue, symbol)
        self.bar_topic = market_topic("bars", venue, symbol)
        self.last_trade_id = -1
        self.last_quote_id = -1
        self.timeframe = timeframe
        self.x: Any = None  # venue-specific sync state


class WebSocketMarketDataClient:
    """Base class; see the module docstring. Satisfies engine.ports.MarketDataClient."""

    venue: str = ""

    def __init__(
        self,
        venue: str,
        publish: Publish,
        clock: Clock,
        *,
        options: StreamOptions | None = None,
        cache_dir: Path | str | None = None,
        bar_timeframe: str = "1m",
        markets_max_age_s: float = 24 * 3600.0,
    ) -> None:
        self.venue = venue
        self._publish = publish
        self.clock = clock
        self.options = options or StreamOptions()
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.bar_timeframe = bar_timeframe
        self.markets_max_age_s = markets_max_age_s
        self.instruments: dict[str, Instrument] = {}
        self._states: dict[str, SymbolState] = {}
        self._streams: dict[str, WsStream] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._started = False
        self._overlap: dict[str, bool] = {}
        self._down_since: dict[str, float] = {}
        self._connector_topic = f"connector.{venue}"
        self._http: Any = None
        # counters
        self.frames = 0
        self.malformed = 0
        self.errors = 0
        self.gaps = 0
        self.resyncs = 0
        self.task_failures = 0
        self.reconnect_times_s: deque[float] = deque(maxlen=1000)  # drop detected -> resubscribed
        self.resync_times_s: deque[float] = deque(maxlen=1000)  # drop detected -> every book rebuilt

    # === venue hooks (override) ==================================================================
    def _native(self, symbol: str) -> str:
        raise NotImplementedError

    def _stream_for(self, symbol: str, kind: str) -> str:
        """The endpoint (stream name) that carries `kind` of `symbol`; one per URL."""
        return "market"

    def _stream_url(self, name: str) -> str:
        raise NotImplementedError

    async def _subscribe(self, stream: WsStream, conn: Conn, states: list[SymbolState], kinds: set[str] | None) -> None:
        """Send subscribe messages on `conn` for `states` (all their kinds when `kinds` is None)."""
        raise NotImplementedError

    def _handle(self, stream: WsStream, conn: Conn, raw: bytes) -> None:
        raise NotImplementedError

    async def _ping(self, stream: WsStream, conn: Conn) -> None:
        await conn.ws.ping()

    def _resync(self, st: SymbolState, reason: str, subscribed: bool) -> None:
        """Start rebuilding `st.book` (REST snapshot or resubscribe); st.synced is already False.
        `subscribed`: a book subscription was just sent on a fresh connection, so a venue that
        pushes snapshots on subscribe has nothing more to do."""
        raise NotImplementedError

    async def _load_instruments(self) -> dict[str, Instrument]:
        raise NotImplementedError

    # === lifecycle ===============================================================================
    @property
    def state(self) -> ConnectionState:
        if not self._started or not self._streams:
            return ConnectionState.DISCONNECTED
        states = [s.state for s in self._streams.values()]
        for s in (ConnectionState.RECONNECTING, ConnectionState.CONNECTING, ConnectionState.DISCONNECTED):
            if s in states:
                return s
        if any(st.book is not None and not st.synced for st in self._states.values()):
            return ConnectionState.RESYNCING
        return ConnectionState.CONNECTED

    async def start(self) -> None:
        """Start every endpoint's connection loop; returns at once (connecting runs in tasks)."""
        self._started = True
        for stream in self._streams.values():
            stream.start()

    async def stop(self) -> None:
        self._started = False
        for stream in list(self._streams.values()):
            await stream.stop()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def __aenter__(self) -> WebSocketMarketDataClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def subscribe(self, symbol: str, kinds: Iterable[str] = MARKET_KINDS) -> None:
        sym = normalize_symbol(symbol)
        wanted = set(kinds)
        unknown = wanted - set(MARKET_KINDS)
        if unknown:
            raise ValueError(f"unknown market data kinds {sorted(unknown)}; expected {MARKET_KINDS}")
        st = self._states.get(sym)
        if st is None:
            st = self._new_state(sym)
            self._states[sym] = st
        new = wanted - st.kinds
        if not new:
            return
        st.kinds |= new
        if "book" in new:
            st.book = OrderBook(self.venue, sym)
            st.synced = False
        self._on_subscribed(st, new)
        by_stream: dict[str, set[str]] = {}
        for kind in new:
            by_stream.setdefault(self._stream_for(sym, kind), set()).add(kind)
        for name, stream_kinds in by_stream.items():
            stream = self._stream(name)
            # Every open connection, including one still subscribing in on_open (it may have
            # listed the symbols before this one was added); a repeated subscribe is harmless.
            for conn in list(stream.conns):
                await self._subscribe(stream, conn, [st], stream_kinds)
            if "book" in stream_kinds and stream.connected:
                self._resync(st, "", True)  # else on_connected starts the sync

    def _new_state(self, sym: str) -> SymbolState:
        inst = self.instruments.get(sym)
        native = inst.native_symbol if inst is not None and inst.native_symbol else self._native(sym)
        return SymbolState(self.venue, sym, native, self._stream_for(sym, "book"), self.bar_timeframe)

    def _on_subscribed(self, st: SymbolState, kinds: set[str]) -> None:
        """Venue hook: register routes for the new kinds of `st`."""

    def book(self, symbol: str) -> OrderBook | None:
        st = self._states.get(normalize_symbol(symbol))
        return st.book if st is not None else None

    def is_synced(self, symbol: str) -> bool:
        st = self._states.get(normalize_symbol(symbol))
        return st is not None and st.synced

    async def load_instruments(self) -> dict[str, Instrument]:
        self.instruments = await self._load_instruments()
        return self.instruments

    def markets_cache_path(self) -> Path | None:
        return self.cache_dir / f"markets_{self.venue}.json" if self.cache_dir is not None else None

    # === streams =================================================================================
    def _stream(self, name: str) -> WsStream:
        stream = self._streams.get(name)
        if stream is None:
            stream = WsStream(
                f"{self.venue}/{name}", lambda n=name: self._stream_url(n), self, self.options, self._spawn, key=name
            )
            self._streams[name] = stream
            if self._started:
                stream.start()
        return stream

    def _states_on(self, stream: WsStream) -> list[SymbolState]:
        """Symbols with at least one kind carried by `stream`."""
        key = stream.key
        return [st for st in self._states.values() if any(self._stream_for(st.symbol, k) == key for k in st.kinds)]

    def _books_on(self, stream: WsStream) -> list[SymbolState]:
        key = stream.key
        return [st for st in self._states.values() if st.book is not None and st.stream == key]

    def kinds_on(self, stream: WsStream, st: SymbolState, kinds: set[str] | None) -> set[str]:
        """The kinds of `st` (or just `kinds`) that `stream` carries."""
        key = stream.key
        return {k for k in (st.kinds if kinds is None else kinds) if self._stream_for(st.symbol, k) == key}

    # StreamHooks ---------------------------------------------------------------------------------
    def on_frame(self, stream: WsStream, conn: Conn, raw: bytes) -> None:
        self.frames += 1
        try:
            self._handle(stream, conn, raw)
        except MALFORMED as exc:
            self.count_malformed(stream.name, raw, exc)
        except Exception as exc:  # a bug, not bad data: still never kill the reader
            self.errors += 1
            if self.errors <= _LOG_FIRST or self.errors % 1000 == 0:
                log.error("%s: error handling a frame (#%d): %r", stream.name, self.errors, exc, exc_info=exc)

    def count_malformed(self, where: str, raw: Any, exc: BaseException | str) -> None:
        self.malformed += 1
        if self.malformed <= _LOG_FIRST or self.malformed % 1000 == 0:
            text = raw[:200] if isinstance(raw, (bytes, str)) else repr(raw)[:200]
            log.warning("%s: malformed frame #%d (%r): %r", where, self.malformed, exc, text)

    async def on_open(self, stream: WsStream, conn: Conn) -> None:
        states = self._states_on(stream)
        if states:
            await self._subscribe(stream, conn, states, None)

    def on_connected(self, stream: WsStream, reconnect: bool) -> None:
        now = time.monotonic()
        down = self._down_since.get(stream.key)
        if reconnect and down is not None:
            self.reconnect_times_s.append(now - down)
        now = self.clock.timestamp_ns()  # connector events are rare: the normal (checked) constructor
        self._emit_connector(VenueConnected(self.venue, "market", ts_event=now, ts_init=now))
        for st in self._books_on(stream):
            st.synced = False
            self._resync(st, "reconnect" if reconnect else "", True)
        self._check_stream_synced(stream.key)

    def on_disconnected(self, stream: WsStream, reason: str) -> None:
        self._down_since.setdefault(stream.key, time.monotonic())
        log.warning("%s: disconnected: %s", stream.name, reason)
        for st in self._books_on(stream):
            st.synced = False
            st.resync_reason = "reconnect"
        now = self.clock.timestamp_ns()
        self._emit_connector(VenueDisconnected(self.venue, reason, "market", ts_event=now, ts_init=now))

    def on_reconnecting(self, stream: WsStream, attempt: int, delay_s: float) -> None:
        self._down_since.setdefault(stream.key, time.monotonic())
        now = self.clock.timestamp_ns()
        self._emit_connector(VenueReconnecting(self.venue, attempt, delay_s, "market", ts_event=now, ts_init=now))

    def on_overlap(self, stream: WsStream, active: bool) -> None:
        self._overlap[stream.key] = active

    async def ping(self, stream: WsStream, conn: Conn) -> None:
        await self._ping(stream, conn)

    # === helpers for venues ======================================================================
    def _emit_connector(self, event: Any) -> None:
        self._publish(self._connector_topic, event)

    def book_gap(self, st: SymbolState, reason: str) -> None:
        """A sequence break: discard the book's sync state and rebuild it."""
        self.gaps += 1
        log.warning("%s %s: %s: resyncing the book", self.venue, st.symbol, reason)
        st.synced = False
        st.resync_reason = reason
        self._resync(st, reason, False)

    def apply_snapshot(self, st: SymbolState, ev: OrderBookDeltas, check: Callable[[], bool] | None = None) -> bool:
        """A full book replaces the local one and is published; marks the book synced.
        With `check` (e.g. a checksum), nothing is published and False returned when it fails."""
        book = st.book
        if book is None:
            return False
        book.apply(ev)
        if check is not None and not check():
            return False
        self._publish(st.book_topic, ev)
        was_resync = st.ever_synced
        st.synced = True
        st.ever_synced = True
        if was_resync:
            self.resyncs += 1
            self._emit_connector(
                BookResynced(
                    self.venue, st.symbol, st.resync_reason or "resync", ts_event=ev.ts_event, ts_init=ev.ts_init
                )
            )
        st.resync_reason = ""
        self._check_stream_synced(st.stream)
        return True

    def apply_delta(self, st: SymbolState, ev: OrderBookDeltas) -> None:
        st.book.apply(ev)  # type: ignore[union-attr]
        self._publish(st.book_topic, ev)

    def _check_stream_synced(self, key: str) -> None:
        down = self._down_since.get(key)
        if down is None:
            return
        stream = self._streams.get(key)
        if stream is None or not stream.connected:
            return
        if all(st.synced for st in self._states.values() if st.stream == key and st.book is not None):
            self.resync_times_s.append(time.monotonic() - down)
            del self._down_since[key]

    def _spawn(self, name: str, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """A named task whose handle is kept and whose failure is logged (no fire-and-forget)."""
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.venue}:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.task_failures += 1
            log.error("task %s failed: %r", task.get_name(), exc, exc_info=exc)

    async def http_get_json(self, url: str, params: dict[str, str] | None = None, timeout_s: float = 10.0) -> Any:
        """GET a JSON document (REST snapshots). aiohttp is imported on first use only."""
        import aiohttp
        import orjson

        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s))
        async with self._http.get(url, params=params) as resp:
            body = await resp.read()
            if resp.status in (418, 429):  # rate limited (418: banned for a while): wait as told
                raise RateLimited(f"GET {resp.url} -> HTTP {resp.status}: {body[:200]!r}",
                                  retry_after=_retry_after(resp.headers.get("Retry-After")))
            if resp.status != 200:
                raise ConnectionError(f"GET {resp.url} -> HTTP {resp.status}: {body[:200]!r}")
            return orjson.loads(body)

    # === stats ===================================================================================
    def stats(self) -> dict[str, int | float]:
        streams = list(self._streams.values())
        out: dict[str, int | float] = {
            "frames": self.frames,
            "malformed": self.malformed,
            "errors": self.errors,
            "gaps": self.gaps,
            "resyncs": self.resyncs,
            "task_failures": self.task_failures,
            "connects": sum(s.connects for s in streams),
            "reconnects": sum(s.reconnects for s in streams),
            "connect_failures": sum(s.connect_failures for s in streams),
            "heartbeat_timeouts": sum(s.heartbeat_timeouts for s in streams),
            "rotations": sum(s.rotations for s in streams),
            "streams": len(streams),
            "streams_connected": sum(1 for s in streams if s.connected),
            "books": sum(1 for st in self._states.values() if st.book is not None),
            "books_synced": sum(1 for st in self._states.values() if st.book is not None and st.synced),
        }
        for name, values in (("reconnect", self.reconnect_times_s), ("resync", self.resync_times_s)):
            if values:
                v = sorted(values)
                out[f"{name}_p50_s"] = v[len(v) // 2]
                out[f"{name}_p99_s"] = v[min(len(v) - 1, int(len(v) * 0.99))]
        return out


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (seconds form; the date form is not used by venues)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def parse_levels(raw: Any) -> tuple[tuple[float, float], ...]:
    """[[price, size, ...], ...] from the wire as float levels; rejects non-finite or negative
    values (a NaN price would corrupt a sorted book) with ValueError."""
    out = [(float(lv[0]), float(lv[1])) for lv in raw]
    for p, q in out:
        if not (0.0 < p < _INF and 0.0 <= q < _INF):
            raise ValueError(f"bad level {p!r} {q!r}")
    return tuple(out)


_INF = float("inf")


def check_ohlcv(o: float, h: float, lo: float, c: float, v: float) -> tuple[float, float, float, float, float]:
    """Reject NaN, infinite or negative bar values (ValueError)."""
    if not (0.0 <= o < _INF and 0.0 <= h < _INF and 0.0 <= lo < _INF and 0.0 <= c < _INF and 0.0 <= v < _INF):
        raise ValueError(f"bad bar values {(o, h, lo, c, v)!r}")
    return o, h, lo, c, v


TIMEFRAME_MS = {
    "1s": 1_000, "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
    "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000, "8h": 28_800_000,
    "12h": 43_200_000, "1d": 86_400_000, "3d": 259_200_000, "1w": 604_800_000,
}


def bar_close_ms(start_ms: int, timeframe: str) -> int:
    """When a bar that opened at start_ms closes (month bars follow the calendar)."""
    step = TIMEFRAME_MS.get(timeframe)
    if step is not None:
        return start_ms + step
    if timeframe == "1M":
        from datetime import UTC, datetime

        d = datetime.fromtimestamp(start_ms / 1000, tz=UTC)
        y, m = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
        return int(d.replace(year=y, month=m).timestamp() * 1000)
    raise ValueError(f"unknown timeframe {timeframe!r}")


def endpoint_url(override: str, default: str, testnet_default: str, testnet: bool, path: str = "") -> str:
    """The URL to use: an override wins (a bare `scheme://host:port` gets the venue's `path`
    appended, one with a path is used as given), else the testnet or production default + path."""
    from urllib.parse import urlsplit

    if override:
        base = override.rstrip("/")
        return base + path if urlsplit(base).path in ("", "/") else base
    return (testnet_default if testnet else default).rstrip("/") + path

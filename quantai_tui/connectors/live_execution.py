"""What the live venues (Binance spot and USD-M, OKX, Bybit) share on top of BaseExecutionClient.

    client = BinanceExecutionClient("binance", settings.exchange("binance"), oms.on_report, clock, creds)
    await client.start()        # REST session, private user stream up (logged in, subscribed)

- REST goes through ccxt's *implicit* API methods (`private_post_order(params)`): ccxt signs,
  sends and paces nothing (our RateLimiter does, so cancels keep their priority lane); we read
  the raw JSON, so prices, sizes and fees stay exact decimal strings. Every reply passes the
  venue's `_classify` (its own error codes): rate limits become RateLimited with the venue's
  Retry-After, a lost or late reply to a create becomes VenueTimeout (the order's fate is
  UNKNOWN; the OMS looks it up by client order id, never resends).
- The private user stream is a connectors.stream.WsStream; this class is its hooks. A venue
  logs in and subscribes in `_ws_login` (the stream only counts as connected once that is
  acknowledged); frames go to `_on_user_frame`. A drop reports VenueDisconnected("user") and
  the reconnect VenueConnected("user"): the kernel reconciles the venue then.
- Secrets: the key, secret and passphrase are revealed only into the ccxt object and the login
  message. ccxt's and websockets' debug logs (which print request headers and frames) go
  through private loggers that redact them; every error raised here is redacted and raised
  `from None` (a ccxt exception may quote the request or a venue's echo of the key).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import orjson

from quantai_tui.connectors.base_execution import BaseExecutionClient, RateLimiter, Report
from quantai_tui.connectors.credentials import Credentials
from quantai_tui.connectors.stream import Conn, StreamOptions, WsStream
from quantai_tui.core.clock import Clock
from quantai_tui.core.enums import LiquiditySide, OrderSide
from quantai_tui.core.errors import (
    ConfigError,
    QuantAIError,
    RateLimited,
    VenueRejected,
    VenueTimeout,
    VenueUnavailable,
)
from quantai_tui.core.events import VenueConnected, VenueDisconnected, VenueReconnecting
from quantai_tui.core.secrets import redact
from quantai_tui.core.values import Money, Price, Quantity

MALFORMED = (ValueError, KeyError, TypeError, IndexError, AttributeError, ArithmeticError)
QUOTES = ("USDT", "USDC", "FDUSD", "BUSD", "TUSD", "USD", "EUR", "TRY", "BRL", "BTC", "ETH", "BNB")
_LOG_FIRST = 20


class OrderMissing(VenueRejected):
    """The venue does not know this order (a lookup by client order id found nothing)."""


class RedactFilter(logging.Filter):
    """Rewrites a record with the secrets' values replaced by ***."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        clean = redact(msg, *self._secrets)
        if clean != msg or record.args:
            record.msg, record.args = clean, None
        return True


def private_logger(name: str, secrets: list[str]) -> logging.Logger:
    """A logger only this client writes to (not in the global registry), which redacts, then
    hands records to the named parent's handlers like any other."""
    lg = logging.Logger(name)
    lg.parent = logging.getLogger(name.rpartition(".")[0])
    lg.addFilter(RedactFilter(secrets))
    return lg


def retry_after_s(headers: dict[str, Any], default: float) -> float:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date) or Bybit's reset time."""
    h = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
    value = h.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
            except (TypeError, ValueError):
                pass
    reset = h.get("x-bapi-limit-reset-timestamp")
    if reset and reset.isdigit():
        return max(0.0, int(reset) / 1000 - time.time())
    return default


def split_native(native: str) -> tuple[str, str] | None:
    """BTCUSDT -> (BTC, USDT) by the longest known quote suffix."""
    for q in sorted(QUOTES, key=len, reverse=True):
        if native.endswith(q) and len(native) > len(q):
            return native[: -len(q)], q
    return None


def ms_to_ns(ms: Any) -> int:
    try:
        v = int(ms)
    except (TypeError, ValueError):
        return 0
    return v * 1_000_000 if v > 0 else 0


def plain(value: Any) -> str:
    """A venue's decimal text without trailing zeros ("0.50000000" -> "0.5")."""
    text = str(value).strip()
    if "e" in text.lower():
        text = format(Decimal(text), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def qty(value: Any) -> Quantity:
    return Quantity(plain(value) if value not in (None, "") else "0")


def price(value: Any) -> Price | None:
    if value in (None, ""):
        return None
    p = Price(plain(value))
    return p if p.as_decimal() != 0 else None


def dec(value: Any) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else Decimal(0)


def text(d: Decimal | Quantity | Price) -> str:
    """Exact decimal text for a request (never scientific notation)."""
    v = d.as_decimal() if hasattr(d, "as_decimal") else d
    return format(v, "f")


class LiveExecutionClient(BaseExecutionClient):
    """Shared base of the native live venues; see the module docstring."""

    exchange_id = ""
    default_rate: tuple[float, int] = (10.0, 20)  # requests per second, burst
    ccxt_options: dict[str, Any] = {}

    def __init__(self, venue: str, settings: Any, report: Report, clock: Clock, credentials: Credentials, *,
                 stream_options: StreamOptions | None = None, rate_limiter: RateLimiter | None = None,
                 submit_timeout_s: float = 10.0, request_timeout_s: float = 10.0, ready_timeout_s: float = 20.0,
                 read_retries: int = 3, read_backoff_s: float = 0.25, symbols: tuple[str, ...] = ()) -> None:
        if credentials is None or not credentials.api_key or not credentials.api_secret:
            raise ConfigError(f"{venue}: live trading needs an API key and secret")
        rate, burst = self.default_rate
        super().__init__(venue, report, clock, submit_timeout_s=submit_timeout_s,
                         request_timeout_s=request_timeout_s, read_retries=read_retries,
                         read_backoff_s=read_backoff_s, rate_limiter=rate_limiter or RateLimiter(rate, burst))
        self.settings = settings
        self.creds = credentials
        self.stream_options = stream_options or StreamOptions(heartbeat_timeout_s=40.0, ping_interval_s=15.0)
        self.ready_timeout_s = ready_timeout_s
        self._secrets = [s.reveal() for s in (credentials.api_key, credentials.api_secret, credentials.passphrase) if s]
        self.ccxt_log = private_logger(f"quantai.exec.{venue}.ccxt", self._secrets)
        self.ws_log = private_logger(f"quantai.exec.{venue}.ws", self._secrets)
        self.ex: Any = None
        self.stream: WsStream | None = None
        self._ready = asyncio.Event()
        self._names: dict[str, str] = {}  # native key -> unified symbol
        self.traded: set[str] = set(symbols)  # symbols whose fills to read (venues want a symbol)
        self.coids: dict[str, str] = {}  # venue order id -> client order id
        self._seen: OrderedDict[str, None] = OrderedDict()  # trade ids already reported
        self._spawned = itertools.count(1)
        self.frames = 0
        self.malformed = 0
        for sym in symbols:
            self.native(sym)

    # --- errors and secrets ---------------------------------------------------------------------
    def redact(self, message: str) -> str:
        return redact(message, *self._secrets)

    def _classify(self, status: int, headers: dict[str, Any], body: str, parsed: Any) -> QuantAIError | None:
        """The venue's error for this reply, or None when it is a success."""
        raise NotImplementedError

    def _handle_errors(self, code: int, reason: str, url: str, method: str, headers: Any, body: Any,
                       response: Any, request_headers: Any, request_body: Any) -> None:
        """Replaces ccxt's handle_errors on our exchange object: the venue's own codes decide."""
        err = self._classify(int(code or 0), dict(headers or {}), body or "", response)
        if err is None and int(code or 0) >= 500:
            err = VenueUnavailable(f"{self.venue}: HTTP {code} {reason}")
        elif err is None and int(code or 0) >= 400:
            err = VenueRejected(f"{self.venue}: HTTP {code} {str(body)[:300]}")
        if err is not None:
            err.args = (self.redact(str(err)),)
            raise err

    async def call(self, fn: Callable[[Any], Awaitable[Any]], params: dict[str, Any] | list[Any] | None = None, *,
                   create: bool = False) -> Any:
        """One REST call. A create whose reply is lost or late raises VenueTimeout (its fate is
        unknown); other transport failures raise VenueUnavailable (reads are retried)."""
        import ccxt

        try:
            return await fn(params or {})
        except VenueUnavailable as exc:  # a 5xx: a create may have been placed
            if create:
                raise VenueTimeout(str(exc)) from None
            raise
        except QuantAIError:  # from _handle_errors: the venue's own answer, already redacted
            raise
        except (ccxt.RateLimitExceeded, ccxt.DDoSProtection) as exc:
            raise RateLimited(self.redact(f"{self.venue}: rate limited: {exc}"), 1.0) from None
        except (ccxt.NetworkError, TimeoutError, OSError) as exc:
            what = "no reply" if isinstance(exc, (ccxt.RequestTimeout, TimeoutError)) else "connection lost"
            msg = self.redact(f"{self.venue}: {what}: {type(exc).__name__}: {exc}")
            raise (VenueTimeout if create or isinstance(exc, ccxt.RequestTimeout) else VenueUnavailable)(msg) from None
        except ccxt.BaseError as exc:
            raise VenueRejected(self.redact(f"{self.venue}: {type(exc).__name__}: {exc}")) from None

    def raw(self, path: str, api: str, method: str) -> Callable[[dict[str, Any]], Awaitable[Any]]:
        """An endpoint ccxt has no implicit method for."""
        return functools.partial(self.ex.request, path, [api], method)

    # --- exchange -------------------------------------------------------------------------------
    def _make_exchange(self) -> Any:
        from quantai_tui.connectors.market_cache import new_exchange

        config: dict[str, Any] = {
            "apiKey": self.creds.api_key.reveal(), "secret": self.creds.api_secret.reveal(),
            "enableRateLimit": False,  # our RateLimiter paces; cancels must not queue behind creates
            "timeout": int((self.request_timeout_s or 10.0) * 1000), "logger": self.ccxt_log,
        }
        if self.creds.passphrase:
            config["password"] = self.creds.passphrase.reveal()
        ex = new_exchange(self.exchange_id, rest_url=self.settings.rest_url, testnet=self.settings.testnet,
                          options=dict(self.ccxt_options), config=config)
        ex.handle_errors = self._handle_errors
        return ex

    # --- lifecycle ------------------------------------------------------------------------------
    async def _connect(self) -> None:
        self.ex = self._make_exchange()
        self._ready.clear()
        self.stream = WsStream(f"{self.venue}/user", self._ws_url, self, self.stream_options, self._spawn,
                               connect=self._dial)
        self.stream.start()
        try:
            async with asyncio.timeout(self.ready_timeout_s):
                await self._ready.wait()
        except TimeoutError:
            await self._disconnect()
            raise VenueUnavailable(f"{self.venue}: the private user stream did not come up in "
                                   f"{self.ready_timeout_s:.0f}s") from None
        await self._after_connect()

    async def _after_connect(self) -> None:
        return None

    async def _disconnect(self) -> None:
        if self.stream is not None:
            await self.stream.stop()
            self.stream = None
        if self.ex is not None:
            try:
                await self._before_close()
            finally:
                await self.ex.close()
                self.ex = None

    async def _before_close(self) -> None:
        return None

    def _spawn(self, name: str, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        return self.create_task(coro, f"{name}#{next(self._spawned)}")

    async def _dial(self, url: str) -> Any:
        from websockets.asyncio.client import connect

        o = self.stream_options
        local = "://127.0.0.1" in url or "://localhost" in url
        return await connect(url, ping_interval=None, close_timeout=o.close_timeout_s, max_size=o.max_frame_bytes,
                             max_queue=None, compression=None, open_timeout=None, proxy=None if local else True,
                             logger=self.ws_log)

    # --- user stream hooks (connectors.stream.StreamHooks) ---------------------------------------
    def _ws_url(self) -> str:
        raise NotImplementedError

    async def _ws_login(self, conn: Conn) -> None:
        """Log in and subscribe on a fresh connection; raise if the venue refuses."""

    async def _ws_ping(self, conn: Conn) -> None:
        waiter = await conn.ws.ping()
        waiter.add_done_callback(conn.touch)

    def _on_user_frame(self, raw: bytes) -> None:
        raise NotImplementedError

    async def recv_json(self, conn: Conn, timeout: float = 10.0) -> Any:
        """The next frame of a connection being logged in (the reader is not running yet)."""
        async with asyncio.timeout(timeout):
            raw = await conn.ws.recv(decode=False)
        conn.touch()
        return orjson.loads(raw)

    async def send_json(self, conn: Conn, msg: Any) -> None:
        await conn.send(orjson.dumps(msg).decode())

    def on_frame(self, stream: WsStream, conn: Conn, raw: bytes) -> None:
        self.frames += 1
        try:
            self._on_user_frame(raw)
        except MALFORMED as exc:
            self.malformed += 1
            if self.malformed <= _LOG_FIRST or self.malformed % 1000 == 0:
                self.log.warning("malformed user-stream frame #%d (%r): %r", self.malformed, exc,
                                 self.redact(repr(raw[:200])))
        except Exception as exc:
            self.log.error("error handling a user-stream frame: %r", exc, exc_info=exc)

    async def on_open(self, stream: WsStream, conn: Conn) -> None:
        await self._ws_login(conn)

    def on_connected(self, stream: WsStream, reconnect: bool) -> None:
        self._ready.set()
        if reconnect:  # the first connection is reported by start()
            now = self.clock.timestamp_ns()
            self.report(VenueConnected(self.venue, "user", ts_event=now, ts_init=now))

    def on_disconnected(self, stream: WsStream, reason: str) -> None:
        self._ready.clear()
        self.log.warning("user stream disconnected: %s", reason)
        now = self.clock.timestamp_ns()
        self.report(VenueDisconnected(self.venue, self.redact(reason), "user", ts_event=now, ts_init=now))

    def on_reconnecting(self, stream: WsStream, attempt: int, delay_s: float) -> None:
        now = self.clock.timestamp_ns()
        self.report(VenueReconnecting(self.venue, attempt, delay_s, "user", ts_event=now, ts_init=now))

    def on_overlap(self, stream: WsStream, active: bool) -> None:
        return None

    async def ping(self, stream: WsStream, conn: Conn) -> None:
        await self._ws_ping(conn)

    def abort_stream(self, reason: str) -> None:
        """Cut the user stream now; it reconnects (and the engine reconciles)."""
        if self.stream is not None and self.stream.primary is not None:
            self.stream.primary.abort(reason)

    # --- symbols and ids ---------------------------------------------------------------------------
    def native(self, symbol: str) -> str:
        """The venue's id of a unified symbol (remembered both ways)."""
        nat = self._native_of(symbol)
        self._names.setdefault(self._name_key(nat, symbol), symbol)
        return nat

    def _native_of(self, symbol: str) -> str:
        raise NotImplementedError

    def _name_key(self, native: str, symbol: str) -> str:
        return native

    def symbol_of(self, native: str, hint: str = "") -> str:
        raise NotImplementedError

    def remember(self, vid: str, coid: str) -> None:
        if vid and coid:
            self.coids[vid] = coid

    # --- reporting ------------------------------------------------------------------------------
    def fill_once(self, coid: str, symbol: str, vid: str, trade_id: str, side: OrderSide, q: Any, p: Any, fee: Any,
                  fee_ccy: str, maker: bool | None, ts_ms: Any) -> None:
        """Report one execution unless this trade id was already reported (the OMS would drop it
        too; this keeps replays of the same frame off the bus)."""
        key = f"{symbol}:{trade_id}"
        if not trade_id or key in self._seen:
            return
        self._seen[key] = None
        if len(self._seen) > 50_000:
            self._seen.popitem(last=False)
        px = price(p)
        if px is None:
            return
        liq = LiquiditySide.NONE if maker is None else (LiquiditySide.MAKER if maker else LiquiditySide.TAKER)
        self.filled(coid, symbol, vid, trade_id, side, qty(q), px, Money(plain(fee), fee_ccy), liq,
                    ms_to_ns(ts_ms) or None)


def make_factory(cls: type[LiveExecutionClient]) -> Callable[..., LiveExecutionClient]:
    """The `create_execution_client(venue, settings, report, clock, credentials, **options)`
    function the kernel's EXECUTION_FACTORIES refer to."""

    def create_execution_client(venue: str, settings: Any, report: Report, clock: Clock,
                                credentials: Credentials, **options: Any) -> LiveExecutionClient:
        return cls(venue, settings, report, clock, credentials, **options)

    return create_execution_client

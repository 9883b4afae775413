"""The shared core of the local exchange server: one aiohttp app on 127.0.0.1 (random port)
serving REST routes and WebSocket endpoints, with faults on demand.

    server = ExchangeServer("binance")
    venue = BinanceVenue(server, "spot")        # a venue module registers its routes
    async with server:                           # binds 127.0.0.1:<random port>
        client = ...(rest_url=server.rest_url, ws_url=server.ws_url)
        await venue.release(10)                  # push captured frames to subscribers
        await server.drop_connections()          # fault: cut every WebSocket (TCP abort)

Adding routes (e.g. a venue's private API): before `start()`, call

    server.rest("POST", "/api/v3/order", handler)      # async handler(request) -> web.Response
    server.websocket("/ws/private", on_message, on_open=None, on_close=None)

`on_message(session, text)` gets every text frame of a WebSocket session; `session.send(obj)`
answers (dicts are JSON-encoded, str/bytes go out as text frames). Sessions live in
`server.sessions`; `server.hits[path]` counts REST calls. Faults live in `server.faults`;
REST handlers go through `server.rest_delay()` so slow replies apply to them too.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import WSMsgType, web

log = logging.getLogger("tests.exchange_server")

RestHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OnMessage = Callable[["WsSession", str], Awaitable[None]]
OnOpen = Callable[["WsSession"], Awaitable[None]]


@dataclass
class Faults:
    """Faults on demand. Counters are consumed as the faults fire."""

    skip_book_updates: Counter[str] = field(default_factory=Counter)  # native symbol -> updates to drop
    stale_snapshots: int = 0  # REST snapshots still answered with the oldest book
    rest_delay_s: float = 0.0  # slow REST replies
    ws_send_delay_s: float = 0.0  # slow WebSocket frames (per frame)
    refuse_connections: int = 0  # WebSocket upgrades answered with HTTP 503
    throttle_snapshots: list[float] = field(default_factory=list)  # snapshots refused: 429, Retry-After (s)


class WsSession:
    """One client WebSocket connection."""

    _ids = itertools.count(1)

    def __init__(self, server: ExchangeServer, path: str, request: web.Request, ws: web.WebSocketResponse) -> None:
        self.id = next(self._ids)
        self.server = server
        self.path = path
        self.request = request
        self.ws = ws
        self.subscriptions: set[str] = set()
        self.silent = False  # half-open: nothing goes out, pings go unanswered
        self.opened_at = time.monotonic()
        self.received: list[str] = []
        self.state: dict[str, Any] = {}  # per-venue scratch (e.g. OKX seq ids per book)

    @property
    def query(self) -> Any:
        return self.request.query

    async def send(self, msg: Any) -> None:
        if self.silent or self.ws.closed:
            return
        if isinstance(msg, bytes):
            text = msg.decode()
        elif isinstance(msg, str):
            text = msg
        else:
            text = orjson.dumps(msg).decode()
        delay = self.server.faults.ws_send_delay_s
        if delay:
            await asyncio.sleep(delay)
        try:
            await self.ws.send_str(text)
        except (ConnectionError, RuntimeError):  # the client went away mid-send
            pass

    def abort(self) -> None:
        """Cut the TCP connection without a close handshake (a dropped connection)."""
        transport = self.request.transport
        if transport is not None:
            transport.abort()


class ExchangeServer:
    def __init__(self, name: str = "exchange") -> None:
        self.name = name
        self.app = web.Application()
        self.faults = Faults()
        self.sessions: list[WsSession] = []
        self.hits: Counter[str] = Counter()
        self.hit_times: dict[str, list[float]] = {}  # path -> monotonic time of each call
        self.connections_total = 0
        self.max_concurrent = 0
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- routes ---------------------------------------------------------------------------
    def rest(self, method: str, path: str, handler: RestHandler) -> None:
        async def counted(request: web.Request) -> web.StreamResponse:
            self.hits[path] += 1
            self.hit_times.setdefault(path, []).append(time.monotonic())
            return await handler(request)

        self.app.router.add_route(method, path, counted)

    def websocket(
        self, path: str, on_message: OnMessage, on_open: OnOpen | None = None, on_close: OnOpen | None = None
    ) -> None:
        async def handler(request: web.Request) -> web.StreamResponse:
            if self.faults.refuse_connections > 0:
                self.faults.refuse_connections -= 1
                return web.Response(status=503, text="refused on purpose")
            ws = web.WebSocketResponse(autoping=False, max_msg_size=0, compress=False)
            await ws.prepare(request)
            session = WsSession(self, path, request, ws)
            self.sessions.append(session)
            self.connections_total += 1
            self.max_concurrent = max(self.max_concurrent, len(self.sessions))
            try:
                if on_open is not None:
                    await on_open(session)
                async for msg in ws:
                    if msg.type == WSMsgType.PING:
                        if not session.silent:
                            await ws.pong(msg.data)
                    elif msg.type == WSMsgType.TEXT:
                        session.received.append(msg.data)
                        if not session.silent:
                            await on_message(session, msg.data)
                    elif msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                        break
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                if session in self.sessions:
                    self.sessions.remove(session)
                if on_close is not None:
                    await on_close(session)
            return ws

        self.app.router.add_get(path, handler)

    async def rest_delay(self) -> None:
        if self.faults.rest_delay_s:
            await asyncio.sleep(self.faults.rest_delay_s)

    @staticmethod
    def json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        return web.Response(body=orjson.dumps(body), status=status, content_type="application/json",
                            headers=headers)

    # --- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> ExchangeServer:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self

    async def stop(self) -> None:
        for s in list(self.sessions):
            s.abort()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> ExchangeServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    # --- faults ---------------------------------------------------------------------------------
    async def drop_connections(self) -> int:
        """Abort every WebSocket connection (the client sees a dropped TCP connection)."""
        sessions = list(self.sessions)
        for s in sessions:
            s.abort()
        await asyncio.sleep(0)
        return len(sessions)

    def go_silent(self) -> int:
        """Half-open: current connections stay open but nothing more is sent or answered."""
        for s in self.sessions:
            s.silent = True
        return len(self.sessions)

    async def broadcast_raw(self, frames: list[str | bytes], channel: str | None = None) -> None:
        """Send frames as they are (e.g. malformed ones) to every session (subscribed to channel)."""
        for s in list(self.sessions):
            if channel is None or channel in s.subscriptions:
                for f in frames:
                    await s.send(f)

    # --- waiting ------------------------------------------------------------------------------
    @staticmethod
    async def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
        """Poll `predicate` until true; TimeoutError (naming `what`) after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what or predicate}")
            await asyncio.sleep(0.002)

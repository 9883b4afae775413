"""What every venue's private API on the local exchange server shares: signed routes with
faults, one ordered outbound queue for user-stream pushes, and the account's credentials.

    engine = Engine()
    venue = BinancePrivate(server, engine, api_key="k", secret="s")   # a subclass
    venue.route("POST", "/api/v3/order", handler, create=True)        # handler(request, body)

A route goes through, in order: the request log (`engine.requests`), the server's slow-reply
fault, the rate-limit fault (`engine.faults.throttle`: the venue's own refusal, `throttled`),
signature verification (`verify`: the venue's rules and error shapes), the handler, and for
order placements the lost-reply fault (accepted, then never answered).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from tests.exchange_server.core import ExchangeServer, WsSession
from tests.exchange_server.private_engine import Engine, PrivFill, PrivOrder

log = logging.getLogger("tests.exchange_server.private")
Handler = Callable[[web.Request, str], Awaitable[web.Response]]
ACCEPTED = web.RequestKey("accepted", bool)  # a handler sets it once the order is placed


def hmac_sha256(secret: str, payload: str) -> bytes:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()


class PrivateVenue:
    def __init__(self, server: ExchangeServer, engine: Engine, *, api_key: str, secret: str,
                 passphrase: str = "") -> None:
        self.server = server
        self.engine = engine
        self.api_key = api_key
        self.secret = secret
        self.passphrase = passphrase
        self.sessions: list[WsSession] = []  # authenticated user-stream sessions
        self.pushed: list[Any] = []  # every push that went out (after mute)
        self.dropped = 0  # replies lost on purpose (faults.drop_rate)
        self._queue: asyncio.Queue[Any] | None = None
        self._writer: asyncio.Task[None] | None = None
        engine.listeners.append(self._on_engine)

    # --- REST -----------------------------------------------------------------------------
    def route(self, method: str, path: str, handler: Handler, *, signed: bool = True, create: bool = False) -> None:
        engine = self.engine

        async def wrapped(request: web.Request) -> web.StreamResponse:
            engine.requests.append((time.monotonic(), method, path))
            await self.server.rest_delay()
            if engine.faults.throttle:
                status, retry_after = engine.faults.throttle.pop(0)
                return self.throttled(status, retry_after)
            body = await request.text()
            if signed:
                refused = self.verify(request, body)
                if refused is not None:
                    return refused
            resp = await handler(request, body)
            if create and request.get(ACCEPTED) and engine.faults.should_drop():
                return await self._lose_reply(request, resp)
            return resp

        self.server.rest(method, path, wrapped)

    async def _lose_reply(self, request: web.Request, resp: web.Response) -> web.StreamResponse:
        faults = self.engine.faults
        self.dropped += 1
        if faults.drop_mode == "hang":  # answered after the client stopped waiting
            await asyncio.sleep(faults.hang_s)
            return resp
        transport = request.transport
        if transport is not None:
            transport.abort()
        raise asyncio.CancelledError  # nothing goes back: the connection is gone

    def json(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        return web.Response(body=orjson.dumps(body), status=status, content_type="application/json",
                            headers=headers)

    def throttled(self, status: int, retry_after: float) -> web.Response:
        """The venue's rate-limit refusal."""
        raise NotImplementedError

    def verify(self, request: web.Request, body: str) -> web.Response | None:
        """None when the request is signed right, else the venue's refusal."""
        raise NotImplementedError

    def key_echo(self) -> str:
        return f" (api key {self.api_key})" if self.engine.faults.echo_key else ""

    # --- user stream ----------------------------------------------------------------------------
    def _on_engine(self, kind: str, order: PrivOrder, fill: PrivFill | None) -> None:
        for msg in self.stream_messages(kind, order, fill):
            self.push(msg)

    def stream_messages(self, kind: str, order: PrivOrder, fill: PrivFill | None) -> list[Any]:
        raise NotImplementedError

    def push(self, msg: Any) -> None:
        """Send to every authenticated session, in order (one writer task)."""
        if self.engine.faults.mute_stream:
            return
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._writer = asyncio.get_running_loop().create_task(self._write(), name="private-push")
        self._queue.put_nowait(msg)

    async def _write(self) -> None:
        assert self._queue is not None
        while True:
            msg = await self._queue.get()
            text = msg if isinstance(msg, str) else orjson.dumps(msg).decode()
            self.pushed.append(msg)
            for s in [s for s in self.sessions if not s.ws.closed]:
                await s.send(text)

    async def flushed(self) -> None:
        """Wait until every queued push went out."""
        while self._queue is not None and not self._queue.empty():
            await asyncio.sleep(0.002)
        await asyncio.sleep(0)

    async def on_close(self, session: WsSession) -> None:
        if session in self.sessions:
            self.sessions.remove(session)

    def drop_user_streams(self) -> int:
        """Cut every user-stream connection (TCP abort)."""
        n = 0
        for s in list(self.sessions):
            s.abort()
            n += 1
        return n

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            try:
                await self._writer
            except (asyncio.CancelledError, Exception):
                pass

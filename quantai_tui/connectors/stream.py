"""One venue WebSocket endpoint, kept alive: connect, subscribe, read, heartbeat, reconnect, rotate.

A `WsStream` owns the connection loop of one URL and knows nothing about any venue: the client
that owns it (see base.py) answers through `StreamHooks` — what to send after connecting, what a
ping looks like, what to do with a frame. The loop:

    CONNECTING -> (open ok) on_open: subscribe -> CONNECTED: read frames
        drop / close / heartbeat timeout -> DISCONNECTED -> RECONNECTING (backoff + jitter) -> ...

- Heartbeat: every received frame (and every protocol pong) refreshes `last_rx`. Idle for
  `ping_interval_s` -> the venue's ping is sent; idle for `heartbeat_timeout_s` -> the link is
  taken for half-open and the transport is aborted (a close handshake would wait on a dead peer).
- Reconnect: full-jitter exponential backoff, `uniform(0, min(max, initial * 2**(n-1)))`; the
  attempt count only resets after a connection delivered data or lasted `stable_after_s`, so a
  venue that accepts and drops at once is not hammered.
- Rotation (make-before-break): when `max_connection_age_s` is set (Binance closes connections at
  24 h), a second connection is opened and subscribed before the old one is closed; both feed
  frames during `rotation_overlap_s` and the client drops duplicates (hooks.on_overlap).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from quantai_tui.core.enums import ConnectionState

log = logging.getLogger("quantai.connectors")

Spawn = Callable[[str, Coroutine[Any, Any, Any]], "asyncio.Task[Any]"]


@dataclass(slots=True)
class StreamOptions:
    """Timing of one WebSocket endpoint. Tests shrink these; production keeps the defaults."""

    heartbeat_timeout_s: float = 30.0  # nothing received this long: the link is dead (half-open)
    ping_interval_s: float = 15.0  # send the venue's ping when idle this long
    backoff_initial_s: float = 0.25
    backoff_max_s: float = 30.0
    open_timeout_s: float = 10.0
    close_timeout_s: float = 2.0
    max_connection_age_s: float | None = None  # rotate (make-before-break) before the venue cuts us
    rotation_overlap_s: float = 3.0  # both connections feed frames this long during a rotation
    max_frame_bytes: int = 16 * 1024 * 1024
    stable_after_s: float = 10.0  # a connection that lasted this long (or got data) resets the backoff


class Conn:
    """One open WebSocket connection of a stream."""

    __slots__ = ("ws", "cid", "opened_at", "last_rx", "last_ping", "frames", "close_reason", "retired")

    def __init__(self, ws: Any, cid: int) -> None:
        self.ws = ws
        self.cid = cid
        now = time.monotonic()
        self.opened_at = now
        self.last_rx = now
        self.last_ping = now
        self.frames = 0
        self.close_reason = ""
        self.retired = False  # closed on purpose by a rotation: not a disconnect

    def touch(self, *_: Any) -> None:
        self.last_rx = time.monotonic()

    async def send(self, payload: str | bytes) -> None:
        await self.ws.send(payload)

    def abort(self, reason: str) -> None:
        """Cut the TCP connection now (no close handshake: the peer may be gone)."""
        if not self.close_reason:
            self.close_reason = reason
        transport = getattr(self.ws, "transport", None)
        if transport is not None:
            transport.abort()


class StreamHooks(Protocol):
    """What a WsStream asks of the client that owns it."""

    def on_frame(self, stream: WsStream, conn: Conn, raw: bytes) -> None: ...
    async def on_open(self, stream: WsStream, conn: Conn) -> None: ...  # send subscriptions
    def on_connected(self, stream: WsStream, reconnect: bool) -> None: ...
    def on_disconnected(self, stream: WsStream, reason: str) -> None: ...
    def on_reconnecting(self, stream: WsStream, attempt: int, delay_s: float) -> None: ...
    def on_overlap(self, stream: WsStream, active: bool) -> None: ...
    async def ping(self, stream: WsStream, conn: Conn) -> None: ...


class WsStream:
    """The connection loop of one WebSocket URL (see the module docstring)."""

    def __init__(
        self,
        name: str,
        url: Callable[[], str],
        hooks: StreamHooks,
        options: StreamOptions,
        spawn: Spawn,
        *,
        key: str = "",
        connect: Callable[..., Awaitable[Any]] | None = None,
    ) -> None:
        self.name = name
        self.key = key or name  # the owner's short name for it (e.g. "public", "linear")
        self._url = url
        self._hooks = hooks
        self.options = options
        self._spawn = spawn
        self._connect_fn = connect
        self.state = ConnectionState.DISCONNECTED
        self.primary: Conn | None = None
        self.conns: list[Conn] = []  # live connections (two during a rotation)
        self._stopping = False
        self._task: asyncio.Task[Any] | None = None
        self._cid = 0
        self._ever_connected = False
        self.overlapping = False
        # counters, read by the client's stats()
        self.connects = 0
        self.reconnects = 0
        self.heartbeat_timeouts = 0
        self.rotations = 0
        self.connect_failures = 0

    # --- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None or self._task.done():
            self._stopping = False
            self._task = self._spawn(f"ws:{self.name}", self._run())

    async def stop(self) -> None:
        self._stopping = True
        for c in list(self.conns):
            c.retired = True
            await self._close(c)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None
        self.state = ConnectionState.DISCONNECTED

    @property
    def connected(self) -> bool:
        return self.primary is not None and self.state is ConnectionState.CONNECTED

    async def send(self, payload: str | bytes) -> bool:
        """Send on every live connection (both during a rotation); False when none is open."""
        sent = False
        for c in list(self.conns):
            try:
                await c.send(payload)
                sent = True
            except Exception as exc:  # the reader sees the close and reconnects
                log.debug("%s: send failed on connection %d: %r", self.name, c.cid, exc)
        return sent

    # --- the loop -------------------------------------------------------------------------------
    def backoff_delay(self, attempt: int) -> float:
        o = self.options
        cap = min(o.backoff_max_s, o.backoff_initial_s * (2 ** max(0, attempt - 1)))
        return random.uniform(0.0, cap)

    async def _run(self) -> None:
        attempt = 0
        while not self._stopping:
            if attempt:
                delay = self.backoff_delay(attempt)
                self.state = ConnectionState.RECONNECTING
                self._hooks.on_reconnecting(self, attempt, delay)
                await asyncio.sleep(delay)
            else:
                self.state = ConnectionState.CONNECTING
            conn = await self._open()
            if conn is None:
                attempt += 1
                continue
            self.primary = conn
            reconnect = self._ever_connected
            self._ever_connected = True
            self.connects += 1
            if reconnect:
                self.reconnects += 1
            self.state = ConnectionState.CONNECTED
            self._hooks.on_connected(self, reconnect)
            reason = await self._serve()
            self.primary = None
            self.state = ConnectionState.DISCONNECTED
            if self._stopping:
                break
            self._hooks.on_disconnected(self, reason)
            stable = conn.frames > 0 or time.monotonic() - conn.opened_at >= self.options.stable_after_s
            attempt = 1 if stable else attempt + 1

    async def _open(self) -> Conn | None:
        """Connect and subscribe; None (logged) on failure."""
        url = self._url()
        o = self.options
        try:
            ws = await asyncio.wait_for(self._dial(url), o.open_timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.connect_failures += 1
            log.warning("%s: cannot connect to %s: %r", self.name, url, exc)
            return None
        self._cid += 1
        conn = Conn(ws, self._cid)
        self.conns.append(conn)
        try:
            await self._hooks.on_open(self, conn)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("%s: subscribing failed: %r", self.name, exc)
            self.conns.remove(conn)
            await self._close(conn)
            return None
        return conn

    async def _dial(self, url: str) -> Any:
        o = self.options
        if self._connect_fn is not None:
            return await self._connect_fn(url)
        from websockets.asyncio.client import connect

        local = "://127.0.0.1" in url or "://localhost" in url or "://[::1]" in url
        return await connect(
            url,
            ping_interval=None,  # our heartbeat decides, per venue
            close_timeout=o.close_timeout_s,
            max_size=o.max_frame_bytes,
            max_queue=None,  # never let the library drop or stall frames: we read as fast as we can
            compression=None,  # venues send uncompressed frames; skip the negotiation cost
            open_timeout=None,  # wait_for above bounds it
            proxy=None if local else True,
        )

    async def _serve(self) -> str:
        """Read the primary connection until it ends; follow rotations. Returns the drop reason."""
        heartbeat = self._spawn(f"heartbeat:{self.name}", self._heartbeat())
        rotation = None
        if self.options.max_connection_age_s:
            rotation = self._spawn(f"rotate:{self.name}", self._rotate_forever())
        try:
            while True:
                conn = self.primary
                assert conn is not None
                reason = await self._read(conn)
                if conn.retired and self.primary is not conn and not self._stopping:
                    continue  # a rotation replaced it: keep serving the new primary
                return reason
        finally:
            heartbeat.cancel()
            if rotation is not None:
                rotation.cancel()
            self._set_overlap(False)
            for c in list(self.conns):
                c.retired = True
                await self._close(c)

    async def _read(self, conn: Conn) -> str:
        from websockets.exceptions import ConnectionClosed

        ws = conn.ws
        on_frame = self._hooks.on_frame
        recv = ws.recv
        try:
            while True:
                raw = await recv(decode=False)
                conn.last_rx = time.monotonic()
                conn.frames += 1
                on_frame(self, conn, raw)
        except ConnectionClosed as exc:
            return conn.close_reason or f"closed: code={exc.rcvd.code if exc.rcvd else 1006}"
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a transport error: treat like a drop
            return conn.close_reason or f"error: {exc!r}"
        finally:
            if conn in self.conns:
                self.conns.remove(conn)

    async def _close(self, conn: Conn) -> None:
        if conn in self.conns:
            self.conns.remove(conn)
        try:
            await asyncio.wait_for(conn.ws.close(), self.options.close_timeout_s)
        except (asyncio.CancelledError, Exception):
            conn.abort(conn.close_reason or "closed")

    # --- heartbeat ------------------------------------------------------------------------------
    async def _heartbeat(self) -> None:
        o = self.options
        tick = max(0.005, min(o.ping_interval_s, o.heartbeat_timeout_s) / 4)
        while True:
            before = time.monotonic()
            await asyncio.sleep(tick)
            now = time.monotonic()
            if now - before > tick + o.heartbeat_timeout_s / 2:
                # This loop itself was starved (a busy event loop or machine): frames may sit
                # unread. Blame nothing on the peer this round; let the readers catch up.
                continue
            for conn in list(self.conns):
                idle = now - conn.last_rx
                if idle >= o.heartbeat_timeout_s:
                    await asyncio.sleep(min(0.01, tick))  # frames already in the socket count too
                    idle = time.monotonic() - conn.last_rx
                    if idle < o.heartbeat_timeout_s:
                        continue
                    self.heartbeat_timeouts += 1
                    log.warning("%s: nothing received for %.1fs: heartbeat timeout, reconnecting", self.name, idle)
                    conn.abort(f"heartbeat timeout after {idle:.1f}s")
                elif idle >= o.ping_interval_s and now - conn.last_ping >= o.ping_interval_s:
                    conn.last_ping = now
                    try:
                        await self._hooks.ping(self, conn)
                    except Exception as exc:  # a dead link shows up as a heartbeat timeout
                        log.debug("%s: ping failed: %r", self.name, exc)

    # --- rotation (make-before-break) ------------------------------------------------------------
    async def _rotate_forever(self) -> None:
        o = self.options
        assert o.max_connection_age_s
        while True:
            conn = self.primary
            if conn is None:
                return
            wait = conn.opened_at + o.max_connection_age_s - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            self._set_overlap(True)  # before subscribing: its frames may be duplicates
            new = await self._open()
            if new is None:  # try again soon; the old connection still serves
                self._set_overlap(False)
                await asyncio.sleep(min(5.0, o.max_connection_age_s / 4))
                continue
            self.rotations += 1
            old = conn
            reader = self._spawn(f"ws-standby:{self.name}#{new.cid}", self._read_standby(new))
            try:
                await asyncio.sleep(o.rotation_overlap_s)
            finally:
                # Stop the standby reader before _serve reads the new connection (one reader
                # at a time); cancelling recv loses nothing: unread frames stay queued.
                reader.cancel()
                try:
                    await reader
                except (asyncio.CancelledError, Exception):
                    pass
            old.retired = True
            self.primary = new
            await self._close(old)  # the old reader ends; _serve follows the new primary
            self._set_overlap(False)
            log.info("%s: rotated connection %d -> %d without a gap", self.name, old.cid, new.cid)

    def _set_overlap(self, active: bool) -> None:
        if self.overlapping != active:
            self.overlapping = active
            self._hooks.on_overlap(self, active)

    async def _read_standby(self, conn: Conn) -> None:
        """Feed frames of the new connection while the old one still serves."""
        from websockets.exceptions import ConnectionClosed

        recv = conn.ws.recv
        on_frame = self._hooks.on_frame
        try:
            while True:
                raw = await recv(decode=False)
                conn.last_rx = time.monotonic()
                conn.frames += 1
                on_frame(self, conn, raw)
        except ConnectionClosed:
            conn.close_reason = conn.close_reason or "closed during rotation"

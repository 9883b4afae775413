"""The engine's control channel: a Unix socket at `paths.control_socket` (0600, in a 0700 run
directory) and a pid file, so `quantai kill` (and SIGUSR1) reach a running engine.

Protocol: one JSON object per line each way; the server answers every request with one line.

    -> {"cmd": "kill", "reason": "...", "source": "cli", "flatten": null}
    <- {"ok": true, "state": "HALTED", "report": {"halted_ms": 1.2, "orders_to_cancel": 3, ...}}
    -> {"cmd": "release", "reason": "...", "source": "cli"}
    <- {"ok": true, "state": "ACTIVE"}
    -> {"cmd": "status"}
    <- {"ok": true, "state": "ACTIVE", "pid": 1234, "mode": "paper", "open_orders": 2, "venues": ["sim"]}

Anything else: {"ok": false, "error": "..."}. Requests are handled on the engine's loop as
soon as they arrive: nothing queues them behind market data.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger("quantai.control")
Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
MAX_LINE = 64 * 1024
SUN_PATH_MAX = 107  # bytes of a Unix socket's path (Linux sockaddr_un, less the NUL)


@contextmanager
def reachable_path(path: Path) -> Iterator[str]:
    """A path to bind or connect `path` by: itself when it fits a Unix socket's 107 bytes, else
    /proc/self/fd/N/<name> through a descriptor of its directory (a deep QUANTAI_HOME or data
    dir would otherwise crash the engine's start with "AF_UNIX path too long")."""
    if len(os.fsencode(path)) <= SUN_PATH_MAX:
        yield str(path)
        return
    if not os.path.isdir("/proc/self/fd"):
        from quantai_tui.core.errors import ConfigError

        raise ConfigError(f"the control socket's path is {len(os.fsencode(path))} bytes, more than a Unix socket "
                          f"takes ({SUN_PATH_MAX}): {path}; choose a shorter QUANTAI_HOME")
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


class ControlServer:
    def __init__(self, socket_path: Path, pid_file: Path | None, handler: Handler) -> None:
        self.socket_path = socket_path
        self.pid_file = pid_file
        self.handler = handler
        self._server: asyncio.AbstractServer | None = None
        self.requests = 0

    async def start(self) -> None:
        run_dir = self.socket_path.parent
        run_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(run_dir, 0o700)
        if self.socket_path.exists():
            if await _alive(self.socket_path):
                from quantai_tui.core.errors import ConfigError

                raise ConfigError(f"another engine is running for this profile (control socket {self.socket_path})")
            self.socket_path.unlink()  # left over from a crash
        old = os.umask(0o177)
        try:
            with reachable_path(self.socket_path) as path:
                self._server = await asyncio.start_unix_server(self._serve, path=path, limit=MAX_LINE)
        finally:
            os.umask(old)
        os.chmod(self.socket_path, 0o600)
        if self.pid_file is not None:
            self.pid_file.write_text(f"{os.getpid()}\n")
        log.info("control socket at %s", self.socket_path)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                self.requests += 1
                try:
                    req = json.loads(line)
                    if not isinstance(req, dict):
                        raise ValueError("a request is a JSON object")
                    reply = await self.handler(req)
                except Exception as exc:  # one bad request never takes the server down
                    reply = {"ok": False, "error": str(exc) or type(exc).__name__}
                writer.write(json.dumps(reply, default=str).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for p in (self.socket_path, self.pid_file):
            if p is not None:
                try:
                    p.unlink()
                except FileNotFoundError:
                    pass


async def _alive(path: Path) -> bool:
    try:
        with reachable_path(path) as where:
            _, w = await asyncio.wait_for(asyncio.open_unix_connection(where), 0.5)
    except (OSError, TimeoutError):
        return False
    w.close()
    return True


def install_kill_signal(engage: Callable[[], Awaitable[Any]], tasks: Any) -> bool:
    """SIGUSR1 engages the kill switch (headless). `tasks` is a TaskGroup that keeps the handle."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGUSR1, lambda: tasks.spawn(engage(), "sigusr1-kill"))
    except (NotImplementedError, RuntimeError, ValueError):
        return False
    return True


def request(socket_path: Path, payload: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    """Send one request and read one reply, blocking (the CLI side; stdlib only)."""
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        with reachable_path(socket_path) as where:
            s.connect(where)
        s.sendall(json.dumps(payload).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    if not buf:
        raise ConnectionError("the engine closed the connection without answering")
    reply = json.loads(buf)
    if not isinstance(reply, dict):
        raise ValueError("malformed reply from the engine")
    return reply

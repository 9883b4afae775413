"""The engine's control channel (`quantai kill` and friends) over a real Unix socket: every
command of the protocol against a running kernel, bad requests answered (never fatal), one
engine per profile, leftovers from a crash, the client's errors, and SIGUSR1."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from quantai_tui.core.clock import LiveClock
from quantai_tui.core.enums import TradingState
from quantai_tui.core.errors import ConfigError
from quantai_tui.engine.control import ControlServer, install_kill_signal, request
from quantai_tui.engine.tasks import TaskGroup
from quantai_tui.paths import Paths

from tests.trading.helpers import make_kernel


@pytest.fixture
def run_dir() -> Iterator[Path]:
    """A short directory: a Unix socket path must stay under ~100 bytes."""
    d = Path(tempfile.mkdtemp(prefix="qa-ctl-"))
    try:
        yield d / "run"
    finally:
        shutil.rmtree(d, ignore_errors=True)


async def ask(path: Path, payload: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(request, path, payload, 5.0)


async def test_status_kill_release_and_unknown_commands_against_a_running_engine(tmp_path: Path) -> None:
    paths = Paths()
    k = make_kernel(tmp_path, clock=LiveClock(), control_socket=True)
    k.paths = paths
    await k.start()
    try:
        sock = paths.control_socket
        status = await ask(sock, {"cmd": "status"})
        assert status == {"ok": True, "state": "ACTIVE", "pid": os.getpid(), "mode": "paper", "open_orders": 0,
                          "venues": ["sim"]}
        assert paths.pid_file.read_text() == f"{os.getpid()}\n"
        killed = await ask(sock, {"cmd": "kill", "reason": "from a test", "source": "cli", "flatten": None})
        assert killed["ok"] is True and killed["state"] == "HALTED"
        assert killed["report"]["already_engaged"] is False and killed["report"]["venues"] == ["sim"]
        assert k.risk.state is TradingState.HALTED
        assert k.kill_switch.last_report is not None
        released = await ask(sock, {"cmd": "release", "reason": "checked"})
        assert released == {"ok": True, "state": "ACTIVE", "message": "kill switch released"}
        again = await ask(sock, {"cmd": "release"})
        assert again == {"ok": False, "state": "ACTIVE", "message": "the kill switch was not engaged"}
        assert await ask(sock, {"cmd": "dance"}) == {"ok": False, "error": "unknown command 'dance'"}
    finally:
        await k.stop()
    assert not paths.control_socket.exists() and not paths.pid_file.exists()


async def test_bad_requests_are_answered_and_the_connection_stays_usable(run_dir: Path) -> None:
    async def handler(req: dict[str, Any]) -> dict[str, Any]:
        if req.get("cmd") == "raise":
            raise KeyError()  # an exception with no message: its type name is the error
        if req.get("cmd") == "fail":
            raise RuntimeError("engine says no")
        return {"ok": True, "echo": req}

    server = ControlServer(run_dir / "c.sock", run_dir / "e.pid", handler)
    await server.start()
    reader, writer = await asyncio.open_unix_connection(str(run_dir / "c.sock"))
    answers = []
    for line in (b"not json\n", b"[1, 2]\n", b'{"cmd": "raise"}\n', b'{"cmd": "fail"}\n', b'{"cmd": "x"}\n'):
        writer.write(line)
        await writer.drain()
        answers.append(json.loads(await reader.readline()))
    writer.close()
    assert answers[0]["ok"] is False and "Expecting value" in answers[0]["error"]
    assert answers[1] == {"ok": False, "error": "a request is a JSON object"}
    assert answers[2] == {"ok": False, "error": "KeyError"}
    assert answers[3] == {"ok": False, "error": "engine says no"}
    assert answers[4] == {"ok": True, "echo": {"cmd": "x"}}  # the same connection, still served
    assert server.requests == 5
    await server.stop()


async def test_a_second_engine_of_the_same_profile_is_refused(run_dir: Path) -> None:
    async def handler(req: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    first = ControlServer(run_dir / "c.sock", run_dir / "e.pid", handler)
    await first.start()
    assert oct(run_dir.stat().st_mode & 0o777) == "0o700"
    assert oct((run_dir / "c.sock").stat().st_mode & 0o777) == "0o600"
    second = ControlServer(run_dir / "c.sock", None, handler)
    with pytest.raises(ConfigError, match="another engine is running for this profile"):
        await second.start()
    assert await ask(run_dir / "c.sock", {"cmd": "status"}) == {"ok": True}  # the first one is untouched
    await first.stop()
    await first.stop()  # twice: the files are already gone
    assert not (run_dir / "c.sock").exists() and not (run_dir / "e.pid").exists()


async def test_a_socket_left_over_from_a_crash_is_replaced(run_dir: Path) -> None:
    run_dir.mkdir(parents=True)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(run_dir / "c.sock"))  # the file exists, nobody listens on it
    stale.close()
    assert (run_dir / "c.sock").exists()

    async def handler(req: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "fresh": True}

    server = ControlServer(run_dir / "c.sock", None, handler)
    await server.start()
    assert await ask(run_dir / "c.sock", {"cmd": "status"}) == {"ok": True, "fresh": True}
    await server.stop()


async def _one_shot_server(path: Path, reply: bytes) -> asyncio.AbstractServer:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        writer.write(reply)
        await writer.drain()
        writer.close()

    path.parent.mkdir(parents=True, exist_ok=True)
    return await asyncio.start_unix_server(serve, path=str(path))


@pytest.mark.parametrize(("reply", "error", "message"), [
    (b"", ConnectionError, "closed the connection without answering"),
    (b"[1, 2]\n", ValueError, "malformed reply from the engine"),
])
async def test_the_client_says_what_went_wrong_with_a_reply(run_dir: Path, reply: bytes, error: type,
                                                           message: str) -> None:
    server = await _one_shot_server(run_dir / "c.sock", reply)
    try:
        with pytest.raises(error, match=message):
            await ask(run_dir / "c.sock", {"cmd": "status"})
    finally:
        server.close()
        await server.wait_closed()


async def test_sigusr1_engages_through_the_task_group() -> None:
    engaged = asyncio.Event()

    async def engage() -> None:
        engaged.set()

    tasks = TaskGroup("headless")
    loop = asyncio.get_running_loop()
    assert install_kill_signal(engage, tasks) is True
    try:
        os.kill(os.getpid(), signal.SIGUSR1)
        await asyncio.wait_for(engaged.wait(), 2.0)
    finally:
        loop.remove_signal_handler(signal.SIGUSR1)
    await tasks.close()


def test_sigusr1_cannot_be_installed_off_the_main_thread() -> None:
    got: list[bool] = []

    async def main() -> None:
        async def engage() -> None:
            return None

        got.append(install_kill_signal(engage, TaskGroup("t")))

    t = threading.Thread(target=lambda: asyncio.run(main()))
    t.start()
    t.join()
    assert got == [False]  # headless then relies on the control socket alone


async def test_a_socket_path_longer_than_a_unix_socket_takes_still_works(run_dir: Path) -> None:
    """A deep QUANTAI_HOME (or data dir) makes the socket's path longer than the 107 bytes of a
    Unix socket address: binding it crashed the engine's start ("AF_UNIX path too long")."""
    deep = run_dir.parent / ("d" * 60) / ("e" * 60) / "run"
    path = deep / "control.sock"
    assert len(os.fsencode(path)) > 107

    async def handler(req: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "echo": req.get("cmd")}

    server = ControlServer(path, deep / "engine.pid", handler)
    await server.start()
    try:
        assert path.exists()
        assert await ask(path, {"cmd": "status"}) == {"ok": True, "echo": "status"}
        with pytest.raises(ConfigError, match="another engine is running"):
            await ControlServer(path, None, handler).start()  # it is seen as alive, too
    finally:
        await server.stop()
    assert not path.exists()

"""End to end: `quantai` with no arguments, in tmux, with a fresh HOME (no config, no store).

Waits for the panes, sees the book move, presses ctrl+k and sees KILL SWITCH ENGAGED, quits.
Polls the screen instead of sleeping for fixed times; the deadlines only stop a hung run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]
QUANTAI = Path(sys.executable).parent / "quantai"


class Tmux:
    def __init__(self, env: dict[str, str]) -> None:
        self.server = f"qa-e2e-{uuid.uuid4().hex[:8]}"
        self.env = env

    def run(self, *args: str) -> str:
        out = subprocess.run(["tmux", "-L", self.server, *args], env=self.env, capture_output=True, text=True,
                             timeout=30)
        return out.stdout

    def start(self, command: str) -> None:
        subprocess.run(["tmux", "-L", self.server, "-f", "/dev/null", "new-session", "-d", "-s", "S",
                        "-x", "160", "-y", "48", command], env=self.env, check=True, timeout=30)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "S")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "S", *keys)

    def wait_for(self, check: Callable[[str], bool], what: str, deadline_s: float = 60.0) -> str:
        end = time.monotonic() + deadline_s
        text = ""
        while time.monotonic() < end:
            text = self.screen()
            if check(text):
                return text
            time.sleep(0.1)
        raise AssertionError(f"never saw {what}; the screen was:\n{text}")

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.server, "kill-server"], env=self.env, capture_output=True, timeout=30)


def book_rows(text: str) -> list[str]:
    return [line[:36] for line in text.splitlines()[2:14]]


def test_quantai_starts_on_sim_updates_and_kill_switch(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUANTAI_", "XDG_", "NO_COLOR", "TMUX"))}
    env.update(HOME=str(home), TERM="xterm-256color", COLORTERM="truecolor")
    tmux = Tmux(env)
    tmux.start(f"{QUANTAI}; echo quantai-exited-$?; sleep 30")
    try:
        panes = ("Order Book", "Positions", "Orders", "Log", "Chat", "PAPER", "sim · BTC/USDT", "connected")
        first = tmux.wait_for(lambda t: all(p in t for p in panes), "the panes, PAPER on sim")
        tmux.wait_for(lambda t: book_rows(t) != book_rows(first) and "last" in t, "the order book updating")
        assert "KILL SWITCH ENGAGED" not in first
        tmux.run("send-keys", "-t", "S", "-H", "e9", "82", "ff")  # bytes that are not UTF-8 (a Latin-1 "é" ...)
        time.sleep(0.5)
        assert "quantai-exited" not in tmux.screen() and "Traceback" not in tmux.screen(), tmux.screen()
        tmux.keys("C-k")
        killed = tmux.wait_for(lambda t: "KILL SWITCH ENGAGED" in t and "HALTED" in t, "the kill switch engaged")
        assert "release" in killed
        tmux.keys("q")
        tmux.wait_for(lambda t: "quantai-exited-0" in t, "a clean exit")
    finally:
        tmux.kill()
    # a fresh HOME got its own store and log, nothing else
    assert list(home.rglob("events.sqlite")), "the event store was created under the fresh HOME"

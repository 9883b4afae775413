"""Real `quantai headless` subprocesses for the tests: JSON lines collected as they come,
stderr in a file, waits with generous timeouts (never timed assertions)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CHURN = str(REPO / "tests" / "headless" / "churn_strategy.py")
TIMEOUT = 90.0  # generous: a loaded CI machine, not a performance claim

Record = dict[str, Any]


def home() -> Path:
    return Path(os.environ["QUANTAI_HOME"])  # fresh per test (tests/conftest.py)


def store_file() -> Path:
    return home() / "data" / "events.sqlite"


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("QUANTAI_SIM__RATE", "500")  # trades within a second
    env.update(extra)
    return env


def quantai(*args: str, env: dict[str, str] | None = None, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "quantai_tui", *args], capture_output=True, text=True,
                          cwd=REPO, env=env or cli_env(), timeout=timeout, stdin=subprocess.DEVNULL)


class Engine:
    """One `quantai headless ...` process."""

    _n = 0

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        Engine._n += 1
        self.args = args
        self.err_path = home() / f"headless-{Engine._n}.stderr"
        home().mkdir(parents=True, exist_ok=True)
        self._err = self.err_path.open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "quantai_tui", "headless", *args], cwd=REPO,
                                     env=env or cli_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self._err)
        self.records: list[Record] = []
        self.junk: list[bytes] = []  # anything on stdout that is not a JSON event line
        self._cond = threading.Condition()
        self._eof = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                rec = json.loads(line)
                ok = isinstance(rec, dict) and {"seq", "type", "ts", "payload"} <= rec.keys()
            except ValueError:
                ok = False
            with self._cond:
                if ok:
                    self.records.append(rec)
                else:
                    self.junk.append(line)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    # --- waiting ----------------------------------------------------------------------------------
    def wait_for(self, what: str | Callable[[Record], bool], count: int = 1, after: int = 0,
                 timeout: float = TIMEOUT) -> list[Record]:
        """The first `count` records (seq > after) that match a type name or a predicate."""
        pred = (lambda r: r["type"] == what) if isinstance(what, str) else what
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [r for r in self.records if r["seq"] > after and pred(r)]
                if len(found) >= count:
                    return found[:count]
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    break
                self._cond.wait(min(left, 0.5))
        state = "exited" if self._eof else "timed out"
        raise AssertionError(f"{state} waiting for {count} x {what!r} (have {len(found)}); "
                             f"stderr tail:\n{self.stderr()[-3000:]}")

    def wait_exit(self, timeout: float = TIMEOUT) -> int:
        rc = self.proc.wait(timeout)
        self._reader.join(timeout)
        self._err.close()
        return rc

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.wait_exit()

    def stop(self) -> int:
        """SIGTERM and wait: the graceful path."""
        self.signal(signal.SIGTERM)
        return self.wait_exit()

    def stderr(self) -> str:
        try:
            return self.err_path.read_text(errors="replace")
        except OSError:
            return ""

    def of_type(self, name: str, after: int = 0) -> list[Record]:
        with self._cond:
            return [r for r in self.records if r["type"] == name and r["seq"] > after]

    def story(self, coids: set[str]) -> str:
        """What happened to these orders (for assertion messages)."""
        return "\n".join(f"{r['seq']} {r['type']} {r['payload'].get('client_order_id')} {r['payload'].get('reason', '')}"
                         f" {r['payload'].get('last_px', '')}" for r in self.records
                         if r["payload"].get("client_order_id") in coids or r["type"] == "KillSwitchEngaged")

    def first(self, name: str) -> Record:
        return self.wait_for(name)[0]


# --- reading the store and the records ---------------------------------------------------------------
def stored() -> list[tuple[int, str, dict[str, Any]]]:
    """(seq, type, payload) of every committed event, read-only."""
    from quantai_tui.store.codecs import to_record
    from quantai_tui.store.sqlite import read_events

    out = []
    for seq, ev in read_events(store_file()):
        rec = to_record(seq, ev)
        out.append((seq, rec["type"], rec["payload"]))
    return out


def limit_coids(records: list[Record]) -> set[str]:
    return {r["payload"]["client_order_id"] for r in records
            if r["type"] == "OrderSubmitted" and r["payload"]["order_type"] == "LIMIT"}


def open_limit_orders(events: list[tuple[int, str, dict[str, Any]]]) -> set[str]:
    """Limit orders accepted and not yet closed, from stored (seq, type, payload) events."""
    limits = {p["client_order_id"] for _, t, p in events if t == "OrderSubmitted" and p["order_type"] == "LIMIT"}
    accepted = {p["client_order_id"] for _, t, p in events if t == "OrderAccepted"}
    closed = {p["client_order_id"] for _, t, p in events
              if t in ("OrderCanceled", "OrderRejected", "OrderExpired", "OrderFilled")}
    return (limits & accepted) - closed


def filled_qty(events: list[tuple[int, str, dict[str, Any]]]) -> Decimal:
    return sum((Decimal(p["last_qty"]) for _, t, p in events if t == "OrderFilled"), Decimal(0))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])

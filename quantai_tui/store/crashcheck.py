"""Crash-durability check of the event store: a child process appends events and prints each
seq once `append` returned (durable); the parent kills it with SIGKILL at random moments and
then verifies the file. Used by the test suite (50 kills) and by bench/store_soak.py (as many
as you like); also runnable by hand on a new disk:

    python -m quantai_tui.store.crashcheck /tmp/check.sqlite --kills 200
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


# Runs only in the child, which the parent ends with SIGKILL: coverage never gets to save its data.
async def _append_forever(path: str, producers: int, synchronous: str) -> None:  # pragma: no cover
    from quantai_tui.core.enums import AggressorSide
    from quantai_tui.core.events import TradeTick
    from quantai_tui.store.sqlite import EventStore

    store = EventStore(path, synchronous=synchronous)
    await store.open()
    out = sys.stdout

    async def produce(k: int) -> None:
        i = 0
        while True:
            i += 1
            ev = TradeTick("sim", "BTC/USDT", 100.0 + i, 1.0, AggressorSide.BUYER, f"{k}-{i}", ts_event=i, ts_init=i)
            seq = await store.append(ev, durable=True)
            out.write(f"{seq}\n")
            out.flush()

    await asyncio.gather(*(produce(k) for k in range(producers)))


@dataclass
class CrashReport:
    kills: int = 0
    acknowledged: int = 0
    stored: int = 0
    problems: list[str] = field(default_factory=list)


def verify(path: Path, acknowledged: set[int]) -> tuple[int, list[str]]:
    """integrity_check ok; every acknowledged seq stored; seqs unique, increasing, gap-free."""
    problems = []
    con = sqlite3.connect(path)
    try:
        check = con.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            problems.append(f"integrity_check: {check}")
        seqs = [r[0] for r in con.execute("SELECT seq FROM events ORDER BY rowid")]
    finally:
        con.close()
    if len(seqs) != len(set(seqs)):
        problems.append("duplicate seqs")
    if seqs != sorted(seqs):
        problems.append("seqs not increasing in insertion order")
    if seqs and seqs != list(range(1, len(seqs) + 1)):
        problems.append("gap in seqs")
    missing = acknowledged - set(seqs)
    if missing:
        problems.append(f"{len(missing)} acknowledged seqs lost, e.g. {sorted(missing)[:5]}")
    return len(seqs), problems


def crash_loop(path: Path, kills: int, seed: int = 0, producers: int = 8, synchronous: str = "NORMAL",
               max_run_s: float = 0.25) -> CrashReport:
    rng = random.Random(seed)
    report = CrashReport()
    acknowledged: set[int] = set()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    for _ in range(kills):
        proc = subprocess.Popen(
            [sys.executable, "-m", "quantai_tui.store.crashcheck", str(path), "--child",
             "--producers", str(producers), "--synchronous", synchronous],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()  # wait until it really appends
        if not first:
            report.problems.append(f"child failed to start: {proc.stderr.read() if proc.stderr else ''}")
            proc.wait()
            break
        acknowledged.add(int(first))
        time.sleep(rng.uniform(0, max_run_s))
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate()
        for line in rest.splitlines():
            if line.strip().isdigit():  # a line cut by the kill is not an acknowledgement
                acknowledged.add(int(line))
        report.kills += 1
        stored, problems = verify(path, acknowledged)
        report.stored = stored
        report.problems += problems
        if problems:
            break
    report.acknowledged = len(acknowledged)
    return report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path")
    ap.add_argument("--kills", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--producers", type=int, default=8)
    ap.add_argument("--synchronous", default="NORMAL")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:  # pragma: no cover - the child's side: SIGKILLed, so never recorded
        asyncio.run(_append_forever(a.path, a.producers, a.synchronous))
        return 0
    t = time.perf_counter()
    r = crash_loop(Path(a.path), a.kills, a.seed, a.producers, a.synchronous)
    print(f"kills={r.kills} acknowledged={r.acknowledged} stored={r.stored} "
          f"elapsed={time.perf_counter() - t:.1f}s problems={r.problems or 'none'}")
    return 1 if r.problems else 0


if __name__ == "__main__":  # pragma: no cover - the child (SIGKILLed) and hand runs only
    sys.exit(main())

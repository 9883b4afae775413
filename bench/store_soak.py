"""Crash soak of the event store: SIGKILL a durable appender at random moments, many times.

    .venv/bin/python bench/store_soak.py [--kills 500] [--synchronous FULL]

After every kill the store must open, pass PRAGMA integrity_check, and hold every seq the
child printed as durable, with seqs unique, increasing and gap-free. (The suite runs the same
check 50 times; this runs it as long as you like.)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from quantai_tui.store.crashcheck import crash_loop


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=500)
    ap.add_argument("--synchronous", default="NORMAL")
    ap.add_argument("--producers", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        r = crash_loop(Path(d) / "soak.sqlite", a.kills, a.seed, a.producers, a.synchronous, max_run_s=0.5)
        dt = time.perf_counter() - t
    print(f"# bench/store_soak.py  kills={r.kills} synchronous={a.synchronous}")
    print(f"acknowledged events {r.acknowledged:,}, stored {r.stored:,}, {dt:.0f} s")
    print("problems: " + ("; ".join(r.problems) if r.problems else "none"))
    return 1 if r.problems else 0


if __name__ == "__main__":
    sys.exit(main())

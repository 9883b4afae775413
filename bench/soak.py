"""Soak test of headless mode: `quantai headless` on the sim exchange with a trading strategy,
watched from outside for a long time.

    .venv/bin/python bench/soak.py [--minutes 30] [--rate 200] [--strategy bench/soak_strategy.py]
                                   [--param k=v ...] [--sample-s 10] [--warmup-minutes 5] [--json FILE]

Reports:
- memory: RSS of the engine process (/proc/PID/status, every --sample-s), and its growth per
  hour as the least-squares slope after the warm-up; a slope above --leak-mb-per-hour flags a
  leak (with less than 10 minutes after the warm-up the verdict is "inconclusive");
- event-loop lag: lateness of a 100 ms timer inside the engine (quantai_event_loop_lag_seconds
  on its metrics endpoint): p50/p99 over the whole run from the histogram, the worst one-minute
  p99 (quantai_event_loop_lag_p99_seconds, sampled) and the maximum;
- store: size of events.sqlite (+ WAL) and bytes per event; events, orders and fills per hour;
- CPU: the engine's CPU time over the run;
- integrity: exit code 0, printed seqs gap-free, the last printed line EngineStopped and the
  store's last seq.
Runs in a fresh QUANTAI_HOME (a temporary directory; --keep keeps it). Exit code 1 on a leak
or an integrity problem.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
STRATEGY = str(REPO / "bench" / "soak_strategy.py")


@dataclass
class Sample:
    t_s: float
    rss_mb: float
    cpu_s: float
    store_mb: float
    lag_p99_1m_ms: float
    events: int


@dataclass
class Stream:
    """The engine's stdout, read by a thread: counts only (nothing kept per event)."""

    types: Counter[str] = field(default_factory=Counter)
    lines: int = 0
    first_seq: int = 0
    last_seq: int = 0
    last_type: str = ""
    gaps: int = 0
    junk: int = 0

    def read(self, pipe: object) -> None:
        for raw in pipe:  # type: ignore[attr-defined]
            try:
                rec = json.loads(raw)
                seq, kind = int(rec["seq"]), str(rec["type"])
            except (ValueError, KeyError, TypeError):
                self.junk += 1
                continue
            if self.lines and seq != self.last_seq + 1:
                self.gaps += 1
            if not self.lines:
                self.first_seq = seq
            self.lines += 1
            self.last_seq, self.last_type = seq, kind
            self.types[kind] += 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def store_mb(data_dir: Path) -> float:
    return sum(p.stat().st_size for p in data_dir.glob("events.sqlite*") if p.is_file()) / 1e6


def scrape(port: int) -> dict[str, float]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return {}
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def histogram_quantile(m: dict[str, float], name: str, q: float) -> float:
    """Prometheus-style quantile from cumulative buckets (linear within a bucket)."""
    buckets = sorted((float(k.split('le="')[1].rstrip('"}')), v) for k, v in m.items()
                     if k.startswith(name + "_bucket{") and "+Inf" not in k)
    total = m.get(name + "_count", 0.0)
    if not total:
        return float("nan")
    rank = q * total
    lo_bound, lo_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            span = count - lo_count
            return lo_bound + (bound - lo_bound) * ((rank - lo_count) / span if span else 1.0)
        lo_bound, lo_count = bound, count
    return buckets[-1][0] if buckets else float("nan")  # beyond the last finite bucket


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) in MB per hour."""
    n = len(points)
    if n < 3:
        return float("nan")
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    var = sum((t - mx) ** 2 for t, _ in points)
    if not var:
        return float("nan")
    return sum((t - mx) * (v - my) for t, v in points) / var * 3600


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0, help="how long the engine runs (default 30)")
    ap.add_argument("--rate", type=float, default=200.0, help="sim messages per second per symbol (default 200)")
    ap.add_argument("--symbol", default="BTC/USDT")
    ap.add_argument("--strategy", default=STRATEGY,
                    help="any --strategy spec (default bench/soak_strategy.py); 'none': market data only")
    ap.add_argument("--param", action="append", default=[], metavar="K=V")
    ap.add_argument("--sample-s", type=float, default=10.0, help="seconds between samples (default 10)")
    ap.add_argument("--warmup-minutes", type=float, default=None, help="left out of the slope (default: min(5, 20%%))")
    ap.add_argument("--leak-mb-per-hour", type=float, default=5.0, help="RSS slope that counts as a leak (default 5)")
    ap.add_argument("--json", help="also write the figures (and the samples) to this file")
    ap.add_argument("--keep", action="store_true", help="keep the temporary QUANTAI_HOME")
    a = ap.parse_args()
    warmup_s = 60 * (a.warmup_minutes if a.warmup_minutes is not None else min(5.0, a.minutes * 0.2))
    home = Path(tempfile.mkdtemp(prefix="quantai-soak-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTAI_")}
    env.update(QUANTAI_HOME=str(home), QUANTAI_SIM__RATE=str(a.rate), QUANTAI_HEADLESS__STATUS_INTERVAL_S="300")
    cmd = [sys.executable, "-m", "quantai_tui", "headless", "--exchange", "sim", "--symbol", a.symbol,
           "--mode", "paper", "--metrics-port", str(port), "--duration", f"{a.minutes * 60:g}s"]
    if a.strategy != "none":
        cmd += ["--strategy", a.strategy]
    for p in a.param:
        cmd += ["--param", p]
    print(f"# bench/soak.py  {a.minutes:g} min, sim {a.rate:g} msg/s, {Path(a.strategy).name} "
          f"{' '.join(a.param)}  ({machine()})", flush=True)
    err = (home / "stderr.log").open("wb")
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
    stream = Stream()
    reader = threading.Thread(target=stream.read, args=(proc.stdout,), daemon=True)
    reader.start()
    samples: list[Sample] = []
    t0 = time.monotonic()
    next_print = 0.0
    last: dict[str, float] = {}
    try:
        while proc.poll() is None:
            time.sleep(a.sample_s)
            if proc.poll() is not None:
                break
            m = scrape(port)
            if m:
                last = m
            try:
                s = Sample(time.monotonic() - t0, rss_mb(proc.pid), cpu_s(proc.pid), store_mb(home / "data"),
                           1000 * m.get("quantai_event_loop_lag_p99_seconds", float("nan")), stream.lines)
            except (OSError, IndexError, ValueError):
                break  # it exited between poll() and the read
            samples.append(s)
            if s.t_s >= next_print:
                next_print = s.t_s + 300
                print(f"  {s.t_s / 60:6.1f} min  RSS {s.rss_mb:7.1f} MB  store {s.store_mb:7.2f} MB  "
                      f"events {s.events:>9,}  lag p99(1m) {s.lag_p99_1m_ms:6.2f} ms", flush=True)
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGTERM)
    rc = proc.wait()
    reader.join(30)
    err.close()
    wall = time.monotonic() - t0
    return report(a, samples, stream, last, rc, wall, warmup_s, home)


def report(a: argparse.Namespace, samples: list[Sample], stream: Stream, m: dict[str, float], rc: int,
           wall: float, warmup_s: float, home: Path) -> int:
    from quantai_tui.store.sqlite import read_events

    after = [(s.t_s, s.rss_mb) for s in samples if s.t_s >= warmup_s]
    slope = slope_per_hour(after)
    span_min = (after[-1][0] - after[0][0]) / 60 if len(after) > 1 else 0.0
    stored_last = 0
    for seq, _ev in read_events(home / "data" / "events.sqlite"):
        stored_last = seq
    store_final = store_mb(home / "data")
    hours = max(wall, 1.0) / 3600
    lag_p99 = 1000 * histogram_quantile(m, "quantai_event_loop_lag_seconds", 0.99)
    lag_p50 = 1000 * histogram_quantile(m, "quantai_event_loop_lag_seconds", 0.50)
    worst_1m = max((s.lag_p99_1m_ms for s in samples if s.lag_p99_1m_ms == s.lag_p99_1m_ms), default=float("nan"))
    problems = []
    if rc != 0:
        problems.append(f"exit code {rc}")
    if stream.gaps or stream.junk:
        problems.append(f"{stream.gaps} gap(s) and {stream.junk} non-JSON line(s) on stdout")
    if stream.last_type != "EngineStopped":
        problems.append(f"last line was {stream.last_type or 'nothing'}, not EngineStopped")
    if stored_last != stream.last_seq:
        problems.append(f"store ends at seq {stored_last}, stdout at {stream.last_seq}")
    if span_min < 10:
        verdict = "inconclusive (under 10 minutes after the warm-up)"
        leak = False
    else:
        leak = slope > a.leak_mb_per_hour
        verdict = f"LEAK (slope above {a.leak_mb_per_hour:g} MB/h)" if leak else f"no leak (threshold {a.leak_mb_per_hour:g} MB/h)"
    t = stream.types
    fig = {
        "minutes": round(wall / 60, 2), "sim_rate": a.rate, "strategy": Path(a.strategy).name, "params": a.param,
        "rss_mb_start": round(samples[0].rss_mb, 1) if samples else None,
        "rss_mb_after_warmup": round(after[0][1], 1) if after else None,
        "rss_mb_end": round(samples[-1].rss_mb, 1) if samples else None,
        "rss_mb_max": round(max(s.rss_mb for s in samples), 1) if samples else None,
        "rss_growth_mb_per_hour": round(slope, 2), "leak": leak, "verdict": verdict,
        "loop_lag_p50_ms": round(lag_p50, 3), "loop_lag_p99_ms": round(lag_p99, 3),
        "loop_lag_worst_1m_p99_ms": round(worst_1m, 3),
        "loop_lag_max_ms": round(1000 * m.get("quantai_event_loop_lag_max_seconds", float("nan")), 2),
        "store_mb": round(store_final, 2), "events": stream.lines,
        "store_bytes_per_event": round(store_final * 1e6 / stream.lines, 1) if stream.lines else None,
        "events_per_hour": round(stream.lines / hours), "orders": t["OrderSubmitted"], "fills": t["OrderFilled"],
        "orders_per_hour": round(t["OrderSubmitted"] / hours), "cpu_s": round(samples[-1].cpu_s, 1) if samples else None,
        "cpu_pct": round(100 * samples[-1].cpu_s / samples[-1].t_s, 1) if samples else None,
        "market_messages": int(sum(v for k, v in m.items() if k.startswith("quantai_market_messages_total"))),
        "exit_code": rc, "problems": problems,
    }
    print(f"RSS: start {fig['rss_mb_start']} MB, after warm-up {fig['rss_mb_after_warmup']} MB, end "
          f"{fig['rss_mb_end']} MB, max {fig['rss_mb_max']} MB")
    print(f"RSS growth after {warmup_s / 60:g} min warm-up: {slope:+.2f} MB/hour over {span_min:.0f} min -> {verdict}")
    print(f"event-loop lag (100 ms timer lateness): p50 {lag_p50:.2f} ms, p99 {lag_p99:.2f} ms, worst 1-min p99 "
          f"{worst_1m:.2f} ms, max {fig['loop_lag_max_ms']} ms")
    print(f"store: {store_final:.2f} MB for {stream.lines:,} events ({fig['store_bytes_per_event']} B/event), "
          f"{fig['events_per_hour']:,} events/h, {t['OrderSubmitted']:,} orders ({fig['orders_per_hour']:,}/h), "
          f"{t['OrderFilled']:,} fills")
    print(f"market data: {fig['market_messages']:,} messages; CPU {fig['cpu_s']} s ({fig['cpu_pct']}% of one core)")
    print("integrity: " + ("; ".join(problems) if problems else "exit 0, stdout gap-free, ends with EngineStopped, "
                           "store and stdout agree on the last seq"))
    if a.json:
        Path(a.json).write_text(json.dumps({**fig, "samples": [s.__dict__ for s in samples]}, indent=1))
    if a.keep:
        print(f"kept {home}")
    else:
        shutil.rmtree(home, ignore_errors=True)
    return 1 if leak or problems else 0


if __name__ == "__main__":
    sys.exit(main())

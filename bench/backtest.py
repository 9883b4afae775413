"""Backtest replay speed: 1,000,000 synthetic trade ticks, 20/100 SMA crossover (~14,000 orders).

    .venv/bin/python bench/backtest.py [--ticks 1000000] [--write]

Measured in one run, so the ratios hold even when the machine's speed drifts:
1. a toy pure-Python event loop (slotted event, dict bus, strategy, fill, portfolio) - the yardstick;
2. the full engine: Parquet read in batches, TradeTick.make, synchronous bus, venue fill check,
   `async def on_tick` driven without an event loop, streaming SMAs, and on a cross: order ->
   checks -> OMS events -> fill -> exact ledger;
3. the cost per order: the same replay with a strategy that trades every k ticks, for three k
   (orders x10, x100): (time - time without orders) / orders must stay flat;
4. the columnar sweep path per parameter set (same data, same fills as 2): fills, ledger and
   metrics computed in columns, and, for comparison, every order through the kernel.
--write replaces the "## Backtest" section of BENCHMARKS.md with the figures.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from quantai_tui.core.events import TradeTick  # noqa: E402
from quantai_tui.engine.strategy import Param, Strategy  # noqa: E402


def make_ticks(path: Path, n: int, seed: int = 42) -> None:
    """A deterministic, realistic-looking tape: ~100 trades/s, a random-walk price on a 0.01
    tick around 30,000 with volatility clusters, log-normal sizes, random aggressor sides."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    gaps = rng.exponential(10_000_000, n).astype(np.int64) + 1  # ns, mean 10 ms
    ts = 1_767_225_600_000_000_000 + np.cumsum(gaps)
    vol = np.repeat(rng.choice([0.6, 1.0, 2.5], size=n // 5000 + 1, p=[0.4, 0.45, 0.15]), 5000)[:n]
    steps = rng.standard_t(4, n) * 0.00004 * vol
    price = np.round(30_000 * np.exp(np.cumsum(steps)), 2)
    size = np.round(rng.lognormal(-4.5, 1.2, n), 6) + 0.000001
    side = np.where(rng.random(n) < 0.5, "buy", "sell")
    table = pa.table({"timestamp": pa.array(ts, pa.int64()), "price": price, "quantity": size, "side": side})
    pq.write_table(table, path, row_group_size=131_072)


# --- 1. the toy loop -------------------------------------------------------------------------------
class _Tick:
    __slots__ = ("symbol", "price", "size", "ts")

    def __init__(self, symbol: str, price: float, size: float, ts: int) -> None:
        self.symbol = symbol
        self.price = price
        self.size = size
        self.ts = ts


def toy_loop(ts: list[int], px: list[float], sz: list[float]) -> tuple[float, int]:
    """Slotted event, dict bus, SMA strategy, next-tick fill, float portfolio."""
    bus: dict[str, list] = {}
    state = {"cash": 1_000_000.0, "pos": 0.0, "pending": 0.0, "orders": 0}
    f_buf, s_buf = [0.0] * 20, [0.0] * 100
    sums = [0.0, 0.0, 0, None]

    def fill(t: _Tick) -> None:
        q = state["pending"]
        if q:
            state["pos"] += q
            state["cash"] -= q * t.price * 1.001 if q > 0 else q * t.price * 0.999
            state["pending"] = 0.0

    def strategy(t: _Tick) -> None:
        i = sums[2]
        sums[0] += t.price - f_buf[i % 20]
        f_buf[i % 20] = t.price
        sums[1] += t.price - s_buf[i % 100]
        s_buf[i % 100] = t.price
        sums[2] = i + 1
        if i < 100:
            return
        up = sums[0] / 20 > sums[1] / 100
        if sums[3] is not None and up != sums[3]:
            if up and state["pos"] == 0:
                state["pending"] = 0.01
                state["orders"] += 1
            elif not up and state["pos"] > 0:
                state["pending"] = -state["pos"]
                state["orders"] += 1
        sums[3] = up

    bus["trades.BTC/USDT"] = [fill, strategy]
    t0 = time.perf_counter()
    for t, p, s in zip(ts, px, sz):
        ev = _Tick("BTC/USDT", p, s, t)
        for h in bus["trades.BTC/USDT"]:
            h(ev)
    return time.perf_counter() - t0, state["orders"]


# --- 3. a strategy that trades every k ticks (order cost) -------------------------------------------
class EveryK(Strategy):
    name = "every_k"
    k = Param(1000, "ticks between orders", min=1)

    async def on_start(self) -> None:
        self._n = 0
        self._q = self.instrument().make_qty("0.01")

    async def on_tick(self, tick: TradeTick) -> None:
        self._n += 1
        if self._n % self.k == 0:
            if self.position() > 0:
                await self.sell(self._q)
            else:
                await self.buy(self._q)


class NoOrders(Strategy):
    name = "no_orders"

    async def on_tick(self, tick: TradeTick) -> None:
        pass


def timed(fn, repeat: int = 1):  # type: ignore[no-untyped-def]
    best = None
    out = None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ticks", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--write", action="store_true", help="update the ## Backtest section of BENCHMARKS.md")
    a = ap.parse_args()
    import pyarrow.parquet as pq

    from quantai_tui.backtest.api import infer_instrument, resolve_data, resolve_strategy, run_backtest
    from quantai_tui.backtest.columnar import load_columns, run_columnar

    n = a.ticks
    lines: list[str] = []
    load0 = os.getloadavg()[0]

    def say(s: str) -> None:
        print(s, flush=True)
        lines.append(s)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench_BTC_USDT-trades.parquet"
        make_ticks(path, n)
        tbl = pq.read_table(path)
        ts, px, sz = (tbl.column(c).to_pylist() for c in ("timestamp", "price", "quantity"))
        del tbl
        toy_runs = [toy_loop(ts, px, sz) for _ in range(a.repeat)]
        toy_s, toy_orders = min(r[0] for r in toy_runs), toy_runs[0][1]
        del ts, px, sz
        params = {"fast": 20, "slow": 100, "qty": "0.01"}
        kw = {"initial_capital": 1_000_000, "fee_bps": 10}
        run_backtest("ma_crossover", path, params, **kw)  # warm caches (imports, strategy module)
        eng_s, res = timed(lambda: run_backtest("ma_crossover", path, params, **kw), a.repeat)
        rate = n / eng_s
        toy_rate = n / toy_s
        say(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
            f"load average (1 min) at the start {load0:.2f}")
        say(f"ticks: {n:,} synthetic trades (bench/backtest.py make_ticks, seed 42)")
        say("")
        say("| what | time | ticks/s | orders |")
        say("| --- | --- | --- | --- |")
        say(f"| toy pure-Python loop (slotted event, dict bus, strategy, fill, portfolio) | {toy_s:.3f} s | {toy_rate:,.0f} | {toy_orders:,} |")
        say(f"| full engine, 20/100 SMA crossover (Parquet read, events, bus, venue, strategy, orders, ledger) | {eng_s:.3f} s | {rate:,.0f} | {res.orders:,} |")
        say(f"| ratio engine / toy | | {rate / toy_rate:.2f} (goal >= 0.30) | |")
        # order cost
        floor_s, _ = timed(lambda: run_backtest(NoOrders, path, **kw), a.repeat)
        say(f"| engine, strategy that never orders (replay floor) | {floor_s:.3f} s | {n / floor_s:,.0f} | 0 |")
        # the order-cost baseline is the same strategy with k beyond the data: no orders
        base_s, _ = timed(lambda: run_backtest(EveryK, path, {"k": n + 1}, **kw), a.repeat)
        say("")
        say("cost per order (the same replay with a strategy trading every k ticks):")
        say("")
        say("| orders | time | order handling | per order |")
        say("| --- | --- | --- | --- |")
        per = []
        for k in (1000, 100, 10):
            t, r = timed(lambda k=k: run_backtest(EveryK, path, {"k": k}, **kw), 1)
            per_order = (t - base_s) / r.orders
            per.append(per_order)
            say(f"| {r.orders:,} | {t:.3f} s | {t - base_s:.3f} s | {per_order * 1e6:.1f} µs |")
        say("")
        say(f"per-order cost at x100 the orders / at x1: {per[-1] / per[0]:.2f} (flat: <= 1)")
        # columnar
        src = resolve_data(path)[0]
        inst = infer_instrument(src)
        load_t0 = time.perf_counter()
        load_columns(src)
        load_s = time.perf_counter() - load_t0

        def col(p: dict[str, str] = params, direct: bool = True) -> object:
            return run_columnar(resolve_strategy("ma_crossover", p), src, inst, initial_capital=Decimal(1_000_000),
                                fee_bps=Decimal(10), direct=direct)

        def col_records() -> object:
            r = col()
            list(r.fills)  # type: ignore[attr-defined]  # every FillRecord made (Decimals, order ids)
            return r

        col_s, cres = timed(col, max(a.repeat, 3))
        rec_s, _ = timed(col_records, max(a.repeat, 3))
        kern_s, kres = timed(lambda: col(direct=False), 1)

        def key(r: object) -> list[tuple[object, ...]]:
            return [(f.ts, f.side, f.qty, f.price, f.fee, f.client_order_id) for f in r.fills]  # type: ignore[attr-defined]

        same = key(cres) == key(res) and cres.final_equity == res.final_equity and cres.metrics == res.metrics  # type: ignore[attr-defined]
        same_k = key(kres) == key(res)
        from quantai_tui.backtest.columnar import sma_cross_signals

        cols = load_columns(src)
        sig_s, _ = timed(lambda: sma_cross_signals(cols.price, 20, 100), max(a.repeat, 3))
        few = {"fast": 200, "slow": 1000, "qty": "0.01"}
        few_s, fres = timed(lambda: col(few), max(a.repeat, 3))
        say("")
        say("columnar sweep path (columns loaded once per worker: "
            f"{load_s:.3f} s), per parameter set:")
        say("")
        say("| what | time | ticks/s | orders |")
        say("| --- | --- | --- | --- |")
        say(f"| signals only (SMA 20/100 crossings over the price column) | {sig_s:.4f} s | {n / sig_s:,.0f} | |")
        say(f"| 20/100 end to end, fills, ledger and metrics in columns (fills, equity and metrics identical "
            f"to the event path: {same}) | {col_s:.4f} s | {n / col_s:,.0f} | {cres.orders:,} |")  # type: ignore[attr-defined]
        say(f"| the same, every FillRecord built too (Decimals, client order ids) | {rec_s:.4f} s | {n / rec_s:,.0f} "
            f"| {cres.orders:,} |")  # type: ignore[attr-defined]
        say(f"| 200/1000 end to end | {few_s:.4f} s | {n / few_s:,.0f} | {fres.orders:,} |")  # type: ignore[attr-defined]
        say(f"| 20/100, every order through the kernel (the fallback when a check could deny; fills identical: "
            f"{same_k}) | {kern_s:.3f} s | {n / kern_s:,.0f} | {kres.orders:,} |")  # type: ignore[attr-defined]
    say("")
    say(f"load average (1 min) at the end: {os.getloadavg()[0]:.2f}")
    if a.write:
        _write(lines)


def _write(lines: list[str]) -> None:
    p = ROOT / "BENCHMARKS.md"
    text = p.read_text(encoding="utf-8") if p.exists() else "# Benchmarks\n"
    section = "## Backtest\n\n`.venv/bin/python bench/backtest.py` (" + time.strftime("%Y-%m-%d") + ")\n\n" + "\n".join(lines) + "\n"
    start = text.find("## Backtest")
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 5)
        text = text[:start] + section + (text[end + 1:] if end != -1 else "")
    p.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()

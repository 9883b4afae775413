"""TUI under load: the real app and kernel on the sim exchange fed at 10,000 messages/s.

    .venv/bin/python bench/tui.py [--rate 10000] [--seconds 10] [--kills 10] [--orders 20] [--json FILE]

Runs QuantAIApp headless (Textual's test driver, 160x48) on a Kernel in PAPER mode on `sim`,
in a fresh QUANTAI_HOME, with the sim feed at --rate messages per second in total. Reports:
- feed: messages/s the sim actually published while the UI ran (the engine never waits for
  the UI: this should be the requested rate);
- frames/s: book and chart frames the bridge posted, and redraws of the Order Book and chart
  widgets (both capped by TuiSettings.max_fps = 20);
- coalescing: book updates folded into frames (bus subscriber counters);
- kill key: ctrl+k pressed through the app's key handling (Pilot) with --orders resting
  orders open, --kills times: latency to KillSwitchEngaged on the bus, to every order
  canceled (open orders 0), and to the banner shown. The target is < 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import machine, percentile  # noqa: E402


async def run(args: argparse.Namespace) -> dict[str, object]:
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    from textual import events

    from quantai_tui.core.commands import ReleaseKillSwitch, SubmitOrder
    from quantai_tui.core.enums import OrderSide, OrderType, TradingMode
    from quantai_tui.core.events import KillSwitchEngaged, OrderCanceled
    from quantai_tui.engine.kernel import Kernel, KernelConfig
    from quantai_tui.paths import Paths
    from quantai_tui.settings.schema import Settings, TuiSettings
    from quantai_tui.tui.app import AppOptions, QuantAIApp
    from quantai_tui.tui.kernel_adapter import KernelFacade
    from quantai_tui.tui.widgets.chart import PriceChart
    from quantai_tui.tui.widgets.kill_banner import KillBanner
    from quantai_tui.tui.widgets.order_book import OrderBookLadder

    symbols = ["BTC/USDT", "ETH/USDT"]
    settings = Settings()
    # --rate counts bus messages (book deltas, trades, quotes, bars); the sim's rate counts market
    # steps per symbol, and one step publishes ~1.7 messages: calibrate on the generator itself
    from quantai_tui.connectors.sim import SimMarket

    sample = SimMarket(settings.sim.seed, symbols, rate=1000.0).generate(20_000)
    span_s = (sample[-1][1].ts_event - sample[0][1].ts_event) / 1e9
    per_step = len(sample) / (span_s * 1000.0 * len(symbols))
    settings.sim.rate = args.sim_rate = args.rate / per_step / len(symbols)
    settings.risk.max_open_orders = 10_000
    settings.risk.max_orders_per_second = 0
    kernel = Kernel(settings, KernelConfig(mode=TradingMode.PAPER, venues=["sim"], symbols=symbols),
                    paths=Paths("bench"))
    facade = KernelFacade(kernel, threaded=not args.same_loop)
    app = QuantAIApp(facade, AppOptions(tui=TuiSettings(max_fps=args.max_fps)))
    engaged_at: list[float] = []
    kernel.bus.subscribe("risk", lambda _e: engaged_at.append(time.perf_counter()), types=KillSwitchEngaged)
    out: dict[str, object] = {"machine": machine(), "rate_requested": args.rate, "max_fps": args.max_fps,
                              "sim_steps_per_s_per_symbol": round(settings.sim.rate)}
    async with app.run_test(size=(160, 48)) as pilot:
        while not app.engine_ready:
            await asyncio.sleep(0.05)
        md = kernel.market_data["sim"]
        await asyncio.sleep(1.0)  # warm-up
        book, chart = app.screen.query_one(OrderBookLadder), app.screen.query_one(PriceChart)
        p0, f0, r0, c0 = md.published, dict(app.bridge.frames), book.renders, chart.renders
        lags: list[float] = []

        async def ticker() -> None:  # event-loop lag: lateness of a 10 ms sleep
            while True:
                t = time.perf_counter()
                await asyncio.sleep(0.01)
                lags.append((time.perf_counter() - t - 0.01) * 1000)

        tick = asyncio.get_running_loop().create_task(ticker())
        t0, cpu0 = time.perf_counter(), time.process_time()
        await asyncio.sleep(args.seconds)
        dt = time.perf_counter() - t0
        out["cpu_s_per_s"] = round((time.process_time() - cpu0) / dt, 2)
        tick.cancel()
        lags.sort()
        out["loop_lag_ms"] = {"p50": round(percentile(lags, 50), 1), "p99": round(percentile(lags, 99), 1),
                              "max": round(lags[-1], 1)}
        out["feed_msgs_per_s"] = round((md.published - p0) / dt)
        out["book_frames_per_s"] = round((app.bridge.frames["book"] - f0["book"]) / dt, 1)
        out["chart_frames_per_s"] = round((app.bridge.frames["chart"] - f0["chart"]) / dt, 1)
        out["book_redraws_per_s"] = round((book.renders - r0) / dt, 1)
        out["chart_redraws_per_s"] = round((chart.renders - c0) / dt, 1)
        sub = next(s for s in app.bridge._subs if s.name == "tui.book")
        out["book_updates_coalesced"] = sub.coalesced
        out["book_frames_delivered"] = sub.delivered

        engage_ms, cancel_ms, banner_ms, action_ms, halted_ms = [], [], [], [], []
        orig = app.bridge._kill
        action_at: list[float] = []

        async def traced(reason: str, source: str) -> None:  # on the engine's loop
            action_at.append(time.perf_counter())
            await orig(reason, source)

        app.bridge._kill = traced  # type: ignore[method-assign]
        canceled_at: list[float] = []
        kernel.bus.subscribe("orders.>", lambda _e: canceled_at.append(time.perf_counter()), types=OrderCanceled)
        for _ in range(args.kills):
            mid = kernel.cache.mid("sim", "BTC/USDT") or 60_000.0
            inst = kernel.cache.find_instrument("sim", "BTC/USDT")
            assert inst is not None
            for i in range(args.orders):  # resting bids below the market
                px = inst.make_price(Decimal(repr(mid)) * Decimal("0.97") - i)
                await facade.execute(SubmitOrder("sim", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT,
                                                 inst.make_qty("0.001"), px))
            await asyncio.sleep(args.settle)  # steady state: the feed is the load, not our own orders
            open_now = kernel.oms.open_count
            banner = app.screen.query_one(KillBanner)
            engaged_at.clear()
            canceled_at.clear()
            hook = getattr(__import__("builtins"), "TRACE_HOOK", None)  # bench debugging
            if hook:
                hook(True)
            t = time.perf_counter()
            # the key as the terminal's input thread delivers it to the driver (Pilot.press would
            # then wait for the process to go idle, which it never does under this feed)
            threading.Thread(target=app._driver.process_message,  # type: ignore[union-attr]
                             args=(events.Key("ctrl+k", None),), name="input").start()
            while len(canceled_at) < open_now or not banner.has_class("-engaged"):
                await asyncio.sleep(0.002)  # poll gently: a spinning loop would steal the engine's turns
            banner_ms.append((time.perf_counter() - t) * 1000)
            engage_ms.append((engaged_at[0] - t) * 1000)
            cancel_ms.append((canceled_at[open_now - 1] - t) * 1000)
            action_ms.append((action_at[-1] - t) * 1000)
            halted_ms.append(kernel.kill_switch.last_report.halted_ms if kernel.kill_switch.last_report else -1)
            if hook:
                hook(False)
            await facade.execute(ReleaseKillSwitch("bench", "bench"))
            app.main_screen.show_kill(False)  # type: ignore[union-attr]
            await asyncio.sleep(0.3)
        for name, vals in (("key_to_engine_ms", action_ms), ("engine_halted_durable_ms", halted_ms),
                           ("kill_to_engaged_ms", engage_ms), ("kill_to_all_canceled_ms", cancel_ms),
                           ("kill_to_banner_ms", banner_ms)):
            s = sorted(vals)
            out[name] = {"p50": round(percentile(s, 50), 2), "p90": round(percentile(s, 90), 2),
                         "max": round(s[-1], 2)}
        await app.stop_engine()
        app.exit(0)
    return out


async def run_without_ui(args: argparse.Namespace) -> dict[str, object]:
    """The same kernel, feed and kill, with no UI at all: the engine's own share of the latency."""
    from quantai_tui.core.commands import EngageKillSwitch, ReleaseKillSwitch, SubmitOrder
    from quantai_tui.core.enums import OrderSide, OrderType, TradingMode
    from quantai_tui.core.events import KillSwitchEngaged, OrderCanceled
    from quantai_tui.engine.kernel import Kernel, KernelConfig
    from quantai_tui.paths import Paths
    from quantai_tui.settings.schema import Settings

    symbols = ["BTC/USDT", "ETH/USDT"]
    settings = Settings()
    settings.sim.rate = args.sim_rate
    settings.risk.max_open_orders = 10_000
    settings.risk.max_orders_per_second = 0
    kernel = Kernel(settings, KernelConfig(mode=TradingMode.PAPER, venues=["sim"], symbols=symbols),
                    paths=Paths("bench-no-ui"))
    await kernel.start()
    await asyncio.sleep(1.0)
    engaged_at: list[float] = []
    canceled_at: list[float] = []
    kernel.bus.subscribe("risk", lambda _e: engaged_at.append(time.perf_counter()), types=KillSwitchEngaged)
    kernel.bus.subscribe("orders.>", lambda _e: canceled_at.append(time.perf_counter()), types=OrderCanceled)
    engage_ms, cancel_ms = [], []
    for _ in range(args.kills):
        mid = kernel.cache.mid("sim", "BTC/USDT") or 60_000.0
        inst = kernel.cache.find_instrument("sim", "BTC/USDT")
        assert inst is not None
        for i in range(args.orders):
            await kernel.execute(SubmitOrder("sim", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, inst.make_qty("0.001"),
                                             inst.make_price(Decimal(repr(mid)) * Decimal("0.97") - i)))
        await asyncio.sleep(args.settle)
        n = kernel.oms.open_count
        engaged_at.clear()
        canceled_at.clear()
        t = time.perf_counter()
        await kernel.execute(EngageKillSwitch("bench", "bench"))
        while len(canceled_at) < n:
            await asyncio.sleep(0.002)
        engage_ms.append((engaged_at[0] - t) * 1000)
        cancel_ms.append((canceled_at[n - 1] - t) * 1000)
        await kernel.execute(ReleaseKillSwitch("bench", "bench"))
        await asyncio.sleep(0.3)
    await kernel.stop()
    out: dict[str, object] = {}
    for name, vals in (("no_ui_kill_to_engaged_ms", engage_ms), ("no_ui_kill_to_all_canceled_ms", cancel_ms)):
        s_ = sorted(vals)
        out[name] = {"p50": round(percentile(s_, 50), 2), "p90": round(percentile(s_, 90), 2),
                     "max": round(s_[-1], 2)}
    return out


def startup(runs: int) -> dict[str, object]:
    """`quantai` with a fresh HOME in tmux (160x48): seconds until the panes are drawn and until
    the order book shows live data. Skipped without tmux."""
    import shutil
    import subprocess
    import uuid

    if shutil.which("tmux") is None:
        return {"startup": "skipped (no tmux)"}
    exe = Path(sys.executable).parent / "quantai"
    panes, live = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="quantai-bench-home-") as home:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("QUANTAI_", "XDG_", "TMUX"))}
            env.update(HOME=home, TERM="xterm-256color")
            server = f"qa-bench-{uuid.uuid4().hex[:8]}"
            t0 = time.monotonic()
            subprocess.run(["tmux", "-L", server, "-f", "/dev/null", "new-session", "-d", "-s", "S", "-x", "160",
                            "-y", "48", f"{exe}; sleep 30"], env=env, check=True)
            try:
                seen_panes = None
                while time.monotonic() - t0 < 30:
                    text = subprocess.run(["tmux", "-L", server, "capture-pane", "-p", "-t", "S"], env=env,
                                          capture_output=True, text=True).stdout
                    if seen_panes is None and "Order Book" in text:
                        seen_panes = time.monotonic() - t0
                    if " last " in text and "connected" in text:
                        live.append(time.monotonic() - t0)
                        panes.append(seen_panes or live[-1])
                        break
                    time.sleep(0.02)
            finally:
                subprocess.run(["tmux", "-L", server, "kill-server"], env=env, capture_output=True)
    return {"startup_panes_s": round(sorted(panes)[len(panes) // 2], 2) if panes else None,
            "startup_live_s": round(sorted(live)[len(live) // 2], 2) if live else None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=10_000, help="sim messages per second, all symbols")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--orders", type=int, default=20, help="resting orders open at each kill")
    ap.add_argument("--max-fps", type=float, default=20.0)
    ap.add_argument("--settle", type=float, default=1.0, help="seconds between placing the orders and the kill")
    ap.add_argument("--switch-interval", type=float, default=0.0, help="sys.setswitchinterval (0: leave it)")
    ap.add_argument("--same-loop", action="store_true", help="run the engine on the UI loop (to compare)")
    ap.add_argument("--compare-no-ui", action=argparse.BooleanOptionalAction, default=True,
                    help="also time the same kill with no UI (the engine's own share)")
    ap.add_argument("--startup-runs", type=int, default=3, help="fresh-HOME starts of quantai in tmux (0: skip)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="quantai-bench-tui-") as home:
        os.environ["QUANTAI_HOME"] = home
        out = asyncio.run(run(args))
        if args.compare_no_ui:
            out.update(asyncio.run(run_without_ui(args)))
    if args.startup_runs:
        out.update(startup(args.startup_runs))
    for k, v in out.items():
        print(f"{k:<28} {v}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

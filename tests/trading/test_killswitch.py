"""The kill switch under load: a loop submitting ~1,000 orders/s and 500 resting orders across
two paper venues (1 ms latency, so some orders are in flight when it fires). HALTED is stored
before any cancel, every open order ends canceled, nothing submitted afterwards reaches a
venue, and HALTED survives a restart. Timings are printed, never asserted (bench/orders.py
records them)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from quantai_tui.core.clock import LiveClock
from quantai_tui.core.commands import EngageKillSwitch, ReleaseKillSwitch, SubmitOrder
from quantai_tui.core.enums import OrderSide, OrderType, TradingState
from quantai_tui.store.sqlite import read_events

from tests.trading.helpers import make_kernel, make_settings, standard_book

VENUES = ("sim", "alt")


def settings():  # noqa: ANN201
    return make_settings(price_band_pct=Decimal("0"), max_orders_per_second=0.0, max_open_orders=0,
                         max_order_notional=Decimal("0"), max_position_notional=Decimal("0"))


async def test_kill_switch_under_load(tmp_path: Path) -> None:
    k = make_kernel(tmp_path, venues=VENUES, symbols=("BTC/USDT",), clock=LiveClock(), settings=settings(),
                    latency_ms=1.0, initial_balances={"USDT": Decimal("10000000")})
    await k.start()
    for v in VENUES:
        standard_book(k, v)
    inst = k.cache.instrument("sim", "BTC/USDT")
    qty = inst.make_qty("0.001")

    def order(i: int) -> SubmitOrder:
        return SubmitOrder(VENUES[i % 2], "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, qty,
                           inst.make_price(40_000 + (i % 500)))

    await asyncio.gather(*(k.execute(order(i)) for i in range(500)))
    for _ in range(500):  # past the 1 ms latency: all resting
        if k.oms.open_count == 500:
            break
        await asyncio.sleep(0.01)
    assert k.oms.open_count == 500
    assert {o.venue for o in k.oms.open_orders()} == set(VENUES)

    running = True
    submitted: list[asyncio.Task] = []

    async def load() -> None:  # ~1,000 orders/s, not waiting for each
        i = 500
        while running:
            submitted.append(asyncio.create_task(k.execute(order(i))))
            i += 1
            await asyncio.sleep(0.001)

    loader = asyncio.create_task(load())
    await asyncio.sleep(0.3)
    t0 = time.perf_counter()
    res = await k.execute(EngageKillSwitch("test under load", "test"))
    t_cmd = time.perf_counter() - t0
    assert res.ok and k.risk.state is TradingState.HALTED
    flat = await k.oms.wait_no_open_orders(timeout=10.0)
    t_zero = time.perf_counter() - t0
    await asyncio.sleep(0.2)  # the loop keeps trying
    running = False
    await loader
    await asyncio.gather(*submitted)
    await asyncio.sleep(0.05)
    report = res.data
    print(f"\nkill switch under load: HALTED durable {report.halted_ms:.2f} ms, swept {report.swept_ms:.2f} ms, "
          f"command {t_cmd * 1000:.2f} ms, zero open orders {t_zero * 1000:.2f} ms, "
          f"{report.orders_to_cancel} to cancel, {len(submitted)} submits in the load loop")
    assert flat and k.oms.open_count == 0
    await k.stop()

    events = list(read_events(tmp_path / "events.sqlite"))
    halted = next(seq for seq, e in events if type(e).__name__ == "TradingStateChanged" and e.state is TradingState.HALTED)
    kill = next(seq for seq, e in events if type(e).__name__ == "KillSwitchEngaged")
    assert kill < halted or halted < kill  # both present
    first_cancel = min(seq for seq, e in events if type(e).__name__ in ("OrderCancelRequested", "OrderCanceled"))
    assert max(kill, halted) < first_cancel, "HALTED must be durable before any cancel"
    after = {e.client_order_id for seq, e in events if type(e).__name__ == "OrderSubmitted" and seq > halted}
    reached = {e.client_order_id for _, e in events if type(e).__name__ in ("OrderAccepted", "OrderFilled")}
    assert not after & reached, "an order submitted after HALTED reached a venue"
    denied_after = [e for seq, e in events if type(e).__name__ == "OrderDenied" and seq > halted]
    assert denied_after and all(e.check == "trading_state" for e in denied_after)
    # every order ends closed
    last: dict[str, str] = {}
    for _, e in events:
        if hasattr(e, "client_order_id") and type(e).__name__.startswith("Order") and type(e).__name__ != "OrderDenied":
            last[e.client_order_id] = type(e).__name__
    assert set(last.values()) <= {"OrderCanceled", "OrderFilled", "OrderRejected", "OrderCancelRejected"}

    # HALTED survives a restart; releasing is explicit
    k2 = make_kernel(tmp_path, venues=VENUES, symbols=("BTC/USDT",), clock=LiveClock(), settings=settings())
    await k2.start()
    assert k2.risk.state is TradingState.HALTED and k2.oms.open_count == 0
    assert not (await k2.execute(order(0))).ok
    assert (await k2.execute(ReleaseKillSwitch("checked", "test"))).ok
    standard_book(k2, "sim")
    assert (await k2.execute(order(0))).ok
    await k2.stop()


async def test_flatten_closes_positions_with_reduce_only_market_orders(tmp_path: Path) -> None:
    k = make_kernel(tmp_path, venues=("sim",), settings=settings())
    await k.start()
    standard_book(k)
    inst = k.cache.instrument("sim", "BTC/USDT")
    res = await k.execute(SubmitOrder("sim", "BTC/USDT", OrderSide.BUY, OrderType.MARKET, inst.make_qty("0.05")))
    assert res.ok and k.portfolio.position_qty("sim", "BTC/USDT") == Decimal("0.05")
    res = await k.execute(EngageKillSwitch("flatten", "test", flatten=True))
    assert len(res.data.flatten_orders) == 1
    flat_order = k.oms.get(res.data.flatten_orders[0])
    assert flat_order.reduce_only and flat_order.order_type is OrderType.MARKET
    assert k.portfolio.position_qty("sim", "BTC/USDT") == 0
    await k.stop()


async def test_quantai_kill_reaches_a_running_engine(tmp_path: Path) -> None:
    from quantai_tui.paths import Paths

    paths = Paths()
    k = make_kernel(tmp_path, venues=("sim",), settings=settings(), clock=LiveClock(), control_socket=True)
    k.paths = paths
    await k.start()
    assert paths.control_socket.exists()
    assert oct(paths.control_socket.stat().st_mode & 0o777) == "0o600"
    env = dict(os.environ)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "quantai_tui", "kill", *args], capture_output=True, text=True,
                              env=env, timeout=60)

    proc = await asyncio.to_thread(cli, "--reason", "from the cli")
    assert proc.returncode == 0, proc.stderr
    assert "KILL SWITCH ENGAGED" in proc.stdout
    assert k.risk.state is TradingState.HALTED
    proc = await asyncio.to_thread(cli, "--release")  # not a terminal and no --yes: refused
    assert proc.returncode == 1 and k.risk.state is TradingState.HALTED
    proc = await asyncio.to_thread(cli, "--release", "--yes")
    assert proc.returncode == 0, proc.stderr
    assert k.risk.state is TradingState.ACTIVE
    await k.stop()
    assert not paths.control_socket.exists()
    proc = cli()
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "no engine is running for profile 'default'" in proc.stderr

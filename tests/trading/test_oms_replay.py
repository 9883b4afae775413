"""The OMS over random venue report sequences (late fills, duplicate trade ids, out-of-order
acks, stray cancels) on a real SQLite store: no illegal state, filled <= ordered, and a new
engine replaying the store rebuilds identical orders, positions and balances."""

from __future__ import annotations

import asyncio
import tempfile
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantai_tui.core.clock import TestClock
from quantai_tui.core.commands import SubmitOrder
from quantai_tui.core.enums import LiquiditySide, OrderSide, OrderStatus, OrderType
from quantai_tui.core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderCancelRequested,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderStatusUnknown,
)
from quantai_tui.core.values import Money, Price, Quantity

from tests.trading.helpers import T0, FakeVenue, kernel_on_venue, make_kernel, make_settings

KINDS = ("accept", "fill", "fill", "fill", "cancel_req", "canceled", "cancel_rej", "expired", "unknown", "rejected")
op = st.tuples(st.integers(0, 2), st.sampled_from(KINDS), st.integers(0, 4), st.sampled_from(("0.2", "0.3", "0.5")))


def report(coid: str, side: OrderSide, kind: str, tid: int, qty: str, ts: int) -> object:
    v, s = "fake", "BTC/USDT"
    return {
        "accept": lambda: OrderAccepted.make(coid, v, s, f"V-{coid}", ts, ts),
        "fill": lambda: OrderFilled.make(coid, v, s, f"V-{coid}", f"{coid}-t{tid}", side, Quantity(qty, 5),
                                         Price(f"{100 + tid}.00"), Money("0.01", "USDT"), LiquiditySide.TAKER, ts, ts),
        "cancel_req": lambda: OrderCancelRequested.make(coid, v, s, ts, ts),
        "canceled": lambda: OrderCanceled.make(coid, v, s, f"V-{coid}", "", ts, ts),
        "cancel_rej": lambda: OrderCancelRejected.make(coid, v, s, "too late", ts, ts),
        "expired": lambda: OrderExpired.make(coid, v, s, "", ts, ts),
        "unknown": lambda: OrderStatusUnknown.make(coid, v, s, "timeout", ts, ts),
        "rejected": lambda: OrderRejected.make(coid, v, s, "no", ts, ts),
    }[kind]()


async def scenario(ops: list[tuple[int, str, int, str]], tmp: Path) -> None:
    s = make_settings(price_band_pct=Decimal("0"), max_orders_per_second=0.0, check_balance=False)
    clock = TestClock(T0)
    k, v = kernel_on_venue(tmp, clock=clock, settings=s, reconcile=False)
    v.silent = True  # every report comes from the sequence under test
    await k.start()
    k.oms.resolver.start = lambda order: None  # type: ignore[method-assign]  # no lookups: only the sequence
    inst = k.cache.instrument("fake", "BTC/USDT")
    coids, sides = [], []
    for i in range(3):
        side = OrderSide.BUY if i != 1 else OrderSide.SELL
        res = await k.execute(SubmitOrder("fake", "BTC/USDT", side, OrderType.LIMIT, inst.make_qty("1"),
                                          inst.make_price(100)))
        coids.append(res.client_order_id)
        sides.append(side)
    applied_fills: dict[str, Decimal] = {}
    for n, (i, kind, tid, qty) in enumerate(ops):
        clock.set_time(T0 + n + 1)
        ev = report(coids[i], sides[i], kind, tid, qty, T0 + n + 1)
        order = k.oms.get(coids[i])
        before = order.state()
        if k.oms.apply(ev):  # type: ignore[arg-type]
            if kind == "fill":
                applied_fills[ev.trade_id] = ev.last_qty.as_decimal() * (1 if sides[i] is OrderSide.BUY else -1)  # type: ignore[attr-defined]
        elif kind == "fill":
            assert ev.trade_id in order.trade_ids or order.state() == before  # type: ignore[attr-defined]
        else:
            assert order.state()[:-1] == before[:-1]
        assert order.filled_qty <= order.quantity
        assert order.status is not OrderStatus.INITIALIZED
        assert (order.status is OrderStatus.FILLED) == (order.filled_qty == order.quantity)
        assert (coids[i] in k.cache.open) == order.is_open
    assert k.portfolio.position_qty("fake", "BTC/USDT") == sum(applied_fills.values(), Decimal(0))
    live = {c: k.oms.get(c).state() for c in coids}
    positions = {key: p.state() for key, p in k.portfolio.ledger.positions.items()}
    balances = k.portfolio.balances()
    await k.stop()

    v2 = FakeVenue("fake", None, clock)
    k2 = make_kernel(tmp, venues=("fake",), clock=TestClock(T0), execution={"fake": v2}, settings=s, reconcile=False)
    v2.bind(k2.oms.on_report)
    await k2.start()
    assert {c: k2.oms.get(c).state() for c in coids} == live
    assert {key: p.state() for key, p in k2.portfolio.ledger.positions.items()} == positions
    assert k2.portfolio.balances() == balances
    await k2.stop()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, min_size=1, max_size=40))
def test_random_report_sequences_replay_to_identical_state(ops: list[tuple[int, str, int, str]]) -> None:
    with tempfile.TemporaryDirectory() as d:
        asyncio.run(scenario(ops, Path(d)))

"""Timeouts after accept: a venue that takes the order but loses 5% of its replies (some of those
even fill, and that report is lost too), and one that loses requests before they arrive. No
order is ever sent twice; every UNKNOWN is resolved by looking it up by client order id."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from quantai_tui.core.clock import LiveClock
from quantai_tui.core.commands import SubmitOrder
from quantai_tui.core.enums import OrderSide, OrderStatus, OrderType
from quantai_tui.engine.oms_resolve import unresolved

from tests.trading.helpers import kernel_on_venue, make_settings, publish_quote


def settings():  # noqa: ANN201
    return make_settings(price_band_pct=Decimal("0"), max_orders_per_second=0.0, max_open_orders=0,
                         max_order_notional=Decimal("0"), max_position_notional=Decimal("0"), check_balance=False)


async def run(tmp_path: Path, n: int, **venue_kw: object) -> tuple:
    k, v = kernel_on_venue(tmp_path, clock=LiveClock(), venue_kw={"seed": 7, **venue_kw}, settings=settings())
    k.oms.resolver.delays = (0.02, 0.05, 0.1, 0.2, 0.4)
    await k.start()
    publish_quote(k, "fake", "BTC/USDT", 49_999.5, 50_000.5)
    inst = k.cache.instrument("fake", "BTC/USDT")
    cmds = [SubmitOrder("fake", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, inst.make_qty("0.01"),
                        inst.make_price(49_000 + i)) for i in range(n)]
    for i in range(0, n, 50):
        results = await asyncio.gather(*(k.execute(c) for c in cmds[i:i + 50]))
        assert all(r.ok for r in results)
    for _ in range(400):  # let the lookups finish
        if not k.oms.resolver.active and not any(unresolved(o) for o in k.cache.orders.values()):
            break
        await asyncio.sleep(0.05)
    return k, v


async def test_lost_replies_are_resolved_by_lookup_never_resent(tmp_path: Path) -> None:
    k, v = await run(tmp_path, 400, drop_rate=0.05, fill_dropped=True)
    orders = list(k.cache.orders.values())
    assert len(orders) == 400
    assert len(v.ex.submits) == len(set(v.ex.submits)) == 400, "an order was sent twice"
    assert len(v.dropped) >= 8, len(v.dropped)  # about 5% lost their reply
    assert k.oms.stats["unknown"] == len(v.dropped)
    assert not any(o.status is OrderStatus.UNKNOWN for o in orders)
    assert k.oms.resolver.resolved == len(v.dropped)
    for coid in v.dropped:
        o = k.oms.get(coid)
        venue_side = v.ex.orders[coid]
        assert o.status is venue_side["status"], (o, venue_side["status"])
        assert o.filled_qty == venue_side["filled"]
    filled = [k.oms.get(c) for c in v.dropped if v.ex.orders[c]["status"] is OrderStatus.FILLED]
    assert filled and all(len(o.trade_ids) == 1 for o in filled)  # the lost fill, applied once
    assert k.portfolio.position_qty("fake", "BTC/USDT") == Decimal("0.01") * len(filled)
    print(f"\n{len(v.dropped)} of 400 replies lost, all resolved; {len(filled)} of those had filled")
    await k.stop()


async def test_requests_that_never_arrive_are_closed_after_lookups(tmp_path: Path) -> None:
    k, v = await run(tmp_path, 100, lose_rate=0.05)
    lost = [c for c in v.ex.submits if c not in v.ex.orders]
    assert lost
    assert len(v.ex.submits) == len(set(v.ex.submits)) == 100
    for coid in lost:
        o = k.oms.get(coid)
        assert o.status is OrderStatus.CANCELED and "not found" in o.last_reason
    assert k.oms.resolver.not_found == len(lost)
    await k.stop()

"""Resolving UNKNOWN orders by lookup, for each thing a venue can answer: lookups that fail
for a while, a venue that never answers (the order stays UNKNOWN for reconciliation), orders
it expired or rejected, fills it cannot list, and an amend it made although its answer was
lost."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from quantai_tui.core.commands import ModifyOrder, SubmitOrder
from quantai_tui.core.enums import OrderSide, OrderStatus, OrderType
from quantai_tui.core.execution import FillReport, OrderStatusReport
from quantai_tui.core.values import Price, Quantity
from quantai_tui.engine.kernel import Kernel

from tests.trading.helpers import ScriptedVenue, kernel_on_venue, make_settings

S = OrderStatus


class LookupVenue(ScriptedVenue):
    """Lookups (`query_order`, `fills_since`) fail while told to; an amend can be made at the venue
    and its answer lost."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.query_failures = 0
        self.fills_fail = False
        self.lose_amend_answer = False

    async def _query_order(self, client_order_id: str, symbol: str) -> OrderStatusReport | None:
        if self.query_failures:
            self.query_failures -= 1
            raise RuntimeError("HTTP 500 from the venue")
        return await super()._query_order(client_order_id, symbol)

    async def _fills_since(self, ts_ns: int, symbol: str | None) -> list[FillReport]:
        if self.fills_fail:
            raise RuntimeError("trade history unavailable")
        return await super()._fills_since(ts_ns, symbol)

    async def _modify(self, client_order_id: str, symbol: str, quantity: Quantity | None, price: Price | None) -> None:
        if self.lose_amend_answer:
            self.silent = True  # made at the venue; neither the reply nor the stream event arrives
            try:
                await super()._modify(client_order_id, symbol, quantity, price)
            finally:
                self.silent = False
            raise TimeoutError()
        await super()._modify(client_order_id, symbol, quantity, price)


async def engine(tmp_path: Path) -> tuple[Kernel, LookupVenue]:
    k, v = kernel_on_venue(tmp_path, LookupVenue, settings=make_settings(
        price_band_pct=Decimal("0"), max_orders_per_second=0.0, check_balance=False))
    k.oms.resolver.delays = (0.005,) * 5
    await k.start()
    return k, v


async def lost_submit(k: Kernel, v: LookupVenue) -> str:
    """An order the venue accepted whose reply was lost: the submit times out, UNKNOWN here."""
    inst = k.cache.instrument("fake", "BTC/USDT")
    v.drop_rate = 1.0
    res = await k.execute(SubmitOrder("fake", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, inst.make_qty("1"),
                                      inst.make_price(40_000)))
    v.drop_rate = 0.0
    coid = res.client_order_id
    assert coid is not None and coid in v.ex.orders and k.oms.get(coid).status is S.UNKNOWN
    return coid


async def settle(k: Kernel) -> None:
    for _ in range(400):
        if not k.oms.resolver.active:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the resolver is still running")


async def test_lookups_that_fail_for_a_while_are_retried_until_the_venue_answers(tmp_path: Path) -> None:
    k, v = await engine(tmp_path)
    v.query_failures = 2
    coid = await lost_submit(k, v)
    await settle(k)
    assert k.oms.get(coid).status is S.ACCEPTED and k.oms.get(coid).venue_order_id == "V1"
    assert k.oms.resolver.resolved == 1 and v.query_failures == 0
    await k.stop()


async def test_a_venue_that_never_answers_leaves_the_order_unknown_for_reconciliation(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    k, v = await engine(tmp_path)
    v.query_failures = 1000
    with caplog.at_level(logging.ERROR, logger="quantai.oms"):
        coid = await lost_submit(k, v)
        await settle(k)
    assert k.oms.get(coid).status is S.UNKNOWN  # not guessed: never closed, never resent
    assert k.oms.resolver.gave_up == 1 and v.ex.submits == [coid]
    assert f"order {coid} is still UNKNOWN after 5 lookups; reconciliation will retry" in caplog.text
    v.query_failures = 0
    await k.reconcile("fake")  # the next reconciliation resolves it
    assert k.oms.get(coid).status is S.ACCEPTED
    await k.stop()


@pytest.mark.parametrize(("at_venue", "status", "reason"), [
    (S.EXPIRED, S.EXPIRED, ""),
    (S.REJECTED, S.REJECTED, "rejected at the venue"),
    (S.CANCELED, S.CANCELED, "canceled at the venue"),
])
async def test_the_status_the_venue_reports_becomes_the_orders(tmp_path: Path, at_venue: OrderStatus,
                                                              status: OrderStatus, reason: str) -> None:
    k, v = await engine(tmp_path)
    v.query_failures = 1000  # hold the resolver off while the venue changes the order
    coid = await lost_submit(k, v)
    v.ex.orders[coid]["status"] = at_venue
    v.query_failures = 0
    await settle(k)
    o = k.oms.get(coid)
    assert o.status is status and not o.is_open
    if reason:
        assert o.last_reason == reason
    await k.stop()


async def test_fills_the_venue_cannot_list_are_reported_not_invented(tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    k, v = await engine(tmp_path)
    v.query_failures = 1000
    coid = await lost_submit(k, v)
    v.fill(coid, "0.4", "40000", report=False)  # a fill whose report was lost too
    v.fills_fail = True
    v.query_failures = 0
    with caplog.at_level(logging.WARNING, logger="quantai.oms"):
        await settle(k)
    o = k.oms.get(coid)
    assert o.status is S.ACCEPTED and o.filled_qty == 0  # the venue says open; no fill made up
    assert k.portfolio.position_qty("fake", "BTC/USDT") == 0
    assert f"fills of {coid} could not be fetched" in caplog.text
    assert "the venue reports 0.40000 filled, its fills explain 0.00000" in caplog.text
    v.fills_fail = False
    await k.reconcile("fake")  # once the history can be read, the fill is applied, once
    assert o.filled_qty == Quantity("0.40000") and o.status is S.PARTIALLY_FILLED
    assert k.portfolio.position_qty("fake", "BTC/USDT") == Decimal("0.4")
    await k.stop()


async def test_an_amend_made_at_the_venue_whose_answer_was_lost_is_found_by_lookup(tmp_path: Path) -> None:
    k, v = await engine(tmp_path)
    inst = k.cache.instrument("fake", "BTC/USDT")
    res = await k.execute(SubmitOrder("fake", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, inst.make_qty("1"),
                                      inst.make_price(40_000)))
    coid = res.client_order_id
    v.lose_amend_answer = True
    assert (await k.execute(ModifyOrder(coid, quantity=inst.make_qty("1.2"), price=inst.make_price(39_000)))).ok
    o = k.oms.get(coid)
    assert o.status is S.UNKNOWN
    await settle(k)
    assert o.status is S.ACCEPTED
    assert o.price == Price("39000.00") and o.quantity == Quantity("1.20000")  # what the venue holds
    await k.stop()

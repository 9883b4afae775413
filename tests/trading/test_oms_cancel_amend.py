"""The OMS's cancel and amend paths and its refusals, against a venue that can be told to fail:
what a cancel or amend that the venue refuses, loses or cannot do leaves behind, the cancel-all
fallback, submits refused before any venue sees them, and orders whose fate became UNKNOWN on
the way (resolved by lookup, never resent)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

from quantai_tui.core.commands import CancelAllOrders, CancelOrder, EngageKillSwitch, ModifyOrder, SubmitOrder
from quantai_tui.core.enums import OrderSide, OrderStatus, OrderType
from quantai_tui.core.errors import VenueRejected
from quantai_tui.core.values import Price, Quantity
from quantai_tui.engine.kernel import Kernel

from tests.trading.helpers import ScriptedVenue, kernel_on_venue, make_kernel, make_settings, standard_book

S = OrderStatus


def settings():  # noqa: ANN201
    return make_settings(price_band_pct=Decimal("0"), max_orders_per_second=0.0, max_open_orders=0,
                         max_order_notional=Decimal("0"), max_position_notional=Decimal("0"), check_balance=False,
                         max_order_qty={"*": Decimal("5")})


async def engine(tmp_path: Path) -> tuple[Kernel, ScriptedVenue]:
    k, v = kernel_on_venue(tmp_path, ScriptedVenue, settings=settings())
    k.oms.resolver.delays = (0.01, 0.01, 0.01, 0.01)
    await k.start()
    return k, v


async def place(k: Kernel, n: int = 1, **kw: Any) -> list[str]:
    inst = k.cache.instrument("fake", "BTC/USDT")
    out = []
    for i in range(n):
        res = await k.execute(SubmitOrder("fake", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, inst.make_qty("1"),
                                          inst.make_price(40_000 + i), **kw))
        assert res.ok, res.message
        out.append(res.client_order_id)
    return out


async def settle(k: Kernel) -> None:
    for _ in range(200):
        if not k.oms.resolver.active and not k.oms.tasks.running():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"still running: {k.oms.tasks.running()}")


# --- cancel --------------------------------------------------------------------------------------------
async def test_a_cancel_the_venue_refuses_returns_the_order_to_where_it_was(tmp_path: Path) -> None:
    k, v = await engine(tmp_path)
    (a,) = await place(k)
    v.fill(a, "0.4", "40000")
    v.fail["cancel"] = VenueRejected("too late to cancel")
    res = await k.execute(CancelOrder(a))
    assert res.ok and res.message == "cancel requested"
    o = k.oms.get(a)
    assert o.status is S.PARTIALLY_FILLED and o.filled_qty == Quantity("0.4")  # PREV: back to its status
    assert (await k.execute(CancelOrder(a))).ok and o.status is S.CANCELED  # a second cancel goes through
    await k.stop()


async def test_a_cancel_whose_answer_is_lost_goes_unknown_and_is_looked_up(tmp_path: Path) -> None:
    k, v = await engine(tmp_path)
    (a,) = await place(k)
    v.fail["cancel"] = ConnectionResetError("link dropped")
    assert (await k.execute(CancelOrder(a))).ok
    o = k.oms.get(a)
    assert o.status is S.UNKNOWN and "cancel failed" in o.last_reason and "link dropped" in o.last_reason
    await settle(k)
    assert o.status is S.ACCEPTED  # the venue still has it open: the cancel never happened
    assert k.oms.resolver.resolved == 1
    await k.stop()


async def test_cancels_that_cannot_happen_say_so(tmp_path: Path) -> None:
    k, v = await engine(tmp_path)
    (a, b) = await place(k, 2)
    assert (await k.execute(CancelOrder("no-such-order"))).message == "not an open order"
    v.cancel_at_venue(a)  # canceled at the venue, reported
    assert k.oms.get(a).status is S.CANCELED
    res = await k.execute(CancelOrder(a))
    assert not res.ok and res.message == "not an open order"
    k.oms.request_cancel(k.oms.get(b))  # already asked: pending
    calls = len(v.calls)
    assert (await k.execute(CancelOrder(b))).ok  # nothing sent twice
    assert len(v.calls) == calls and k.oms.get(b).status is S.PENDING_CANCEL
    await k.stop()


async def test_a_cancel_all_the_venue_cannot_do_falls_back_to_order_by_order(tmp_path: Path) -> None:
    k, v = await engine(tmp_path)
    ids = await place(k, 3)
    v.fail["cancel_all"] = ConnectionResetError("endpoint down")
    res = await k.execute(CancelAllOrders())
    assert res.ok and res.data == 3
    assert all(k.oms.get(c).status is S.CANCELED for c in ids)
    assert v.calls.count("cancel") == 3
    await k.stop()


async def test_wait_no_open_orders_times_out_while_orders_stay_open(tmp_path: Path) -> None:
    k, v = await engine(tmp_path)
    (a,) = await place(k)
    assert await k.oms.wait_no_open_orders(timeout=0.02) is False
    waiter = asyncio.ensure_future(k.oms.wait_no_open_orders(timeout=2.0))
    await asyncio.sleep(0)
    v.cancel_at_venue(a)
    assert await waiter is True
    assert await k.oms.wait_no_open_orders(timeout=0.0) is True  # none open: at once
    await k.stop()


# --- amend ----------------------------------------------------------------------------------------------
async def test_amend_refusals_name_their_reason(tmp_path: Path) -> None:
    k, v = await engine(tmp_path)
    (a,) = await place(k)
    inst = k.cache.instrument("fake", "BTC/USDT")
    res = await k.execute(ModifyOrder(a, trigger_price=inst.make_price(39_000)))
    assert not res.ok and res.message == "denied by amend: a LIMIT order has no trigger to move"
    res = await k.execute(ModifyOrder(a, quantity=inst.make_qty("6")))  # max_order_qty 5
    assert not res.ok and res.message.startswith("denied by max_order_qty")
    assert k.oms.get(a).quantity == Quantity("1.00000")  # untouched
    v.supports_amend = False
    res = await k.execute(ModifyOrder(a, price=inst.make_price(39_000)))
    assert not res.ok and res.message == "denied by amend: venue fake does not support amending orders"
    assert "modify" not in v.calls
    res = await k.execute(ModifyOrder("no-such-order", price=inst.make_price(39_000)))
    assert not res.ok and res.message == "not an open order"
    await k.stop()


async def test_an_amend_the_venue_refuses_leaves_the_order_as_it_was(tmp_path: Path) -> None:
    k, v = await engine(tmp_path)
    (a,) = await place(k)
    inst = k.cache.instrument("fake", "BTC/USDT")
    v.fail["modify"] = VenueRejected("price out of range")
    res = await k.execute(ModifyOrder(a, price=inst.make_price(39_000)))
    assert not res.ok
    o = k.oms.get(a)
    assert o.status is S.ACCEPTED and o.price == Price("40000.00")
    assert (await k.execute(ModifyOrder(a, price=inst.make_price(39_000)))).ok
    assert o.price == Price("39000.00") and o.status is S.ACCEPTED
    await k.stop()


async def test_an_amend_whose_answer_is_lost_goes_unknown_and_is_looked_up(tmp_path: Path) -> None:
    k, v = await engine(tmp_path)
    (a,) = await place(k)
    inst = k.cache.instrument("fake", "BTC/USDT")
    v.fail["modify"] = TimeoutError()
    assert (await k.execute(ModifyOrder(a, price=inst.make_price(39_500)))).ok  # sent; its fate is open
    o = k.oms.get(a)
    assert o.status is S.UNKNOWN and "amend failed" in o.last_reason
    await settle(k)
    assert o.status is S.ACCEPTED and o.price == Price("40000.00")  # the venue never changed it
    await k.stop()


# --- submits refused or lost before the venue -----------------------------------------------------------
async def test_orders_that_cannot_be_placed_are_denied_by_name(tmp_path: Path) -> None:
    k, v = await engine(tmp_path)
    inst = k.cache.instrument("fake", "BTC/USDT")
    (a,) = await place(k, client_order_id="qaMINE1")
    assert a == "qaMINE1"
    res = await k.execute(SubmitOrder("fake", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, inst.make_qty("1"),
                                      inst.make_price(40_000), client_order_id="qaMINE1"))
    assert not res.ok and res.message == "denied by client_order_id: client order id qaMINE1 was already used"
    res = await k.execute(SubmitOrder("nowhere", "BTC/USDT", OrderSide.BUY, OrderType.MARKET, inst.make_qty("1")))
    assert not res.ok and res.message == "denied by venue: no execution venue 'nowhere' is connected"
    res = await k.execute(SubmitOrder("fake", "DOGE/USDT", OrderSide.BUY, OrderType.MARKET, inst.make_qty("1")))
    assert not res.ok and res.message == "denied by instrument: unknown instrument DOGE/USDT on fake"
    assert v.ex.submits == ["qaMINE1"]  # none of them reached the venue
    assert [d.check for d in k.oms.denials] == ["client_order_id", "venue", "instrument"]
    await k.stop()


async def test_a_submit_that_fails_on_the_way_is_never_resent_and_closed_when_the_venue_never_had_it(
        tmp_path: Path) -> None:
    k, v = await engine(tmp_path)
    inst = k.cache.instrument("fake", "BTC/USDT")
    v.fail["submit"] = ConnectionResetError("socket closed")
    v.fail["cancel"] = VenueRejected("unknown order")  # the cancel sent to be sure: the venue does not know it
    res = await k.execute(SubmitOrder("fake", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, inst.make_qty("1"),
                                      inst.make_price(40_000)))
    o = k.oms.get(res.client_order_id)
    assert o.status is S.UNKNOWN and "submit failed" in o.last_reason
    await settle(k)
    assert o.status is S.CANCELED and "not found at the venue" in o.last_reason
    assert v.calls.count("submit") == 1 and v.ex.submits == []  # sent once, never again
    assert v.calls.count("cancel") == 1
    assert k.oms.resolver.not_found == 1
    await k.stop()


async def test_an_order_whose_intent_cannot_be_stored_is_never_sent(tmp_path: Path) -> None:
    k, v = await engine(tmp_path)
    inst = k.cache.instrument("fake", "BTC/USDT")
    await k.store.close()  # e.g. the store went away under a shutdown
    res = await k.execute(SubmitOrder("fake", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, inst.make_qty("1"),
                                      inst.make_price(40_000)))
    o = k.oms.get(res.client_order_id)
    assert o.status is S.REJECTED and not o.is_open
    assert v.ex.submits == [] and k.oms.open_count == 0
    await k.stop()  # the rest of the shutdown still runs


async def test_the_kill_switch_closes_an_order_whose_intent_was_still_being_stored(tmp_path: Path) -> None:
    k, v = await engine(tmp_path)
    inst = k.cache.instrument("fake", "BTC/USDT")
    submit = asyncio.ensure_future(k.execute(SubmitOrder("fake", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT,
                                                         inst.make_qty("1"), inst.make_price(40_000))))
    await asyncio.sleep(0)  # the submit is waiting for its intent's commit
    kill = await k.execute(EngageKillSwitch("test", "test"))
    res = await submit
    o = k.oms.get(res.client_order_id)
    assert kill.ok
    assert o.status is S.CANCELED and o.last_reason == "kill switch engaged before the order was sent"
    assert v.ex.submits == []  # the venue never saw it
    await k.stop()


async def test_a_reduce_only_order_with_nothing_to_reduce_is_rejected_by_the_paper_venue(tmp_path: Path) -> None:
    k = make_kernel(tmp_path, settings=settings())  # no balance check: the venue is asked
    await k.start()
    standard_book(k)
    inst = k.cache.instrument("sim", "BTC/USDT")
    res = await k.execute(SubmitOrder("sim", "BTC/USDT", OrderSide.SELL, OrderType.MARKET, inst.make_qty("0.01"),
                                      reduce_only=True))
    o = k.oms.get(res.client_order_id)
    assert o.status is S.REJECTED and "reduce-only order would not reduce position" in o.last_reason
    assert k.portfolio.position_qty("sim", "BTC/USDT") == 0
    await k.stop()


async def test_a_waiting_stops_trigger_moves_on_paper_and_then_only_the_new_one_fires(tmp_path: Path) -> None:
    """Paper (the backtests' fill model): a buy stop at 51,000 moved to 50,800 fires on a trade at
    50,900; once triggered its trigger can no longer move; the store keeps the amend."""
    from tests.trading.helpers import make_kernel, publish_trade, standard_book

    from quantai_tui.core.commands import SubmitOrder
    from quantai_tui.core.enums import OrderSide, OrderType

    k = make_kernel(tmp_path)
    await k.start()
    standard_book(k)
    inst = k.cache.instrument("sim", "BTC/USDT")
    res = await k.execute(SubmitOrder("sim", "BTC/USDT", OrderSide.BUY, OrderType.STOP_MARKET, inst.make_qty("0.01"),
                                      None, inst.make_price(51_000)))
    coid = res.client_order_id
    assert res.ok and k.oms.get(coid).status is S.ACCEPTED
    assert (await k.execute(ModifyOrder(coid, trigger_price=inst.make_price(50_800)))).ok
    o = k.oms.get(coid)
    assert o.trigger_price == inst.make_price(50_800) and o.status is S.ACCEPTED
    publish_trade(k, "sim", "BTC/USDT", 50_700.0, 0.1)  # below the new trigger: nothing
    await asyncio.sleep(0.05)
    assert k.oms.get(coid).status is S.ACCEPTED
    publish_trade(k, "sim", "BTC/USDT", 50_900.0, 0.1)  # above 50,800, below the old 51,000
    for _ in range(100):
        if k.oms.get(coid).status is S.FILLED:
            break
        await asyncio.sleep(0.01)
    assert k.oms.get(coid).status is S.FILLED
    res = await k.execute(ModifyOrder(coid, trigger_price=inst.make_price(52_000)))
    assert not res.ok  # not open any more
    await k.stop()
    from quantai_tui.store.sqlite import read_events

    (upd,) = [e for _, e in read_events(tmp_path / "events.sqlite", types=["OrderUpdated"])]
    assert upd.trigger_price == inst.make_price(50_800)

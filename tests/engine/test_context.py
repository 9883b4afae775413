"""The trading context strategies, scripts and the AI trade through, on the real kernel and the
paper venue: conveniences that snap values to the instrument, order read-outs, cancels and
amends through the same OMS, account read-outs, and timers named per strategy."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from quantai_tui.core.clock import TestClock, TimeEvent
from quantai_tui.core.commands import CancelAllOrders, CancelOrder, ModifyOrder
from quantai_tui.core.enums import OrderSide, OrderStatus, OrderType, TimeInForce, TradingMode
from quantai_tui.core.values import Price, Quantity
from quantai_tui.engine.kernel import Kernel
from quantai_tui.engine.tasks import run_sync

from tests.trading.helpers import T0, make_kernel, publish_trade, standard_book


async def started(tmp_path: Path) -> Kernel:
    k = make_kernel(tmp_path, symbols=("BTC/USDT", "ETH/USDT"))
    await k.start()
    standard_book(k)  # BTC/USDT around 50,000: bids 49,999.5 and down, asks 50,000.5 and up
    return k


async def test_submit_snaps_to_the_instrument_and_picks_the_order_type(tmp_path: Path) -> None:
    k = await started(tmp_path)
    ctx = k.context("mm")
    told: list[str] = []
    ctx.pre_submit = told.append
    coid = await ctx.submit("BTC/USDT", OrderSide.BUY, 0.0123456, price=49_000.004)
    order = ctx.order(coid)
    assert told == [coid]  # told before the order was sent
    assert order is not None and order.order_type is OrderType.LIMIT and order.strategy_id == "mm"
    assert order.quantity == Quantity("0.01234") and order.price == Price("49000.00")  # lot down, tick nearest
    assert order.venue == "sim" and order.status is OrderStatus.ACCEPTED
    mkt = await ctx.submit("BTC/USDT", OrderSide.BUY, "0.001")
    assert ctx.order(mkt).order_type is OrderType.MARKET and ctx.order(mkt).status is OrderStatus.FILLED
    assert ctx.position_qty("", "BTC/USDT") == Decimal("0.001")  # "" is the default venue
    assert ctx.order("nope") is None
    await k.stop()


async def test_open_orders_are_listed_and_filtered(tmp_path: Path) -> None:
    k = await started(tmp_path)
    standard_book(k, symbol="ETH/USDT", mid=3_000.0)
    a, b = k.context("a"), k.context("b")
    oa = await a.submit("BTC/USDT", OrderSide.BUY, "0.01", price=40_000)
    ob = await b.submit("ETH/USDT", OrderSide.BUY, "0.1", price=2_500)
    assert sorted(a.open_order_ids()) == sorted([oa, ob])  # every strategy's unless filtered
    assert a.open_order_ids(strategy_id="a") == [oa]
    assert a.open_order_ids(symbol="ETH/USDT") == [ob]
    assert a.open_order_ids(venue="elsewhere") == []
    assert [o.client_order_id for o in b.open_orders(strategy_id="b")] == [ob]
    await k.stop()


async def test_cancel_cancel_all_and_modify_go_through_the_oms(tmp_path: Path) -> None:
    k = await started(tmp_path)
    ctx = k.context("s1")
    inst = ctx.instrument("", "BTC/USDT")
    ids = [await ctx.submit("BTC/USDT", OrderSide.BUY, "0.01", price=40_000 + i) for i in range(3)]
    assert await ctx.modify_order(ModifyOrder(ids[0], price=inst.make_price(41_000)))
    assert ctx.order(ids[0]).price == Price("41000.00")
    await ctx.cancel_order(CancelOrder(ids[1]))
    assert ctx.order(ids[1]).status is OrderStatus.CANCELED
    other = await k.context("s2").submit("BTC/USDT", OrderSide.BUY, "0.01", price=39_000)
    await ctx.cancel_all_orders(CancelAllOrders(strategy_id="s1"))
    assert ctx.open_order_ids() == [other]  # only its own went
    assert not await ctx.modify_order(ModifyOrder(ids[1], price=inst.make_price(42_000)))  # canceled: no amend
    await k.stop()


async def test_account_and_market_read_outs(tmp_path: Path) -> None:
    k = await started(tmp_path)
    ctx = k.context("s")
    assert ctx.balance("", "USDT") == Decimal("10000")
    assert ctx.balances() == {"sim": {"USDT": Decimal("10000")}}
    assert ctx.balances("other") == {}
    assert ctx.equity() == 10_000.0 and ctx.equity("sim") == 10_000.0
    assert ctx.position("", "BTC/USDT") is None and ctx.positions() == []
    assert ctx.mid("", "BTC/USDT") == 50_000.0
    book = ctx.book("", "BTC/USDT")
    assert book is not None and book.best_bid() == (49_999.5, 1.0)
    assert ctx.last_price("", "BTC/USDT") is None
    publish_trade(k, "sim", "BTC/USDT", 50_001.0, 0.5)
    assert ctx.last_price("sim", "BTC/USDT") == 50_001.0
    await ctx.submit("BTC/USDT", OrderSide.BUY, "0.02")
    pos = ctx.position("", "BTC/USDT")
    assert pos is not None and pos.qty == Decimal("0.02")
    assert [p.symbol for p in ctx.positions("sim")] == ["BTC/USDT"]
    assert ctx.balance("sim", "BTC") == Decimal("0.02") and ctx.balance("sim", "USDT") < Decimal("10000")
    assert ctx.next_client_order_id() != ctx.next_client_order_id()
    await k.stop()


async def test_timers_are_named_per_strategy_and_can_be_cancelled(tmp_path: Path) -> None:
    clock = TestClock(T0)
    k = make_kernel(tmp_path, clock=clock)
    await k.start()
    fired: list[TimeEvent] = []
    a, b = k.context("a"), k.context("b")
    a.set_timer("rebalance", 1.0, fired.append)
    b.set_timer("rebalance", 1.0, fired.append)  # the same name in another strategy: a timer of its own
    assert {"a:rebalance", "b:rebalance"} <= set(clock.timer_names)
    clock.advance_to(T0 + 1_000_000_000)
    assert sorted(e.name for e in fired) == ["a:rebalance", "b:rebalance"]
    b.cancel_timer("rebalance")
    fired.clear()
    clock.advance_to(T0 + 2_000_000_000)
    assert [e.name for e in fired] == ["a:rebalance"]
    assert a.clock is clock
    await k.stop()


def test_submit_now_runs_on_the_backtest_path() -> None:
    bt = make_kernel(None, mode=TradingMode.BACKTEST)
    run_sync(bt.start())
    standard_book(bt)
    ctx = bt.context("bt")
    inst = ctx.instrument("sim", "BTC/USDT")
    coid = ctx.submit_now("", "BTC/USDT", OrderSide.BUY, OrderType.MARKET, inst.make_qty("0.001"), None, None,
                          TimeInForce.GTC, False, False, "bt")
    assert coid is not None and ctx.order(coid).status is OrderStatus.FILLED
    assert ctx.position_qty("sim", "BTC/USDT") == Decimal("0.001")
    run_sync(bt.stop())


async def test_submit_now_declines_where_a_submit_must_wait_and_does_nothing(tmp_path: Path) -> None:
    k = await started(tmp_path)  # paper on SQLite: the intent's commit is awaited
    ctx = k.context("s")
    inst = ctx.instrument("sim", "BTC/USDT")
    assert ctx.submit_now("", "BTC/USDT", OrderSide.BUY, OrderType.MARKET, inst.make_qty("0.001"), None, None,
                          TimeInForce.GTC, False, False, "s") is None
    assert k.cache.orders == {} and ctx.position_qty("sim", "BTC/USDT") == 0
    await k.stop()

"""The kernel's three faces: paper on the live sim exchange (an account that persists across
restarts), the backtest path driven without an event loop, and strategies trading through the
context (their own fills reach them, even immediate ones)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from quantai_tui.connectors.sim import SimMarket
from quantai_tui.core.clock import LiveClock, TestClock
from quantai_tui.core.commands import CancelAllOrders, ModifyOrder, SubmitOrder
from quantai_tui.core.enums import OrderSide, OrderStatus, OrderType, TradingMode
from quantai_tui.core.events import Bar, OrderFilled, TradeTick, market_topic
from quantai_tui.engine.kernel import Kernel, KernelConfig
from quantai_tui.engine.strategy import Param, Strategy
from quantai_tui.engine.tasks import run_sync
from quantai_tui.settings.schema import Settings

from tests.trading.helpers import T0, instruments_for, make_kernel, make_settings, publish_book, standard_book


async def test_paper_on_sim_persists_the_account_across_restarts(tmp_path: Path) -> None:
    s = Settings()
    s.sim.rate = 400
    cfg = KernelConfig(venues=["sim"], symbols=["BTC/USDT"], store_path=tmp_path / "events.sqlite")
    k = Kernel(s, cfg)
    await k.start()
    assert k.portfolio.balances() == {"sim": {"USDT": Decimal("10000")}}
    for _ in range(200):
        if k.cache.mid("sim", "BTC/USDT") is not None and k.cache.book("sim", "BTC/USDT") is not None:
            break
        await asyncio.sleep(0.01)
    inst = k.cache.instrument("sim", "BTC/USDT")
    res = await k.execute(SubmitOrder("sim", "BTC/USDT", OrderSide.BUY, OrderType.MARKET, inst.make_qty("0.02")))
    assert res.ok and k.oms.get(res.client_order_id).status is OrderStatus.FILLED
    mid = k.cache.mid("sim", "BTC/USDT")
    rest = await k.execute(SubmitOrder("sim", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, inst.make_qty("0.01"),
                                       inst.make_price(mid * 0.97)))
    assert rest.ok
    usdt = k.portfolio.balance("sim", "USDT")
    assert usdt < Decimal("10000") and k.portfolio.balance("sim", "BTC") == Decimal("0.02")
    await k.stop()

    k2 = Kernel(s, cfg)
    await k2.start()
    for _ in range(200):
        if k2.cache.mid("sim", "BTC/USDT") is not None:
            break
        await asyncio.sleep(0.01)
    assert k2.portfolio.balance("sim", "USDT") == usdt  # not a fresh 10,000
    assert k2.portfolio.position_qty("sim", "BTC/USDT") == Decimal("0.02")
    assert k2.last_reconcile["sim"].ok
    assert [o.client_order_id for o in k2.oms.open_orders()] == [rest.client_order_id]
    paper = k2.venues["sim"]
    assert rest.client_order_id in paper.open  # type: ignore[attr-defined]  # resting again at the venue
    assert (await k2.execute(ModifyOrder(rest.client_order_id, price=inst.make_price(mid * 0.96)))).ok
    assert k2.oms.get(rest.client_order_id).price == inst.make_price(mid * 0.96)
    assert (await k2.execute(CancelAllOrders())).ok and k2.oms.open_count == 0
    await k2.stop()


class Crosser(Strategy):
    """Buys on every 50th trade and sells it back 20 trades later; checks its fills arrive."""

    every = Param(50, "trades between entries")
    hold = Param(20, "trades to hold")

    def __init__(self, *a: object, **kw: object) -> None:
        super().__init__(*a, **kw)  # type: ignore[arg-type]
        self.n = 0
        self.fills: list[OrderFilled] = []

    async def on_tick(self, tick: TradeTick) -> None:
        self.n += 1
        if self.n % self.every == 0 and self.is_flat():
            await self.buy(Decimal("0.001"))
        elif self.n % self.every == self.hold and not self.is_flat():
            await self.close_position()

    async def on_fill(self, fill: OrderFilled) -> None:
        self.fills.append(fill)


def test_backtest_path_runs_without_an_event_loop() -> None:
    market = SimMarket(7, ["BTC/USDT"], rate=200.0, depth=10, start_ns=T0)
    k = make_kernel(None, mode=TradingMode.BACKTEST, clock=TestClock(T0), initial_balances={"USDT": Decimal("100000")},
                    settings=make_settings(price_band_pct=Decimal("0"), max_orders_per_second=0.0))
    run_sync(k.start())
    strat = Crosser({"every": 50})
    run_sync(k.add_strategy(strat, venue="sim", symbols=["BTC/USDT"]))
    clock: TestClock = k.clock  # type: ignore[assignment]
    for topic, ev in market.generate(20_000):
        clock.advance_to(max(clock.timestamp_ns(), ev.ts_event))
        k.bus.publish(topic, ev)
    run_sync(k.stop())
    filled = [o for o in k.cache.orders.values() if o.status is OrderStatus.FILLED]
    assert len(filled) > 20
    assert len(strat.fills) == sum(len(o.trade_ids) for o in filled)  # every fill reached the strategy
    assert k.store.last_seq > 100  # type: ignore[attr-defined]
    assert len(strat._own_orders) <= 1  # only an order still open: closed ones are forgotten


class QuietCrosser(Crosser):
    """The same orders, without on_fill: no order event is routed to it."""

    on_fill = Strategy.on_fill  # type: ignore[assignment]


async def test_a_live_strategy_remembers_only_its_open_orders(tmp_path: Path) -> None:
    k = make_kernel(tmp_path, clock=LiveClock(), initial_balances={"USDT": Decimal("100000")})
    await k.start()
    standard_book(k)
    loud, quiet = Crosser({"every": 4, "hold": 2}, strategy_id="loud"), QuietCrosser({"every": 4, "hold": 2},
                                                                                     strategy_id="quiet")
    await k.add_strategy(loud, venue="sim", symbols=["BTC/USDT"])
    await k.add_strategy(quiet, venue="sim", symbols=["BTC/USDT"])
    for i in range(40):
        ts = LiveClock().timestamp_ns()
        k.bus.publish(market_topic("trades", "sim", "BTC/USDT"),
                      TradeTick("sim", "BTC/USDT", 50_000.0, 0.01, 1, f"y{i}", ts_event=ts, ts_init=ts))  # type: ignore[arg-type]
        while any(name.startswith("strategy:") for name in k.tasks.running()):
            await asyncio.sleep(0.001)
    # both trade one netted position, so each trades about half the time
    quiet_orders = [o for o in k.cache.orders.values() if o.strategy_id == "quiet"]
    loud_orders = [o for o in k.cache.orders.values() if o.strategy_id == "loud"]
    assert len(quiet_orders) >= 5 and all(o.status is OrderStatus.FILLED for o in quiet_orders + loud_orders)
    assert len(loud_orders) >= 5 and len(loud.fills) == sum(len(o.trade_ids) for o in loud_orders)
    assert loud._own_orders == set() and quiet._own_orders == set()
    await k.stop()


def test_backtest_bar_mode_fills_at_the_next_open() -> None:
    k = make_kernel(None, mode=TradingMode.BACKTEST, bar_mode=True, initial_balances={"USDT": Decimal("100000")},
                    settings=make_settings(price_band_pct=Decimal("0"), max_orders_per_second=0.0))
    run_sync(k.start())
    inst = k.cache.instrument("sim", "BTC/USDT")
    topic = market_topic("bars", "sim", "BTC/USDT")
    minute = 60_000_000_000

    def bar(i: int, o: float) -> Bar:
        return Bar("sim", "BTC/USDT", "1m", o, o + 10, o - 10, o + 5, 1.0, ts_event=T0 + (i + 1) * minute,
                   ts_init=T0 + (i + 1) * minute)

    k.bus.publish(topic, bar(0, 50_000.0))
    order = run_sync(k.oms.submit(SubmitOrder("sim", "BTC/USDT", OrderSide.BUY, OrderType.MARKET, inst.make_qty("0.1"))))
    assert order.status is OrderStatus.ACCEPTED
    k.bus.publish(topic, bar(1, 50_100.0))
    assert order.status is OrderStatus.FILLED and order.avg_px == Decimal("50100")
    fills = [e for _, _, e in k.store.events if isinstance(e, OrderFilled)]  # type: ignore[attr-defined]
    assert fills[-1].ts_event == T0 + minute  # stamped with bar 1's open time
    late = run_sync(k.oms.submit(SubmitOrder("sim", "BTC/USDT", OrderSide.SELL, OrderType.MARKET, inst.make_qty("0.1"))))
    assert late.status is OrderStatus.ACCEPTED  # no next bar: it never fills
    run_sync(k.stop())


async def test_live_strategy_gets_its_immediate_fills(tmp_path: Path) -> None:
    k = make_kernel(tmp_path, clock=LiveClock(), initial_balances={"USDT": Decimal("100000")})
    await k.start()
    standard_book(k)
    strat = Crosser({"every": 4, "hold": 2})
    await k.add_strategy(strat, venue="sim", symbols=["BTC/USDT"])
    for i in range(30):
        ts = LiveClock().timestamp_ns()
        k.bus.publish(market_topic("trades", "sim", "BTC/USDT"),
                      TradeTick("sim", "BTC/USDT", 50_000.0, 0.01, 1, f"x{i}", ts_event=ts, ts_init=ts))  # type: ignore[arg-type]
        while any(name.startswith("strategy:") for name in k.tasks.running()):
            await asyncio.sleep(0.001)  # the handler waits for its order's durable write
    assert len(strat.fills) == 14  # market orders against the book fill inside submit: 7 in, 7 out
    await k.stop_strategy(strat.id)
    assert strat.id not in k.strategies
    await k.stop()


def test_instruments_for_paper_venues() -> None:
    insts = instruments_for("alt")
    assert {i.venue for i in insts} == {"alt"} and any(i.symbol == "BTC/USDT" for i in insts)
    k = make_kernel(None, venues=("alt",), mode=TradingMode.BACKTEST)
    run_sync(k.start())
    publish_book(k, "alt", "BTC/USDT", [(99.0, 1.0)], [(101.0, 1.0)])
    assert k.cache.mid("alt", "BTC/USDT") == 100.0
    run_sync(k.stop())


def test_memory_stays_bounded_however_many_orders() -> None:
    k = make_kernel(None, mode=TradingMode.BACKTEST, initial_balances={"USDT": Decimal("100000000")},
                    settings=make_settings(price_band_pct=Decimal("0"), max_orders_per_second=0.0))
    run_sync(k.start())
    standard_book(k)
    inst = k.cache.instrument("sim", "BTC/USDT")
    for i in range(2500):
        side = OrderSide.BUY if i % 2 == 0 else OrderSide.SELL
        run_sync(k.oms.submit(SubmitOrder("sim", "BTC/USDT", side, OrderType.MARKET, inst.make_qty("0.001"))))
    assert k.oms.stats["submitted"] == 2500
    assert len(k.cache.orders) == k.oms.max_closed  # the oldest closed orders left memory (not the store)
    assert len(k.venues["sim"].orders) <= 1000  # type: ignore[attr-defined]
    assert k.portfolio.position_qty("sim", "BTC/USDT") == 0
    run_sync(k.stop())

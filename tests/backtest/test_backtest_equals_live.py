"""Backtest = live: a paper run on the sim exchange is recorded; replaying the recording with
the same strategy gives identical orders and fills."""

from __future__ import annotations

from decimal import Decimal

from quantai_tui.backtest import run_backtest
from quantai_tui.connectors.sim.instruments import sim_instruments
from quantai_tui.connectors.sim.market import SimMarket
from quantai_tui.core.clock import TestClock
from quantai_tui.core.enums import TradingMode
from quantai_tui.core.events import OrderFilled, OrderSubmitted
from quantai_tui.data.codec import KIND_OF
from quantai_tui.data.recorder import Recorder
from quantai_tui.engine.kernel import Kernel, KernelConfig
from quantai_tui.engine.strategy_loader import load_strategy
from quantai_tui.settings.schema import Settings

SYMBOLS = ["BTC/USDT", "ETH/USDT"]
PARAMS = {"fast": 3, "slow": 10, "qty": "0.01"}


def _orders_and_fills(events):
    orders = [(e.client_order_id, e.symbol, e.side.value, e.order_type.value, str(e.quantity), e.ts_event)
              for e in events if type(e) is OrderSubmitted]
    fills = [(e.client_order_id, e.symbol, e.side.value, str(e.last_qty), str(e.last_px), str(e.fee.amount),
              e.ts_event) for e in events if type(e) is OrderFilled]
    return orders, fills


async def test_replay_of_a_recorded_paper_run_gives_the_same_orders_and_fills(tmp_path):
    insts = sim_instruments()
    clock = TestClock(SimMarket().start_ns)
    settings = Settings()
    settings.paper.currency = "USDT"
    cfg = KernelConfig(mode=TradingMode.PAPER, venues=["sim"], symbols=SYMBOLS, store="memory",
                       instruments=[insts[s] for s in SYMBOLS], initial_balances={"USDT": Decimal(100_000)},
                       fee_bps=Decimal(10), market_data=False, reconcile=False, client_id_tag="bt",
                       sample_equity_s=0.0)
    kernel = Kernel(settings, cfg, clock=clock)
    await kernel.start()
    seen: list = []
    kernel.bus.subscribe("orders.sim.>", seen.append, types=(OrderSubmitted, OrderFilled))
    recorder = Recorder(tmp_path / "rec", clock=clock)
    kernel.bus.subscribe("*.sim.*", recorder.on_event, types=tuple(KIND_OF), priority=10_000)
    strategy = load_strategy("ma_crossover")(PARAMS)
    await kernel.add_strategy(strategy, venue="sim", symbols=["BTC/USDT"])
    market = SimMarket(seed=7, symbols=SYMBOLS, rate=0.25)
    for topic, ev in market.generate(25_000):  # ~3.5 simulated hours: ~200 one-minute bars a symbol
        clock.advance_to(ev.ts_init)  # the receive time, as a live clock would read it
        kernel.bus.publish(topic, ev)
    await kernel.stop()
    files = await recorder.close()
    live_orders, live_fills = _orders_and_fills(seen)
    assert len(live_fills) >= 10 and len(live_orders) >= len(live_fills)

    # the replay: the files the recorder wrote, the same strategy and parameters
    res = run_backtest("ma_crossover", files, PARAMS, initial_capital=100_000, fee_bps=10, instruments=insts,
                       symbol="BTC/USDT")
    replayed: list = []
    # run again with a listener on the engine's bus to compare events, not just the summary
    from quantai_tui.backtest.api import resolve_data, resolve_strategy
    from quantai_tui.backtest.engine import BacktestEngine

    rec = resolve_data(files)
    eng = BacktestEngine(venue=rec.venue, instruments={s: insts[s] for s in rec.instruments},
                         initial_capital=Decimal(100_000), fee_bps=Decimal(10), data_kinds=rec.kinds)
    eng.bus.subscribe("orders.sim.>", replayed.append, types=(OrderSubmitted, OrderFilled))
    eng.add_strategy(resolve_strategy("ma_crossover", PARAMS), symbols=["BTC/USDT"])
    eng.run(rec.events)
    bt_orders, bt_fills = _orders_and_fills(replayed)
    assert bt_orders == live_orders
    assert bt_fills == live_fills
    # and through the library API, as `quantai backtest --data <recording> --symbol BTC/USDT` runs it
    assert [(f.client_order_id, f.symbol, f.side, str(f.price), f.ts) for f in res.fills] == \
        [(f[0], f[1], f[2], f[4], f[6]) for f in live_fills]

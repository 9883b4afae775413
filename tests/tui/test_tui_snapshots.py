"""SVG snapshots (stored in snapshots/ at the repo root): the main screen on a seeded sim, the
order ticket, help, the kill switch engaged, backtest results, and every theme.

Deterministic: fixed size and seed, market data pumped by hand (no feed task), no clock text,
no cursor blink, no flash, workers awaited before the capture.
Update after an intended change: pytest tests/tui --snapshot-update
"""

from __future__ import annotations

import math
from functools import cache

import pytest
from tests.tui.fake_engine import FakeEngine
from tests.tui.helpers import SIZE, make_app, settle

from quantai_tui.core.commands import SubmitOrder
from quantai_tui.core.enums import OrderSide, OrderType
from quantai_tui.core.values import Price, Quantity
from quantai_tui.tui.backtest_service import BacktestRequest, BacktestService, BacktestSummary, Progress
from quantai_tui.tui.screens.backtest import BacktestScreen

SIM_DATA = "sim BTC/USDT 1m (seed 7)"


@cache
def sim_recording():  # type: ignore[no-untyped-def]
    from quantai_tui.backtest.api import Recording
    from quantai_tui.connectors.sim import SimMarket, sim_instruments

    events = SimMarket(7, ["BTC/USDT"], rate=2).generate(15_000)
    insts = {"BTC/USDT": sim_instruments()["BTC/USDT"]}
    return Recording(events=events, instruments=insts, venue="sim", timeframe="1m")


class CannedBacktests(BacktestService):
    """Fixed results: the snapshot shows the screen, not today's numbers of the backtest engine
    (test_backtest_screen_runs_the_real_engine covers the real run)."""

    def run(self, req: BacktestRequest, progress: Progress | None = None) -> BacktestSummary:
        if progress is not None:
            progress(0.5)
            progress(1.0)
        equity = [10_000 + 40 * math.sin(i / 9) + 1.5 * i for i in range(240)]
        trades = [(f"01-01 00:{i:02d}:00", "BTC/USDT", "BUY" if i % 2 == 0 else "SELL", "0.01000",
                   f"{71_700 + 13 * i:.2f}", "0.7172") for i in range(0, 24, 2)]
        metrics = [("Return", "+3.58%"), ("CAGR", "+41.20%"), ("Sharpe", "1.42"), ("Sortino", "2.05"),
                   ("Max drawdown", "4.30%"), ("Win rate", "58.3%"), ("Profit factor", "1.61"),
                   ("Exposure", "47.9%"), ("Round trips", "6"), ("Final equity", "10,358.40"),
                   ("Fees", "8.61"), ("Orders / fills", "12 / 12"), ("Events", "15,000")]
        return BacktestSummary(f"{req.strategy} fast=5 slow=20 · BTC/USDT 1m", metrics, equity, trades, "10,358.40")


async def trading_day(pilot, app) -> None:  # type: ignore[no-untyped-def]
    """Market data seen by the UI, one resting order, one filled order, one position."""
    await settle(pilot, app)
    app.engine.pump(4000)
    await app.engine.execute(SubmitOrder("sim", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, Quantity("0.05"),
                                         Price("70000.00")))
    await app.engine.execute(SubmitOrder("sim", "BTC/USDT", OrderSide.BUY, OrderType.MARKET, Quantity("0.02")))
    app.engine.pump(1500)
    await settle(pilot, app)


def test_main_screen(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(), run_before=lambda p: trading_day(p, p.app), terminal_size=SIZE)


@pytest.mark.parametrize("theme", ["quantai-dark", "quantai-light", "quantai-high-contrast", "quantai-solarized"])
def test_each_theme(snap_compare, theme: str) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(theme=theme), run_before=lambda p: trading_day(p, p.app), terminal_size=SIZE)


def test_order_ticket(snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def open_ticket(pilot) -> None:  # type: ignore[no-untyped-def]
        await trading_day(pilot, pilot.app)
        await pilot.press("s")
        await pilot.pause()

    assert snap_compare(make_app(), run_before=open_ticket, terminal_size=SIZE)


def test_order_ticket_risk_denial(snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def denied(pilot) -> None:  # type: ignore[no-untyped-def]
        await trading_day(pilot, pilot.app)
        await pilot.press("b")
        await pilot.pause()
        pilot.app.screen.query_one("#qty").value = "3"
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(make_app(), run_before=denied, terminal_size=SIZE)


def test_help(snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def help_(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot, pilot.app)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(make_app(), run_before=help_, terminal_size=SIZE)


def test_kill_switch_engaged(snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def kill(pilot) -> None:  # type: ignore[no-untyped-def]
        await trading_day(pilot, pilot.app)
        await pilot.press("ctrl+k")
        await settle(pilot, pilot.app)

    assert snap_compare(make_app(), run_before=kill, terminal_size=SIZE)


def test_live_badge(snap_compare) -> None:  # type: ignore[no-untyped-def]
    from quantai_tui.core.enums import TradingMode

    app = make_app(FakeEngine(seed=7, mode=TradingMode.LIVE))
    assert snap_compare(app, run_before=lambda p: trading_day(p, p.app), terminal_size=SIZE)


def test_backtest_results(snap_compare) -> None:  # type: ignore[no-untyped-def]
    app = make_app(backtest=CannedBacktests(data_sources={SIM_DATA: sim_recording}))

    async def run(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot, pilot.app)
        await pilot.app.push_screen(BacktestScreen("ma_crossover", {"fast": "5", "slow": "20"}, SIM_DATA))
        await pilot.app.workers.wait_for_complete()
        for _ in range(5):
            await pilot.pause()
        assert pilot.app.screen.summary is not None

    assert snap_compare(app, run_before=run, terminal_size=SIZE)


async def test_backtest_screen_runs_the_real_engine() -> None:
    """The screen's worker runs run_backtest on the seeded sim; metrics and fills arrive."""
    from tests.tui.helpers import screen_text

    app = make_app(backtest=BacktestService(data_sources={SIM_DATA: sim_recording}))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("t")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, BacktestScreen)
        screen.query_one("#params").value = "fast=5 slow=20"
        await pilot.press("ctrl+g")
        await app.workers.wait_for_complete()
        for _ in range(5):
            await pilot.pause()
        assert screen.summary is not None and screen.summary.trades
        text = screen_text(app)
        assert "Sharpe" in text and "Max drawdown" in text and "BTC/USDT" in text
        assert "done: ma_crossover" in text

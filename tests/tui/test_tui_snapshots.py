"""SVG snapshots (stored in snapshots/ at the repo root): the main screen on a seeded sim, the
order ticket, help, the kill switch engaged, backtest results, and every theme.

Deterministic: fixed size and seed, market data pumped by hand (no feed task), no clock text,
no cursor blink, no flash, workers awaited before the capture.
Update after an intended change: pytest tests/tui --snapshot-update
"""

from __future__ import annotations

from functools import cache

import pytest
from tests.tui.fake_engine import FakeEngine
from tests.tui.helpers import SIZE, make_app, settle

from quantai_tui.core.commands import SubmitOrder
from quantai_tui.core.enums import OrderSide, OrderType
from quantai_tui.core.values import Price, Quantity
from quantai_tui.tui.backtest_service import BacktestService
from quantai_tui.tui.screens.backtest import BacktestScreen

SIM_DATA = "sim BTC/USDT 1m (seed 7)"


@cache
def sim_recording():  # type: ignore[no-untyped-def]
    from quantai_tui.backtest.api import Recording
    from quantai_tui.connectors.sim import SimMarket, sim_instruments

    events = SimMarket(7, ["BTC/USDT"], rate=2).generate(15_000)
    return Recording(events=events, instruments=sim_instruments(), venue="sim", timeframe="1m")


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
    service = BacktestService(data_sources={SIM_DATA: sim_recording})
    app = make_app(backtest=service)

    async def run(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot, pilot.app)
        await pilot.app.push_screen(BacktestScreen("ma_crossover", {"fast": "5", "slow": "20"}, SIM_DATA))
        await pilot.app.workers.wait_for_complete()
        for _ in range(5):
            await pilot.pause()
        assert pilot.app.screen.summary is not None

    assert snap_compare(app, run_before=run, terminal_size=SIZE)

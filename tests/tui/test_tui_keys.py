"""Pilot tests for every binding: each key does what the help screen says."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tests.tui.helpers import SIZE, make_app, screen_text, settle

from quantai_tui.core.commands import CancelAllOrders, CancelOrder, EngageKillSwitch, ReleaseKillSwitch, SubmitOrder
from quantai_tui.core.enums import OrderSide, OrderType, TradingState
from quantai_tui.core.values import Price, Quantity
from quantai_tui.tui.keys import KEY_SPECS
from quantai_tui.tui.screens.backtest import BacktestScreen
from quantai_tui.tui.screens.confirm import ConfirmScreen
from quantai_tui.tui.screens.help import HelpScreen
from quantai_tui.tui.screens.main import MainScreen
from quantai_tui.tui.screens.order_ticket import OrderTicket
from quantai_tui.tui.screens.replay import ReplayScreen
from quantai_tui.tui.widgets.chart import PriceChart
from quantai_tui.tui.widgets.kill_banner import KillBanner
from quantai_tui.tui.widgets.log_pane import LogPane
from quantai_tui.tui.widgets.tables import OrdersTable


def limit_order(side: OrderSide = OrderSide.BUY, price: str = "50000.00") -> SubmitOrder:
    return SubmitOrder("sim", "BTC/USDT", side, OrderType.LIMIT, Quantity("0.01"), Price(price))


def test_every_binding_is_tested_here() -> None:
    """A new binding needs a test in this file: its id must appear in it."""
    source = open(__file__).read()
    missing = [s.id for s in KEY_SPECS if f'"{s.id}"' not in source]
    assert not missing, f"untested bindings: {missing}"


async def test_kill_switch_engages_at_once_without_a_question() -> None:  # "kill_switch"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await app.engine.execute(limit_order())
        await pilot.press("ctrl+k")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)  # no confirmation screen
        assert any(isinstance(c, EngageKillSwitch) for c in app.engine.commands)
        banner = app.screen.query_one(KillBanner)
        assert banner.has_class("-engaged")
        await settle(pilot, app)
        text = screen_text(app)
        assert "KILL SWITCH ENGAGED" in text
        assert "HALTED" in text.splitlines()[0]
        assert not app.bridge.open_orders()


async def test_kill_switch_works_while_typing_in_the_chat_and_in_a_ticket() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("slash", "h", "i")
        await pilot.press("ctrl+k")
        await pilot.pause()
        assert app.engine.kill_switch_engaged()
        await pilot.press("ctrl+r", "y")
        await pilot.pause()
        await pilot.press("escape")
        app.set_focus(None)
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, OrderTicket)
        await pilot.press("ctrl+k")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)  # the ticket closed
        assert app.engine.kill_switch_engaged()


async def test_release_asks_first_and_no_keeps_it_engaged() -> None:  # "release_kill_switch"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("ctrl+k")
        await pilot.pause()
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert app.engine.kill_switch_engaged()
        await pilot.press("ctrl+r")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert any(isinstance(c, ReleaseKillSwitch) for c in app.engine.commands)
        assert not app.engine.kill_switch_engaged()
        assert not app.screen.query_one(KillBanner).has_class("-engaged")
        assert app.engine.trading_state() is TradingState.ACTIVE


async def test_help_lists_every_binding_with_its_key() -> None:  # "help"
    app = make_app(keys={"kill_switch": "ctrl+x"})
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        for spec in KEY_SPECS:
            assert spec.id in text
        assert "^x" in text
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)


async def test_command_palette_opens_and_switches_symbol() -> None:  # "command_palette"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "CommandPalette"
        await pilot.press(*"Symbol: ETH")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot, app)
        assert app.bridge.active_symbol == "ETH/USDT"


async def test_quit_without_open_orders_exits() -> None:  # "quit"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0
    assert not app.engine.started  # the engine was stopped on the way out


async def test_quit_asks_first_when_orders_are_open() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await app.engine.execute(limit_order())
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
    assert app.return_code == 0


@pytest.mark.parametrize(("key", "side"), [("b", "BUY"), ("s", "SELL")])  # "buy", "sell"
async def test_order_ticket_sends_a_valid_order(key: str, side: str) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press(key)
        await pilot.pause()
        ticket = app.screen
        assert isinstance(ticket, OrderTicket) and ticket.side == side
        ticket.query_one("#qty").value = "0.01"
        await pilot.press("enter")
        await settle(pilot, app)
        assert isinstance(app.screen, MainScreen)
        sent = [c for c in app.engine.commands if isinstance(c, SubmitOrder)]
        assert sent and sent[-1].side.value == side and sent[-1].quantity == Quantity("0.01")


async def test_order_ticket_rejects_off_lot_and_shows_risk_denials_in_place() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("b")
        await pilot.pause()
        ticket = app.screen
        ticket.query_one("#qty").value = "0.000001"  # finer than the lot 0.00001
        await pilot.press("enter")
        await pilot.pause()
        assert "lot" in screen_text(app)
        assert not any(isinstance(c, SubmitOrder) for c in app.engine.commands)
        ticket.query_one("#qty").value = "2"  # ~140k notional: over the fake's risk limit
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, OrderTicket)
        assert "max_order_notional" in screen_text(app)
        await pilot.press("escape")  # "ticket_close"
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)


async def test_cancel_selected_order() -> None:  # "cancel_order", "focus_orders"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        coid = await app.engine.execute(limit_order())
        await settle(pilot, app)
        await pilot.press("o")
        assert isinstance(app.focused, OrdersTable)
        assert app.focused.selected_order_id == coid
        await pilot.press("c")
        await settle(pilot, app)
        assert CancelOrder(coid, "sim", "BTC/USDT") in app.engine.commands
        assert not app.bridge.open_orders()


async def test_cancel_all() -> None:  # "cancel_all"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await app.engine.execute(limit_order())
        await app.engine.execute(limit_order(OrderSide.SELL, "90000.00"))
        await pilot.press("C")
        await settle(pilot, app)
        assert any(isinstance(c, CancelAllOrders) for c in app.engine.commands)
        assert not app.bridge.open_orders()


async def test_focus_chat_and_slash_buy() -> None:  # "focus_chat"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("slash")
        assert app.focused is not None and app.focused.id == "chat-input"
        await pilot.press(*"/buy 0.01", "enter")
        await settle(pilot, app)
        sent = [c for c in app.engine.commands if isinstance(c, SubmitOrder)]
        assert sent[-1].side is OrderSide.BUY and sent[-1].order_type is OrderType.MARKET
        assert sent[-1].quantity.as_decimal() == Decimal("0.01")


async def test_next_symbol_cycles() -> None:  # "next_symbol"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("n")
        await settle(pilot, app)
        assert app.bridge.active_symbol == "ETH/USDT"
        assert "sim · ETH/USDT" in screen_text(app).splitlines()[0]
        await pilot.press("n")
        assert app.bridge.active_symbol == "BTC/USDT"


async def test_chart_style_and_log_level() -> None:  # "chart_style", "log_level"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        chart = app.screen.query_one(PriceChart)
        await pilot.press("v")
        assert chart.style_name == "line"
        log = app.screen.query_one(LogPane)
        before = log.level
        await pilot.press("l")
        assert log.level != before
        assert log.level_name in str(app.screen.query_one("#log").border_title)


async def test_backtest_and_replay_screens_open_and_close() -> None:  # "backtest", "replay"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, BacktestScreen)
        await pilot.press("escape")  # "backtest_back"
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, ReplayScreen)
        await pilot.press("escape")  # "replay_back"
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)


async def test_remapped_key_replaces_the_default() -> None:
    app = make_app(keys={"kill_switch": "ctrl+x", "buy": "B"})
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)  # b no longer buys
        await pilot.press("B")
        await pilot.pause()
        assert isinstance(app.screen, OrderTicket)
        await pilot.press("escape")
        await pilot.press("ctrl+x")
        await pilot.pause()
        assert app.engine.kill_switch_engaged()


async def test_kill_key_from_the_input_thread_goes_straight_to_the_engine() -> None:
    """The terminal's input thread hands ctrl+k to the engine before the UI sees it; the binding
    that follows does not engage a second time."""
    import threading

    from textual import events

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await app.engine.execute(limit_order())
        thread = threading.Thread(target=app._driver.process_message, args=(events.Key("ctrl+k", None),))
        thread.start()
        thread.join()
        await settle(pilot, app)
        assert app.engine.kill_switch_engaged()
        assert sum(isinstance(c, EngageKillSwitch) for c in app.engine.commands) == 1
        assert app.screen.query_one(KillBanner).has_class("-engaged")
        assert not app.bridge.open_orders()
        assert app._batch_count == 0  # drawing resumed

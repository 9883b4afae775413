"""The TUI on the real engine (paper, sim): orders sent one after another show different ids in
the panes, and `/cancel ID` with the id the Orders pane shows cancels exactly that order; the
kill switch is one line in the Log pane, not the event's line and the engine's log saying it
again; an engine that cannot start says why and the status bar says it is not running."""

from __future__ import annotations

import logging
from decimal import Decimal

from tests.tui.helpers import SIZE, screen_text

from quantai_tui.commands.tui_engine import build_engine
from quantai_tui.core.enums import OrderStatus, OrderType, TradingMode
from quantai_tui.core.values import Price, Quantity
from quantai_tui.paths import Paths
from quantai_tui.settings.schema import ExchangeSettings, Settings, TuiSettings
from quantai_tui.tui.app import AppOptions, QuantAIApp
from quantai_tui.tui.formatting import short_id
from quantai_tui.tui.kernel_adapter import KernelFacade
from quantai_tui.tui.screens.order_ticket import OrderTicket
from quantai_tui.tui.widgets.chat import ChatTranscript
from quantai_tui.tui.widgets.log_pane import LogPane
from textual.widgets import Input, Select


async def _say(app: QuantAIApp, pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    """Type a line into the chat and send it (the value set at once: a live feed keeps the
    screen busy, and a press per character would wait for it every time)."""
    app.screen.query_one("#chat-input", Input).value = text
    await pilot.press("enter")


async def _until(cond, what: str, pilot) -> None:  # type: ignore[no-untyped-def]
    for _ in range(200):
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _app() -> tuple[QuantAIApp, KernelFacade]:
    facade = build_engine(Settings(), Paths(), "sim", ["BTC/USDT"], TradingMode.PAPER)
    return QuantAIApp(facade, AppOptions(tui=TuiSettings(), deterministic=True, log_level=logging.INFO)), facade


async def test_two_orders_get_two_ids_and_cancel_by_the_shown_id_cancels_one() -> None:
    app, facade = _app()
    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: facade.kernel.started and facade.kernel.cache.mark("sim", "BTC/USDT"), "prices",
                     pilot)
        mid = Decimal(repr(facade.kernel.cache.mark("sim", "BTC/USDT")))
        price = (mid * Decimal("0.99")).quantize(Decimal("0.01"))  # rests in the book, inside the price band
        await pilot.press("slash")
        for _ in range(2):
            await _say(app, pilot, f"/buy 0.001 @ {price}")
        await _until(lambda: len(app.bridge.open_orders()) == 2, "two open orders", pilot)
        first, second = sorted(app.bridge.open_orders(), key=lambda o: o.client_order_id)
        shown = short_id(first.client_order_id), short_id(second.client_order_id)
        assert shown[0] != shown[1]
        await _until(lambda: f"#{shown[0]}" in screen_text(app) and f"#{shown[1]}" in screen_text(app),
                     "both ids in the Orders pane", pilot)
        await _say(app, pilot, f"/cancel {shown[0]}")
        await _until(lambda: len(app.bridge.open_orders()) == 1, "one order canceled", pilot)
        assert [o.client_order_id for o in app.bridge.open_orders()] == [second.client_order_id]


async def test_stop_orders_from_the_ticket_and_the_chat_rest_with_their_trigger() -> None:
    app, facade = _app()
    k = facade.kernel
    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: k.started and k.cache.mark("sim", "BTC/USDT"), "prices", pilot)
        mid = Decimal(repr(k.cache.mark("sim", "BTC/USDT")))
        below, above = ((mid * Decimal(f)).quantize(Decimal("0.01")) for f in ("0.98", "1.02"))
        await pilot.press("b")
        await pilot.pause()
        ticket = app.screen
        assert isinstance(ticket, OrderTicket) and not ticket.query_one("#trigger").display
        ticket.query_one("#type", Select).value = "STOP_MARKET"
        await pilot.pause()
        assert ticket.query_one("#trigger").display and ticket.query_one("#price", Input).disabled
        ticket.query_one("#qty", Input).value = "0.001"
        ticket.query_one("#trigger", Input).value = str(below)  # a buy stop under the market fires at once
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, OrderTicket) and "would fire at once" in screen_text(app)
        ticket.query_one("#trigger", Input).value = str(above)
        await pilot.press("enter")
        await _until(lambda: len(app.bridge.open_orders()) == 1, "the stop order", pilot)
        stop = k.oms.get(app.bridge.open_orders()[0].client_order_id)
        assert stop is not None and stop.order_type is OrderType.STOP_MARKET and stop.trigger_price == Price(above)
        assert stop.status is OrderStatus.ACCEPTED  # waits at the venue for its trigger
        await pilot.press("slash")
        await _say(app, pilot, f"/amend {short_id(stop.client_order_id)} stop {above + 50}")  # move it up
        await _until(lambda: stop.trigger_price == Price(above + 50), "the moved trigger", pilot)
        await pilot.press("slash")
        higher = above + 100
        await _say(app, pilot, f"/buy 0.001 stop {higher} @ {higher + 5}")
        await _until(lambda: len(app.bridge.open_orders()) == 2, "the stop-limit order", pilot)
        sl = next(k.oms.get(o.client_order_id) for o in app.bridge.open_orders()
                  if o.client_order_id != stop.client_order_id)
        assert sl is not None and sl.order_type is OrderType.STOP_LIMIT
        assert (sl.trigger_price, sl.price) == (Price(higher), Price(higher + 5))
        want = (f"stop {above + 50}", f"{higher + 5} stop {higher}", "STOP LMT")
        await _until(lambda: all(w in screen_text(app) for w in want), "the stops in the Orders pane", pilot)


async def test_amend_moves_a_resting_order_by_its_shown_id() -> None:
    app, facade = _app()
    k = facade.kernel
    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: k.started and k.cache.mark("sim", "BTC/USDT"), "prices", pilot)
        mid = Decimal(repr(k.cache.mark("sim", "BTC/USDT")))
        price, moved = ((mid * Decimal(f)).quantize(Decimal("0.01")) for f in ("0.99", "0.985"))
        await pilot.press("slash")
        await _say(app, pilot, f"/buy 0.001 @ {price}")
        await _until(lambda: len(app.bridge.open_orders()) == 1, "the order", pilot)
        coid = app.bridge.open_orders()[0].client_order_id
        await _say(app, pilot, f"/amend {short_id(coid)} @ {moved} qty 0.002")
        await _until(lambda: k.oms.get(coid).price == Price(moved), "the new price", pilot)  # type: ignore[union-attr]
        order = k.oms.get(coid)
        assert order is not None and order.quantity == Quantity("0.002") and order.status is OrderStatus.ACCEPTED
        await _say(app, pilot, f"/amend {short_id(coid)} @ {moved + Decimal('0.001')}")  # off the tick: refused here
        await _say(app, pilot, f"/amend {short_id(coid)} stop {moved}")  # a limit order has no trigger to move
        await _until(lambda: "amend refused" in app.screen.query_one(ChatTranscript).plain(), "the refusal", pilot)
        chat = app.screen.query_one(ChatTranscript).plain()
        assert "amend sent" in chat and "tick" in chat and "amend refused" in chat, chat
        assert k.oms.get(coid).price == Price(moved)  # type: ignore[union-attr]


async def test_the_kill_switch_is_said_once_in_the_log_pane() -> None:
    app, facade = _app()
    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: facade.kernel.started, "the engine", pilot)
        await pilot.press("ctrl+k")
        await _until(lambda: facade.kernel.kill_switch.engaged, "the kill switch", pilot)
        pane = app.screen.query_one(LogPane)
        await _until(lambda: any("KILL SWITCH ENGAGED" in e.text for e in pane.entries), "the log line", pilot)
        await pilot.pause(0.3)  # anything said twice would be here by now
        lines = [e.text for e in pane.entries]
        assert sum("KILL SWITCH ENGAGED" in t for t in lines) == 1, lines
        assert sum("-> HALTED" in t for t in lines) == 1, lines


async def test_an_engine_that_cannot_start_says_why_and_the_status_bar_says_so() -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on: connection refused at once
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings()
    settings.exchanges["binance"] = ExchangeSettings(rest_url=f"http://127.0.0.1:{port}")
    facade = build_engine(settings, Paths(), "binance", ["BTC/USDT"], TradingMode.PAPER)
    app = QuantAIApp(facade, AppOptions(tui=TuiSettings(), deterministic=True, log_level=logging.INFO))
    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: facade.start_error, "the start to fail", pilot)
        await pilot.pause(0.5)
        text = screen_text(app)
        assert "engine not running" in text.splitlines()[0] and "disconnected" in text.splitlines()[0]
        lines = [e.text for e in app.screen.query_one(LogPane).entries]
        failed = [t for t in lines if "engine failed to start" in t]
        assert len(failed) == 1 and "cannot load markets" in failed[0]
        assert f"127.0.0.1:{port}" in failed[0] and "(" in failed[0]  # the root cause, not only the URL

"""The TUI's pure parts: slash commands, candles, size bars, themes, keys, ticket validation,
and the bridge's coalescing and staleness."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest
from tests.tui.fake_engine import FakeEngine

from quantai_tui.core.errors import PrecisionError, ValidationError
from quantai_tui.tui import messages as m
from quantai_tui.tui.bridge import Bridge
from quantai_tui.tui.candles import CandleSeries
from quantai_tui.tui.chat_commands import SlashError, parse_slash
from quantai_tui.tui.keys import KEY_SPECS, display_key, effective_keys, unknown_ids
from quantai_tui.tui.screens.order_ticket import default_quantity, validate_ticket
from quantai_tui.tui.themes import BUILTIN_DIR, load_themes, theme_from_data
from quantai_tui.tui.widgets.order_book import size_bar

NS = 1_000_000_000


# --- slash commands -------------------------------------------------------------------------
def test_slash_buy_market_and_limit() -> None:
    s = parse_slash("/buy 0.01")
    assert (s.name, s.quantity, s.price, s.symbol) == ("buy", Decimal("0.01"), None, None)
    s = parse_slash("/sell 0.5 eth/usdt @ 2,000.5")
    assert (s.name, s.quantity, s.price, s.symbol) == ("sell", Decimal("0.5"), Decimal("2000.5"), "ETH/USDT")
    assert parse_slash("/buy BTC/USDT:PERP 1 limit 30000").symbol == "BTC/USDT:USDT"
    assert parse_slash("/buy 1 @30000").price == Decimal(30000)
    s = parse_slash("/sell 0.01 stop 60,000")
    assert (s.quantity, s.price, s.trigger) == (Decimal("0.01"), None, Decimal(60000))
    s = parse_slash("/buy 0.01 ETH/USDT stop 4000 @ 4010")
    assert (s.symbol, s.price, s.trigger) == ("ETH/USDT", Decimal(4010), Decimal(4000))


@pytest.mark.parametrize("text", ["/buy", "/buy -1", "/buy abc", "/sell 1 @", "/buy 1 2", "/sell 1 stop", "/amend", "/amend a1", "/amend a1 @", "/amend a1 to 5",
                                  "/nope", "/cancel",
                                  "/backtest ma x=", "/symbol FOO"])
def test_slash_errors_are_one_line(text: str) -> None:
    with pytest.raises(SlashError) as info:
        parse_slash(text)
    assert "\n" not in str(info.value)


def test_slash_other_commands() -> None:
    assert parse_slash("/cancel #a9f0001").target == "a9f0001"
    s = parse_slash("/amend #a9f001 @ 2,010.5 qty 0.4")
    assert (s.name, s.target, s.price, s.quantity, s.trigger) == ("amend", "a9f001", Decimal("2010.5"),
                                                                   Decimal("0.4"), None)
    assert parse_slash("/amend a9f001 @2000").price == Decimal(2000)
    assert parse_slash("/amend a9f001 stop 1900").trigger == Decimal(1900)
    assert parse_slash("/kill").name == "kill"
    assert parse_slash("/kill release").target == "release"
    s = parse_slash("/backtest ma_crossover fast=5 slow=20")
    assert (s.target, s.params) == ("ma_crossover", {"fast": "5", "slow": "20"})
    assert parse_slash("/help").name == "help"


# --- candles, bars ------------------------------------------------------------------------------
def test_candles_bucket_trades_and_rebucket() -> None:
    c = CandleSeries(base_ns=NS)
    for i, px in enumerate([10.0, 12.0, 9.0, 11.0, 20.0]):
        c.add(px, 1.0, i * NS // 2)  # two trades a second
    one = c.candles()
    assert [(x.open, x.high, x.low, x.close, x.volume) for x in one] == [
        (10.0, 12.0, 10.0, 12.0, 2.0), (9.0, 11.0, 9.0, 11.0, 2.0), (20.0, 20.0, 20.0, 20.0, 1.0)]
    five = c.candles(5 * NS)
    assert len(five) == 1 and (five[0].open, five[0].high, five[0].low, five[0].close) == (10.0, 20.0, 9.0, 20.0)


def test_size_bar_scales_in_eighths() -> None:
    assert size_bar(1.0, 1.0, 4) == "████"
    assert size_bar(0.5, 1.0, 4) == "██"
    assert size_bar(0.01, 1.0, 4) == "▏"  # never invisible
    assert size_bar(1.0, 0.0, 4) == ""


# --- themes and keys ----------------------------------------------------------------------------
def test_four_theme_files_load() -> None:
    themes = load_themes()
    names = {p.stem for p in BUILTIN_DIR.glob("*.toml")}
    assert {"quantai-dark", "quantai-light", "quantai-high-contrast", "quantai-solarized"} <= names <= set(themes)
    assert themes["quantai-light"].dark is False


def test_a_broken_user_theme_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("name = 'x'\ncolour = 'red'\n")
    (tmp_path / "mine.toml").write_text("name = 'mine'\nprimary = '#123456'\n")
    themes = load_themes(tmp_path)
    assert "mine" in themes and "x" not in themes
    with pytest.raises(ValueError):
        theme_from_data({"primary": "#000000"})


def test_no_hex_colours_in_styles() -> None:
    """Styles use theme variables only: no literal colour in any DEFAULT_CSS."""
    root = Path(__file__).resolve().parents[2] / "quantai_tui" / "tui"
    import re

    for f in root.rglob("*.py"):
        for css in re.findall(r'DEFAULT_CSS = """(.*?)"""', f.read_text(), re.S):
            assert not re.search(r"#[0-9a-fA-F]{3,8}\b", css), f"hex colour in {f.name}"
            assert not re.search(r"\b(red|green|blue|yellow|white|black)\b", css), f"named colour in {f.name}"


def test_keys_have_ids_and_remap() -> None:
    assert len({s.id for s in KEY_SPECS}) == len(KEY_SPECS)
    keys = effective_keys({"kill_switch": "ctrl+x"})
    assert keys["kill_switch"] == "ctrl+x" and keys["buy"] == "b"
    assert unknown_ids({"kil_switch": "x"}) == ["kil_switch"]
    assert display_key("ctrl+k") == "^k" and display_key("question_mark") == "?"


# --- the order ticket's checks ---------------------------------------------------------------------
def test_ticket_validation_against_the_instrument() -> None:
    inst = FakeEngine().instrument("BTC/USDT")
    v = validate_ticket(inst, "BUY", "LIMIT", "0.01", "65000.10")
    assert str(v.quantity) == "0.01000" and str(v.price) == "65000.10"
    with pytest.raises(PrecisionError):
        validate_ticket(inst, "BUY", "LIMIT", "0.000001", "65000")
    with pytest.raises(PrecisionError):
        validate_ticket(inst, "BUY", "LIMIT", "0.01", "65000.001")
    with pytest.raises(ValidationError, match="below the minimum"):
        validate_ticket(inst, "BUY", "LIMIT", "0.00001", "65000")
    with pytest.raises(ValidationError, match="needs a price"):
        validate_ticket(inst, "BUY", "LIMIT", "0.01", "")
    assert validate_ticket(inst, "SELL", "MARKET", "0.01", "").price is None
    assert Decimal(default_quantity(inst, 70000.0)) * 70000 >= 100


def test_ticket_validation_of_stop_orders() -> None:
    inst = FakeEngine().instrument("BTC/USDT")
    v = validate_ticket(inst, "SELL", "STOP_MARKET", "0.01", "", "60000.5", market=65000.0)
    assert (v.order_type.value, v.price, str(v.trigger)) == ("STOP_MARKET", None, "60000.50")
    v = validate_ticket(inst, "BUY", "STOP_LIMIT", "0.01", "70010", "70000", market=65000.0)
    assert (str(v.price), str(v.trigger)) == ("70010.00", "70000.00")
    with pytest.raises(ValidationError, match="needs a trigger"):
        validate_ticket(inst, "SELL", "STOP_MARKET", "0.01", "", "")
    with pytest.raises(ValidationError, match="stop-limit order needs a price"):
        validate_ticket(inst, "BUY", "STOP_LIMIT", "0.01", "", "70000")
    with pytest.raises(PrecisionError):
        validate_ticket(inst, "SELL", "STOP_MARKET", "0.01", "", "60000.001")
    with pytest.raises(ValidationError, match="buy stop triggers above the market"):
        validate_ticket(inst, "BUY", "STOP_MARKET", "0.01", "", "64000", market=65000.0)
    with pytest.raises(ValidationError, match="sell stop triggers below the market"):
        validate_ticket(inst, "SELL", "STOP_MARKET", "0.01", "", "65000", market=65000.0)


# --- the bridge ---------------------------------------------------------------------------------
async def test_bridge_coalesces_book_frames_to_max_fps() -> None:
    """10,000 messages in one burst become one frame: the latest book, not a backlog; publish
    only appended to the subscriber (it never ran during the burst)."""
    engine = FakeEngine()
    posted: list[object] = []
    bridge = Bridge(engine, posted.append, max_fps=20)
    await bridge.start()
    await asyncio.sleep(0)  # the first full refresh after start
    posted.clear()
    engine.pump(10_000)
    book_sub = next(s for s in bridge._subs if s.name == "tui.book")
    assert book_sub.delivered == 0 and book_sub.pending <= 2  # one slot per symbol
    for sub in bridge._subs:
        await sub.drain()
    while bridge._frame_handle is not None:  # the frame scheduled by the burst
        await asyncio.sleep(0.01)
    frames = [p for p in posted if isinstance(p, m.FrameUpdated)]
    assert len(frames) == 1
    assert frames[0].book is not None and frames[0].chart is not None  # both in one frame
    assert frames[0].book.bids[0][0] == engine.book("BTC/USDT").best_bid()[0]
    assert book_sub.coalesced > 1000
    await bridge.stop()


async def test_bridge_flags_stale_data() -> None:
    engine = FakeEngine()
    now = [100.0]
    bridge = Bridge(engine, lambda _m: None, monotonic=lambda: now[0])
    await bridge.start()
    engine.pump(200)
    for sub in bridge._subs:
        await sub.drain()
    assert not bridge.status_now().stale
    now[0] += 6.0
    assert bridge.status_now().stale
    await bridge.stop()


def test_log_lines_of_positions_show_prices_without_padding_zeros() -> None:
    from quantai_tui.core.enums import PositionSide
    from quantai_tui.core.events import PositionOpened
    from quantai_tui.core.values import Money, Price, Quantity
    from quantai_tui.tui.formatting import describe_event, plain_price

    e = PositionOpened("sim", "BTC/USDT", PositionSide.LONG, Quantity("0.01000"), Price("68498.040000"),
                       Money("0", "USDT"), ts_event=1, ts_init=1)
    assert describe_event(e)[1] == "position opened BTC/USDT LONG 0.01000 @ 68498.04"
    assert plain_price(Price("68498.041250")) == "68498.04125" and plain_price(Price("3000")) == "3000"


# --- the ladder marks our resting orders ----------------------------------------------------------
async def test_the_ladder_marks_levels_where_our_orders_rest() -> None:
    from tests.tui.helpers import SIZE, make_app, settle

    from quantai_tui.core.commands import SubmitOrder
    from quantai_tui.core.enums import OrderSide, OrderType
    from quantai_tui.core.values import Price, Quantity
    from quantai_tui.tui.widgets.order_book import OrderBookLadder

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        ladder = app.screen.query_one(OrderBookLadder)
        assert not any(p == "●" for line in ladder.build_lines(40, 30) for p, _ in line)
        view = app.bridge.book_view()
        assert view is not None and len(view.bids) > 3
        level = view.bids[2][0]
        await app.engine.execute(SubmitOrder("sim", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, Quantity("0.01"),
                                             Price(f"{level:.2f}")))
        await settle(pilot, app)
        assert round(level, 2) in app.bridge.book_view().mine  # type: ignore[union-attr]
        marked = [line for line in ladder.build_lines(40, 30) if any(p == "●" for p, _ in line)]
        assert len(marked) == 1 and f"{level:,.2f}" in marked[0][0][0]

"""P&L by hand: partial fills, flips, fees, perpetuals (linear and inverse), balances and
equity, through the OMS and portfolio on a real SQLite store; and the same state after a
restart (rebuilt from the store)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from quantai_tui.core.commands import SubmitOrder
from quantai_tui.core.enums import OrderSide, OrderType, PositionSide
from quantai_tui.core.events import PositionClosed, PositionOpened
from quantai_tui.core.instruments import make_instrument
from quantai_tui.core.positions import Ledger, NettingPosition
from quantai_tui.core.values import EXACT, Price, Quantity

from tests.trading.helpers import FakeVenue, VenueState, kernel_on_venue, publish_quote

D = Decimal


async def start_fake(tmp_path: Path, state: VenueState | None = None, symbols: tuple[str, ...] = ("BTC/USDT",)):
    k, venue = kernel_on_venue(tmp_path, FakeVenue, state, symbols=symbols)
    await k.start()
    return k, venue


async def buy_sell(k, side: OrderSide, qty: str, symbol: str = "BTC/USDT", price: str = "100.00") -> str:
    inst = k.cache.instrument("fake", symbol)
    res = await k.execute(SubmitOrder("fake", symbol, side, OrderType.LIMIT, inst.make_qty(qty), inst.make_price(price)))
    assert res.ok, res.message
    return res.client_order_id


async def test_spot_partial_fills_and_fees(tmp_path: Path) -> None:
    k, v = await start_fake(tmp_path)
    assert k.portfolio.balance("fake", "USDT") == D("100000")
    c = await buy_sell(k, OrderSide.BUY, "1", price="101.00")
    v.fill(c, "0.40000", "100.00")
    v.fill(c, "0.60000", "101.00")
    pos = k.portfolio.position("fake", "BTC/USDT")
    assert pos.qty == D("1") and pos.avg_price == D("100.6")
    assert pos.realized_pnl == D("-0.1006")  # fees only so far: 0.04 + 0.0606
    assert k.portfolio.balance("fake", "USDT") == D("100000") - D("100.6") - D("0.1006")
    assert k.portfolio.balance("fake", "BTC") == D("1")
    c2 = await buy_sell(k, OrderSide.SELL, "1", price="110.00")
    v.fill(c2, "1.00000", "110.00")
    assert pos.qty == 0
    assert pos.realized_pnl == D("9.4") - D("0.1006") - D("0.11")  # 9.1894
    assert k.portfolio.balance("fake", "USDT") == D("100009.1894")
    await k.stop()
    k2, _ = await start_fake(tmp_path, v.ex)  # rebuilt from the store, reconciled with the venue
    p2 = k2.portfolio.position("fake", "BTC/USDT")
    assert p2.realized_pnl == D("9.1894") and p2.qty == 0
    assert k2.portfolio.balance("fake", "USDT") == D("100009.1894")
    await k2.stop()


async def test_perpetual_flip_with_fees(tmp_path: Path) -> None:
    sym = "BTC/USDT:USDT"
    k, v = await start_fake(tmp_path, symbols=(sym,))
    seen: list[object] = []
    k.bus.subscribe("positions.>", seen.append)
    c = await buy_sell(k, OrderSide.BUY, "2", sym, "100.0")
    v.fill(c, "2.000", "100.0")  # fee 0.2
    c = await buy_sell(k, OrderSide.SELL, "3", sym, "110.0")
    v.fill(c, "3.000", "110.0")  # closes 2 (+20), opens short 1 @ 110; fee 0.33
    pos = k.portfolio.position("fake", sym)
    assert pos.qty == D("-1") and pos.avg_price == D("110") and pos.side is PositionSide.SHORT
    assert [type(e) for e in seen[-2:]] == [PositionClosed, PositionOpened]
    publish_quote(k, "fake", sym, 104.9, 105.1)  # mark 105: short 1 from 110 is +5 unrealised
    assert k.portfolio.unrealized_pnl("fake") == 5.0
    # margin at 1x: 110 held; equity = balance + unrealised
    bal = D("100000") + D("20") - D("0.2") - D("0.33")
    assert k.portfolio.balance("fake", "USDT") == bal
    assert k.portfolio.free("fake", "USDT") == bal - D("110")
    assert abs(k.portfolio.equity("fake") - (float(bal) + 5.0)) < 1e-6
    c = await buy_sell(k, OrderSide.BUY, "1", sym, "105.0")
    v.fill(c, "1.000", "105.0")  # +5, fee 0.105
    assert pos.qty == 0
    assert pos.realized_pnl == D("25") - D("0.635")
    assert k.portfolio.balance("fake", "USDT") == D("100024.365")
    await k.stop()


def test_inverse_perpetual_pnl_in_base() -> None:
    inst = make_instrument("x", "BTC/USD:BTC", "0.5", "1", contract_size="100")
    led = Ledger()
    led.apply_fill("x", inst, D("1000"), D("50000"), D(0), "BTC")
    pos, _, pnl, assets = led.apply_fill("x", inst, D("-1000"), D("55000"), D("0.0001"), "BTC")
    # 1000 contracts * 100 USD * (1/50000 - 1/55000) = 0.18181818... BTC
    assert abs(Fraction(pnl) - Fraction(2, 11)) < Fraction(1, 10**50)  # exact to 50 places
    assert pos.qty == 0 and assets == ("BTC",)
    assert led.balance("x", "BTC") == EXACT.subtract(pnl, D("0.0001"))


def test_average_entry_and_partial_close_keep_cost_exact() -> None:
    p = NettingPosition("x", "ETH/USDT")
    p.apply_fill(D("1"), D("100"))
    p.apply_fill(D("1"), D("101"))
    p.apply_fill(D("1"), D("102"))
    assert p.avg_price == D("101")
    assert p.apply_fill(D("-1.5"), D("111")) == D("15")
    assert p.qty == D("1.5") and p.avg_price == D("101")
    assert p.apply_fill(D("-1.5"), D("91")) == D("-15") and p.is_flat


def test_values_precision() -> None:
    assert Price("100.6") == D("100.6") and Quantity("1.000") == 1

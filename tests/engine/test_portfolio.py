"""The portfolio's read-outs and its memory bounds: the equity curve decimates instead of
growing, adjusted positions survive a restart, leverage sets the margin, equity and exposure
value what they can (marks from another venue's market), and fills finer than the lot keep
every digit."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from quantai_tui.core.clock import TestClock
from quantai_tui.core.commands import SubmitOrder
from quantai_tui.core.enums import OrderSide, OrderType
from quantai_tui.core.events import PositionOpened
from quantai_tui.core.values import Quantity
from quantai_tui.engine.portfolio import EquityCurve
from quantai_tui.store.sqlite import read_events

from tests.trading.helpers import T0, kernel_on_venue, make_kernel, make_settings, publish_quote, standard_book


def test_the_equity_curve_stays_bounded_and_keeps_the_whole_span() -> None:
    curve = EquityCurve(max_points=4)  # raised to the floor of 16
    assert curve.max_points == 16 and len(curve) == 0 and curve.last is None
    for i in range(1000):
        curve.add(i, float(i))
    assert len(curve) <= 16
    ts = list(curve.ts)
    assert ts[0] == 0 and ts == sorted(ts)  # the start is kept, still in time order
    assert ts[-1] >= 1000 - 64  # and it reaches (almost) the end: samples are thinned, not cut off
    steps = [b - a for a, b in zip(ts, ts[1:], strict=False)]
    assert max(steps) - min(steps) <= 1  # evenly spaced (to a sample) after every decimation
    assert list(curve.values) == [float(t) for t in ts] and curve.last == float(ts[-1])


async def test_adjusted_positions_and_leverage(tmp_path: Path) -> None:
    sym = "BTC/USDT:USDT"
    k = make_kernel(tmp_path, symbols=(sym,))
    await k.start()
    k.portfolio.adjust_position("sim", sym, Decimal("-0.5"), Decimal("60000"), "taken over by hand")
    pos = k.portfolio.position("sim", sym)
    assert pos is not None and pos.qty == Decimal("-0.5") and pos.avg_price == Decimal("60000")
    assert k.portfolio.free("sim", "USDT") == Decimal("10000") - Decimal("30000")  # 1x: the whole notional
    k.portfolio.set_leverage("sim", sym, Decimal("10"))
    assert k.portfolio.free("sim", "USDT") == Decimal("10000") - Decimal("3000")
    await k.stop()
    k2 = make_kernel(tmp_path, symbols=(sym,))
    await k2.start()
    pos = k2.portfolio.position("sim", sym)
    assert pos is not None and pos.qty == Decimal("-0.5") and pos.avg_price == Decimal("60000")
    await k2.stop()


async def test_equity_and_exposure_use_marks_and_fall_back_sensibly(tmp_path: Path) -> None:
    k, fake = kernel_on_venue(tmp_path, venues=("sim", "fake"))  # make_kernel's settings
    await k.start()
    standard_book(k, "sim", "BTC/USDT", mid=50_000.0)
    pf = k.portfolio
    pf.set_balance("fake", "BTC", Decimal("0.1"))  # fake has no BTC market: valued at sim's mark
    pf.set_balance("fake", "USDT", Decimal("0"))
    assert pf.asset_price("fake", "BTC") == 50_000.0
    assert pf.equity("fake") == 5_000.0
    assert pf.equity("sim") == 10_000.0 and pf.equity() == 15_000.0
    assert pf.venues() == {"sim", "fake"}
    assert pf.exposure() == 0.0
    pf.adjust_position("sim", "BTC/USDT", Decimal("0.2"), Decimal("40000"), "test")
    pf.adjust_position("fake", "ETH/USDT", Decimal("-2"), Decimal("3000"), "test")  # no ETH mark anywhere
    assert pf.exposure("sim") == 0.2 * 50_000.0  # at the mark
    assert pf.exposure("fake") == 2 * 3_000.0  # no mark: at its average price
    assert pf.exposure() == 10_000.0 + 6_000.0
    k.watch("fake", "ETH/USDT")
    publish_quote(k, "fake", "ETH/USDT", 3_099.0, 3_101.0)
    assert pf.exposure("fake") == 2 * 3_100.0
    await k.stop()


async def test_a_fill_finer_than_the_lot_keeps_every_digit(tmp_path: Path) -> None:
    k, v = kernel_on_venue(tmp_path, settings=make_settings(price_band_pct=Decimal("0"), max_orders_per_second=0.0,
                                                            check_balance=False))
    await k.start()
    inst = k.cache.instrument("fake", "BTC/USDT")
    res = await k.execute(SubmitOrder("fake", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, inst.make_qty("1"),
                                      inst.make_price(40_000)))
    v.fill(res.client_order_id, Quantity("0.1234567"), "40000")  # the venue's own size, finer than 0.00001
    assert k.portfolio.position_qty("fake", "BTC/USDT") == Decimal("0.1234567")
    await k.stop()
    opened = [e for _, e in read_events(tmp_path / "events.sqlite", types=["PositionOpened"])]
    assert len(opened) == 1 and isinstance(opened[0], PositionOpened)
    assert opened[0].quantity == Quantity("0.1234567") and opened[0].quantity.precision == 7


async def test_the_day_s_baseline_waits_for_the_prices_of_what_is_held(tmp_path: Path) -> None:
    """Held BTC has no price until the first quote: a day's start equity fixed before it would
    count the BTC as the day's gain (and loosen the daily loss limit by its value)."""
    clock = TestClock(T0)
    k = make_kernel(tmp_path, clock=clock, sample_equity_s=0.0)  # samples taken here, by hand
    await k.start()
    pf = k.portfolio
    pf.set_balance("sim", "BTC", Decimal("1"))
    pf.sample_equity()
    assert not pf.equity_complete and pf.day_start_equity is None  # no price for BTC yet
    assert pf.day_pnl() == 0.0
    publish_quote(k, "sim", "BTC/USDT", 49_999.0, 50_001.0)
    pf.sample_equity()
    assert pf.equity_complete and pf.day_start_equity == 10_000.0 + 50_000.0
    # an asset with no market anywhere is left out once the grace period is over
    day1 = pf.day_start_ns
    clock.advance_to(clock.timestamp_ns() + 86_400 * 10**9)  # the next day: a new baseline is due
    pf.set_balance("sim", "XYZ", Decimal("5"))
    publish_quote(k, "sim", "BTC/USDT", 49_999.0, 50_001.0)
    pf.sample_equity()
    assert not pf.equity_complete and pf.day_start_ns == day1  # still waiting for XYZ's price
    clock.advance_to(clock.timestamp_ns() + 31 * 10**9)
    pf.sample_equity()
    assert pf.day_start_equity == 60_000.0 and pf.day_start_ns > T0
    await k.stop()

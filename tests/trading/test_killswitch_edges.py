"""The kill switch where the sweep is not enough: a venue that refuses the cancels (the watchdog
cancels the straggler again), an order the venue accepts after the sweep, and positions that
cannot be flattened (no venue for them, dust below the lot)."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from pathlib import Path

import pytest

from quantai_tui.core.commands import EngageKillSwitch
from quantai_tui.core.enums import OrderStatus
from quantai_tui.core.errors import VenueRejected
from quantai_tui.core.events import OrderAccepted
from quantai_tui.engine.kernel import Kernel

from tests.trading.helpers import ScriptedVenue, kernel_on_venue, make_kernel, make_settings, place_limit, standard_book


def settings(retry_s: float = 0.05):  # noqa: ANN201
    s = make_settings(price_band_pct=Decimal("0"), max_orders_per_second=0.0, check_balance=False)
    s.kill_switch.cancel_retry_s = retry_s
    return s


async def engine(tmp_path: Path, retry_s: float = 0.05) -> tuple[Kernel, ScriptedVenue]:
    k, v = kernel_on_venue(tmp_path, ScriptedVenue, settings=settings(retry_s))
    await k.start()
    return k, v



async def test_the_watchdog_cancels_what_the_sweep_could_not(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    k, v = await engine(tmp_path)
    a = await place_limit(k)
    v.fail["cancel_all"] = ConnectionResetError("cancel-all endpoint down")
    v.fail["cancel"] = VenueRejected("busy, try again")  # the fallback, order by order, is refused too
    with caplog.at_level(logging.WARNING, logger="quantai.killswitch"):
        report = (await k.execute(EngageKillSwitch("test", "test"))).data
        assert report.orders_to_cancel == 1 and report.open_after_sweep == 1
        assert k.oms.get(a).status is OrderStatus.ACCEPTED  # the refused cancel put it back
        for _ in range(100):
            if k.oms.open_count == 0:
                break
            await asyncio.sleep(0.01)
    assert k.oms.get(a).status is OrderStatus.CANCELED
    assert "canceled 1 straggling order(s) again" in caplog.text
    await k.stop()


async def test_an_order_accepted_after_the_sweep_is_canceled_on_its_acknowledgement(tmp_path: Path) -> None:
    k, v = await engine(tmp_path, retry_s=60.0)  # no watchdog round within the test
    v.silent = True  # the venue's acknowledgement is late: here the order is still SUBMITTED
    a = await place_limit(k)
    v.silent = False
    o = k.oms.get(a)
    assert o.status is OrderStatus.SUBMITTED
    v.fail["cancel_all"] = ConnectionResetError("down")
    v.fail["cancel"] = VenueRejected("unknown order")  # the sweep misses it: not there yet
    await k.execute(EngageKillSwitch("test", "test"))
    assert o.status is OrderStatus.SUBMITTED
    now = k.clock.timestamp_ns()
    k.oms.on_report(OrderAccepted.make(a, "fake", "BTC/USDT", "V1", now, now))  # and now it arrives
    for _ in range(100):
        if o.status is OrderStatus.CANCELED:
            break
        await asyncio.sleep(0.005)
    assert o.status is OrderStatus.CANCELED
    assert v.calls.count("cancel") == 2  # the sweep's, refused, and the one on the acknowledgement
    await k.stop()


async def test_positions_that_cannot_be_flattened_are_logged_and_left(tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    k = make_kernel(tmp_path, settings=settings())
    await k.start()
    standard_book(k)
    k.portfolio.adjust_position("gone", "BTC/USDT", Decimal("0.5"), Decimal("50000"), "test")  # no such venue
    k.portfolio.adjust_position("sim", "BTC/USDT", Decimal("0.000004"), Decimal("50000"), "test")  # below the lot
    with caplog.at_level(logging.ERROR, logger="quantai.killswitch"):
        report = (await k.execute(EngageKillSwitch("flat", "test", flatten=True))).data
    assert report.flatten_orders == []
    assert "cannot flatten BTC/USDT on gone: no instrument or venue" in caplog.text
    assert k.oms.open_count == 0 and not k.cache.orders
    await k.stop()

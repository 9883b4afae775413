"""The kernel's command surface and its lifecycle edges: trading states set by hand, the kill
switch's interplay with them, commands it does not know, configurations it refuses at start (and
the clean abort), a venue that fails to stop, and cancels and amends on the backtest path (no
event loop at all)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from quantai_tui.core.commands import (
    CancelAllOrders,
    CancelOrder,
    Command,
    EngageKillSwitch,
    ModifyOrder,
    ReleaseKillSwitch,
    SetTradingState,
    SubmitOrder,
)
from quantai_tui.core.enums import OrderSide, OrderStatus, OrderType, TradingMode, TradingState
from quantai_tui.core.errors import ConfigError
from quantai_tui.engine.kernel import EXECUTION_FACTORIES, Kernel, KernelConfig
from quantai_tui.engine.tasks import run_sync
from quantai_tui.store.sqlite import read_events

from tests.trading.helpers import FakeVenue, kernel_on_venue, make_kernel, make_settings, standard_book


@dataclass(frozen=True, slots=True)
class Dance(Command):
    style: str


def buy(k: Kernel, px: float | None = None, venue: str = "sim") -> SubmitOrder:
    inst = k.cache.instrument(venue, "BTC/USDT")
    if px is None:
        return SubmitOrder(venue, "BTC/USDT", OrderSide.BUY, OrderType.MARKET, inst.make_qty("0.01"))
    return SubmitOrder(venue, "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, inst.make_qty("0.01"), inst.make_price(px))


async def test_reducing_set_by_hand_is_stored_and_only_the_kill_switch_can_halt(tmp_path: Path) -> None:
    k = make_kernel(tmp_path)
    await k.start()
    standard_book(k)
    res = await k.execute(SetTradingState(TradingState.REDUCING, "end of day", "ui"))
    assert res.ok and res.message == "trading state REDUCING"
    assert k.risk.state is TradingState.REDUCING
    denied = await k.execute(buy(k))
    assert not denied.ok and denied.message.startswith("denied by trading_state")  # would add risk
    again = await k.execute(SetTradingState(TradingState.REDUCING, "again", "ui"))
    assert again.ok  # no change, nothing stored twice
    res = await k.execute(SetTradingState(TradingState.HALTED, "panic", "ui"))
    assert res.ok and res.message == "kill switch engaged" and res.data is not None
    assert k.kill_switch.engaged
    res = await k.execute(SetTradingState(TradingState.ACTIVE, "all clear", "ui"))
    assert not res.ok and res.message == "trading is HALTED by the kill switch: release it first"
    assert k.risk.state is TradingState.HALTED
    assert (await k.execute(ReleaseKillSwitch("checked", "ui"))).ok
    assert (await k.execute(buy(k))).ok
    await k.stop()
    states = [(e.state, e.reason) for _, e in read_events(tmp_path / "events.sqlite", types=["TradingStateChanged"])]
    assert [s for s, _ in states] == [TradingState.REDUCING, TradingState.HALTED, TradingState.ACTIVE]
    assert states[0][1] == "ui: end of day"


async def test_an_unknown_command_is_refused_by_name(tmp_path: Path) -> None:
    k = make_kernel(tmp_path)
    await k.start()
    res = await k.execute(Dance("tango"))
    assert res == type(res)(False, "unknown command Dance")
    await k.stop()


async def test_a_kill_switch_that_cannot_store_its_state_still_halts_in_memory(tmp_path: Path) -> None:
    k = make_kernel(tmp_path)
    await k.start()
    standard_book(k)
    await k.store.close()
    res = await k.execute(EngageKillSwitch("store gone", "test"))
    assert not res.ok and "the event store is not open" in res.message  # said, not raised
    assert k.risk.state is TradingState.HALTED  # fail closed: orders are refused from here
    assert not (await k.execute(buy(k))).ok


def test_a_kernel_needs_a_venue_and_the_first_is_the_default() -> None:
    with pytest.raises(ConfigError, match="at least one venue"):
        Kernel(make_settings(), KernelConfig(venues=[], mode=TradingMode.BACKTEST))
    k = Kernel(make_settings(), KernelConfig(venues=["binance", "sim"], mode=TradingMode.BACKTEST))
    assert k.venue == "binance"


async def test_live_trading_on_a_venue_without_a_connector_is_refused_and_start_undone(tmp_path: Path) -> None:
    k = make_kernel(tmp_path, venues=("kraken",), mode=TradingMode.LIVE)
    with pytest.raises(ConfigError, match="live trading on kraken is not available"):
        await k.start()
    assert not k.store.is_open and not k.started  # the half-done start was undone
    k2 = make_kernel(tmp_path, venues=("kraken",), mode=TradingMode.LIVE)
    with pytest.raises(ConfigError):
        await k2.start()  # the store was left consistent: it opens again


async def test_live_trading_without_keys_names_the_settings_to_set(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []

    def factory(venue: str, *a: Any) -> Any:
        made.append(venue)
        raise AssertionError("not reached without keys")

    monkeypatch.setitem(EXECUTION_FACTORIES, "testex", factory)
    k = make_kernel(tmp_path, venues=("testex",), mode=TradingMode.LIVE)
    with pytest.raises(ConfigError, match="live trading on testex needs API keys: set exchanges.testex.api_key_env"):
        await k.start()
    assert made == [] and not k.store.is_open


class StubbornVenue(FakeVenue):
    async def _disconnect(self) -> None:
        raise ConnectionError("socket already gone")


async def test_a_venue_that_fails_to_stop_does_not_stop_the_shutdown(tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    k, v = kernel_on_venue(tmp_path, StubbornVenue, settings=make_settings(
        price_band_pct=Decimal("0"), max_orders_per_second=0.0, check_balance=False))
    await k.start()
    with caplog.at_level(logging.ERROR, logger="quantai.kernel"):
        await k.stop("done")
    assert "venue stop failed" in caplog.text
    assert not k.store.is_open
    assert [e.reason for _, e in read_events(tmp_path / "events.sqlite", types=["EngineStopped"])] == ["done"]


def test_cancels_and_amends_on_the_backtest_path_complete_without_a_loop() -> None:
    k = make_kernel(None, mode=TradingMode.BACKTEST, settings=make_settings(price_band_pct=Decimal("0"),
                                                                            max_orders_per_second=0.0))
    run_sync(k.start())
    standard_book(k)
    assert k.oms.can_submit_now("sim") and not k.oms.can_submit_now("elsewhere")
    a = run_sync(k.execute(buy(k, 40_000))).client_order_id
    b = run_sync(k.execute(buy(k, 40_001))).client_order_id
    c = run_sync(k.execute(buy(k, 40_002))).client_order_id
    inst = k.cache.instrument("sim", "BTC/USDT")
    assert run_sync(k.execute(ModifyOrder(a, price=inst.make_price(41_000)))).ok
    assert k.oms.get(a).price == inst.make_price(41_000)
    assert run_sync(k.execute(CancelOrder(b))).ok and k.oms.get(b).status is OrderStatus.CANCELED
    res = run_sync(k.execute(CancelAllOrders()))
    assert res.data == 2 and k.oms.open_count == 0
    assert k.oms.get(c).status is OrderStatus.CANCELED
    run_sync(k.stop())


async def test_kill_switch_orders_are_recognised_again_after_a_restart(tmp_path: Path) -> None:
    s = make_settings(price_band_pct=Decimal("0"), max_orders_per_second=0.0)
    s.paper.latency_ms = 0
    k = make_kernel(tmp_path, settings=s)
    await k.start()
    standard_book(k)
    assert (await k.execute(buy(k))).ok
    report = (await k.execute(EngageKillSwitch("flat", "test", flatten=True))).data
    (flat,) = report.flatten_orders
    assert flat in k.oms.internal
    await k.stop()
    k2 = make_kernel(tmp_path, settings=s)
    await k2.start()
    assert flat in k2.oms.internal  # rebuilt from the store: still the kill switch's own order
    assert k2.risk.state is TradingState.HALTED
    await k2.stop()

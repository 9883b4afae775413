"""Pre-trade risk: every check denies what breaks its limit (naming itself and the numbers),
disabling any single check lets that order through to the venue, and a fuzz run proves that no
order breaking a limit ever reaches the venue."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from quantai_tui.core.clock import TestClock
from quantai_tui.core.commands import SetTradingState, SubmitOrder
from quantai_tui.core.enums import OrderSide, OrderType, TradingState
from quantai_tui.core.events import OrderDenied
from quantai_tui.core.execution import OrderRequest
from quantai_tui.core.values import Price, Quantity
from quantai_tui.engine.kernel import Kernel
from quantai_tui.engine.risk import CHECK_NAMES
from quantai_tui.settings.schema import Settings

from tests.trading.helpers import FakeVenue, kernel_on_venue, make_kernel, publish_quote

D = Decimal
SYM = "BTC/USDT"


def base_settings(**kw: Any) -> Settings:
    """Every limit off; the scenario turns its own on."""
    s = Settings()
    r = s.risk
    r.max_order_notional = D(0)
    r.max_position_notional = D(0)
    r.max_open_orders = 0
    r.price_band_pct = D(0)
    r.max_orders_per_second = 0.0
    r.check_balance = False
    for k, v in kw.items():
        setattr(r, k, v)
    return s


async def kernel_with(tmp_path: Path, settings: Settings) -> tuple[Kernel, FakeVenue]:
    k, venue = kernel_on_venue(tmp_path, symbols=(SYM, "ETH/USDT"), settings=settings)
    await k.start()
    publish_quote(k, "fake", SYM, 49_999.5, 50_000.5)  # mid 50,000
    publish_quote(k, "fake", "ETH/USDT", 2_999.5, 3_000.5)
    return k, venue


def cmd(side: OrderSide = OrderSide.BUY, qty: str = "0.1", price: str | None = "50000.00", symbol: str = SYM,
        otype: OrderType | None = None, reduce_only: bool = False) -> SubmitOrder:
    t = otype or (OrderType.LIMIT if price else OrderType.MARKET)
    return SubmitOrder("fake", symbol, side, t, Quantity(qty), Price(price) if price else None, reduce_only=reduce_only)


async def fill_at(k: Kernel, v: FakeVenue, side: OrderSide, qty: str, price: str) -> None:
    res = await k.execute(cmd(side, qty, price))
    assert res.ok, res.message
    v.fill(res.client_order_id, qty, price)


async def no_setup(k: Kernel, v: FakeVenue) -> None:
    return None


async def two_open(k: Kernel, v: FakeVenue) -> None:
    for _ in range(2):
        assert (await k.execute(cmd(price="49000.00"))).ok


async def two_fast(k: Kernel, v: FakeVenue) -> None:
    for _ in range(2):
        assert (await k.execute(cmd(price="49000.00"))).ok


async def long_one(k: Kernel, v: FakeVenue) -> None:
    await fill_at(k, v, OrderSide.BUY, "1", "50000.00")


async def long_then_drop(k: Kernel, v: FakeVenue) -> None:
    await fill_at(k, v, OrderSide.BUY, "1", "50000.00")
    publish_quote(k, "fake", SYM, 49_699.5, 49_700.5)  # -300 on the position


Setup = Callable[[Kernel, FakeVenue], Awaitable[None]]
# check name -> (risk settings, setup, the order that breaks the limit)
SCENARIOS: dict[str, tuple[dict[str, Any], Setup, SubmitOrder]] = {
    "instrument": ({}, no_setup, cmd(qty="0.000001")),  # off the 0.00001 lot
    "symbol_whitelist": ({"symbol_whitelist": ["ETH/USDT"]}, no_setup, cmd()),
    "rate_limit": ({"max_orders_per_second": 2.0}, two_fast, cmd(price="49000.00")),
    "max_order_qty": ({"max_order_qty": {SYM: D("0.5")}}, no_setup, cmd(qty="0.6")),
    "max_order_notional": ({"max_order_notional": D("1000")}, no_setup, cmd(qty="0.1")),  # 5,000
    "price_band": ({"price_band_pct": D("5")}, no_setup, cmd(price="56000.00")),  # 12% away
    "max_open_orders": ({"max_open_orders": 2}, two_open, cmd(price="49000.00")),
    "max_position": ({"max_position_notional": D("60000")}, long_one, cmd(qty="0.5", price="50000.00")),
    "balance": ({"check_balance": True}, no_setup, cmd(qty="3", price="50000.00")),  # 150,000 > 100,000
    "daily_loss": ({"daily_loss_limit": D("200")}, long_then_drop, cmd(qty="0.1")),
    "max_drawdown": ({"max_drawdown_pct": D("0.2")}, long_then_drop, cmd(qty="0.1")),
}


def test_every_check_has_a_scenario() -> None:
    assert set(SCENARIOS) == set(CHECK_NAMES) - {"trading_state"}


@pytest.mark.parametrize("check", sorted(SCENARIOS))
async def test_check_denies_and_disabling_it_lets_the_order_through(tmp_path: Path, check: str) -> None:
    limits, setup, bad = SCENARIOS[check]
    # 1. the check on: denied, named, with numbers, and never at the venue
    k, v = await kernel_with(tmp_path / "on", base_settings(**limits))
    if check in ("daily_loss", "max_drawdown"):
        k.portfolio.sample_equity()  # the day's baseline before the loss
    await setup(k, v)
    denials: list[OrderDenied] = []
    k.bus.subscribe("risk", denials.append, types=OrderDenied)
    sent_before = list(v.ex.submits)
    res = await k.execute(bad)
    assert not res.ok
    assert denials and denials[-1].check == check, (check, denials[-1:] and denials[-1])
    if check != "symbol_whitelist":
        assert any(ch.isdigit() for ch in denials[-1].reason), denials[-1].reason  # the numbers are in it
    assert v.ex.submits == sent_before
    assert k.oms.get(denials[-1].client_order_id) is None
    await k.stop()
    # 2. the same with only that check disabled: the order reaches the venue
    k, v = await kernel_with(tmp_path / "off", base_settings(**limits, disabled_checks=[check]))
    if check in ("daily_loss", "max_drawdown"):
        k.portfolio.sample_equity()
    await setup(k, v)
    res = await k.execute(bad)
    assert res.ok, res.message
    assert res.client_order_id in v.ex.submits
    await k.stop()


async def test_loss_limits_allow_reducing_and_switch_to_reducing(tmp_path: Path) -> None:
    k, v = await kernel_with(tmp_path, base_settings(daily_loss_limit=D("200")))
    k.portfolio.sample_equity()
    await long_then_drop(k, v)
    assert not (await k.execute(cmd(qty="0.1"))).ok
    assert k.risk.state is TradingState.REDUCING
    res = await k.execute(cmd(OrderSide.SELL, "0.5", "49700.00"))  # shrinks the long: allowed
    assert res.ok, res.message
    await k.stop()


async def test_a_status_view_read_before_the_start_keeps_the_daily_loss_limit(tmp_path: Path) -> None:
    """The TUI's status bar reads equity and day P&L as soon as it draws, before the engine has
    started and loaded balances: that read must not fix the day's baseline at zero (which made
    the day's P&L 0 whatever was lost, and the daily loss limit never fire)."""
    from quantai_tui.tui.kernel_adapter import KernelFacade

    k, venue = kernel_on_venue(tmp_path, symbols=(SYM,), settings=base_settings(daily_loss_limit=D("200")))
    early = KernelFacade(k).account()  # before start: nothing known yet
    assert early.equity == 0 and early.day_pnl == 0
    await k.start()
    publish_quote(k, "fake", SYM, 49_999.5, 50_000.5)
    k.portfolio.sample_equity()  # the engine's own equity timer sets the baseline
    assert k.portfolio.day_start_equity == k.portfolio.equity() > 0
    await long_then_drop(k, v=venue)
    assert KernelFacade(k).account().day_pnl < -200
    res = await k.execute(cmd(qty="0.1"))
    assert not res.ok and "daily" in res.message.lower(), res.message
    await k.stop()


async def test_trading_states(tmp_path: Path) -> None:
    k, v = await kernel_with(tmp_path, base_settings())
    await long_one(k, v)
    assert (await k.execute(SetTradingState(TradingState.REDUCING, "test", "test"))).ok
    assert not (await k.execute(cmd())).ok  # adds to the long
    assert (await k.execute(cmd(OrderSide.SELL, "0.4", "50000.00"))).ok
    assert not (await k.execute(cmd(OrderSide.SELL, "2", "50000.00"))).ok  # would flip: not reducing
    await k.stop()


def test_unknown_disabled_check_is_a_config_error_and_trading_state_cannot_be_disabled() -> None:
    from quantai_tui.core.errors import ConfigError

    with pytest.raises(ConfigError, match="nonsense"):
        make_kernel(None, settings=base_settings(disabled_checks=["nonsense"]))
    k = make_kernel(None, settings=base_settings(disabled_checks=["trading_state"]))
    assert "trading_state" in k.risk.check_names()


# --- fuzz: nothing that breaks a limit reaches the venue ----------------------------------------------
class Guard:
    """Checks every request the venue receives against the limits, independently of the engine."""

    def __init__(self, k: Kernel, s: Settings) -> None:
        self.k, self.s = k, s
        self.times: list[int] = []
        self.violations: list[str] = []
        self.seen = 0

    def __call__(self, req: OrderRequest) -> None:
        k, r = self.k, self.s.risk
        self.seen += 1
        mid = k.cache.mid("fake", req.symbol)
        px = req.price.as_decimal() if req.price is not None else D(repr(mid))
        notional = px * req.quantity.as_decimal()
        bad = []
        if r.symbol_whitelist and req.symbol not in r.symbol_whitelist:
            bad.append("whitelist")
        lim = r.max_order_qty.get(req.symbol)
        if lim is not None and req.quantity > lim:
            bad.append("qty")
        if r.max_order_notional and notional > r.max_order_notional:
            bad.append("notional")
        if r.price_band_pct and req.price is not None and abs(float(req.price) - mid) / mid * 100 > float(r.price_band_pct):
            bad.append("band")
        if r.max_open_orders and k.oms.open_count > r.max_open_orders:
            bad.append("open orders")
        now = k.clock.timestamp_ns()
        self.times = [t for t in self.times if t > now - 1_000_000_000] + [now]
        if r.max_orders_per_second and len(self.times) > r.max_orders_per_second:
            bad.append("rate")
        pos = k.portfolio.position_qty("fake", req.symbol)
        same = sum((o.leaves_qty.as_decimal() for o in k.oms.open_orders("fake", req.symbol) if o.side is req.side),
                   D(0))  # includes this order: it is registered before it is sent
        sign = 1 if req.side is OrderSide.BUY else -1
        worst = pos + sign * same
        if r.max_position_notional and abs(worst) > abs(pos) and abs(worst) * px > r.max_position_notional:
            bad.append("position")
        if r.check_balance and req.side is OrderSide.BUY and same * px * D("1.001") > k.portfolio.free("fake", "USDT"):
            bad.append("balance")
        if bad:
            self.violations.append(f"{req.client_order_id}: {', '.join(bad)}")


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_fuzz_no_limit_breaking_order_reaches_the_venue(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    s = base_settings(max_order_qty={SYM: D("0.8"), "ETH/USDT": D("12")}, max_order_notional=D("30000"),
                      max_position_notional=D("80000"), max_open_orders=15, price_band_pct=D("3"),
                      max_orders_per_second=20.0, check_balance=True, symbol_whitelist=[SYM, "ETH/USDT"])
    k, v = await kernel_with(tmp_path, s)
    guard = Guard(k, s)
    orig = v._submit

    async def spy(req: OrderRequest) -> None:
        guard(req)
        await orig(req)

    v._submit = spy  # type: ignore[method-assign]
    clock: TestClock = k.clock  # type: ignore[assignment]
    sent = denied = 0
    for _ in range(400):
        sym = rng.choice([SYM, "ETH/USDT", "SOL/USDT"])
        mid = {SYM: 50_000.0, "ETH/USDT": 3_000.0, "SOL/USDT": 150.0}[sym]
        inst = k.cache.find_instrument("fake", sym)
        side = rng.choice([OrderSide.BUY, OrderSide.SELL])
        qty = inst.make_qty(rng.uniform(0.01, 1.2) * (1 if sym == SYM else 15))
        if not qty:
            continue
        market = rng.random() < 0.3
        px = None if market else inst.make_price(mid * rng.uniform(0.95, 1.05))
        res = await k.execute(SubmitOrder("fake", sym, side, OrderType.MARKET if market else OrderType.LIMIT, qty, px))
        sent += res.ok
        denied += not res.ok
        if res.ok and rng.random() < 0.5:  # the venue fills some, at the limit or the mid
            v.fill(res.client_order_id, str(qty), str(px or inst.make_price(mid)))
        if rng.random() < 0.2 and k.oms.open_count:
            await k.oms.cancel(rng.choice(list(k.cache.open)))
        clock.advance_to(clock.timestamp_ns() + rng.choice([1_000_000, 10_000_000, 200_000_000]))
    assert sent > 30 and denied > 30, (sent, denied)
    assert guard.seen == sent
    assert guard.violations == []
    await k.stop()


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_fast_pass_implies_every_check_passes(tmp_path: Path, seed: int) -> None:
    """RiskEngine._clear (every built-in check's pass condition for a market order, evaluated in
    one place) never lets through an order that one of the checks would deny: random limits,
    positions, open orders, capital, order sizes and sides."""
    from quantai_tui.core.enums import TimeInForce
    from quantai_tui.engine.risk.base import OrderIntent

    rng = random.Random(seed)
    checked = cleared = 0
    for round_ in range(6):
        s = base_settings(
            max_order_qty=rng.choice([{}, {SYM: D("0.5")}, {"*": D("2")}]),
            max_order_notional=rng.choice([D(0), D("20000"), D("60000")]),
            max_position_notional=rng.choice([D(0), D("40000"), D("90000")]),
            max_position_qty=rng.choice([{}, {SYM: D("1.5")}]),
            max_open_orders=rng.choice([0, 2, 10]),
            max_orders_per_second=rng.choice([0.0, 3.0, 50.0]),
            check_balance=rng.random() < 0.7,
            symbol_whitelist=rng.choice([[], [SYM], ["ETH/USDT"]]),
            daily_loss_limit=rng.choice([D(0), D(0), D("100")]),
            max_drawdown_pct=rng.choice([D(0), D(0), D("1")]),
        )
        k, v = await kernel_with(tmp_path / str(round_), s)
        risk = k.risk
        clock: TestClock = k.clock  # type: ignore[assignment]
        for _ in range(150):
            if rng.random() < 0.25:  # a position or an open order to check against
                side = rng.choice([OrderSide.BUY, OrderSide.SELL])
                q = rng.choice(["0.1", "0.5", "1.0"])
                res = await k.execute(cmd(side, q, "49000.00" if side is OrderSide.BUY else "51000.00"))
                if res.ok and rng.random() < 0.6:
                    v.fill(res.client_order_id, q, "50000.00")
            inst = k.cache.find_instrument("fake", SYM)
            side = rng.choice([OrderSide.BUY, OrderSide.SELL])
            qty = inst.make_qty(rng.choice([0.00001, 0.1, 0.4, 0.6, 1.0, 1.6, 2.5]))
            ref = k.cache.mark("fake", SYM)
            reduce_only = rng.random() < 0.1

            def intent() -> OrderIntent:
                return OrderIntent("fake", SYM, side, OrderType.MARKET, qty, None, None, TimeInForce.GTC, False,
                                   reduce_only, "t", "x", inst, D(repr(ref)) if ref is not None else None)

            plan = risk._fast_plan()
            ok = risk._clear(intent(), risk.env, plan[2], plan[3])
            reasons = [(c.name, c.check(intent(), risk.env)) for c in risk.checks]
            denied = [r for r in reasons if r[1] is not None]
            assert not (ok and denied), denied
            checked += 1
            cleared += ok
            clock.advance_to(clock.timestamp_ns() + rng.choice([1_000_000, 300_000_000]))
        await k.stop()
    assert cleared > 20 and checked - cleared > 50, (checked, cleared)

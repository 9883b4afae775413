"""Restart reconciliation: orders filled or canceled while the engine was down are found and
applied exactly once; an unresolvable difference starts the engine HALTED (fail closed)."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

from quantai_tui.core.clock import TestClock
from quantai_tui.core.commands import SubmitOrder
from quantai_tui.core.enums import OrderSide, OrderStatus, OrderType, TradingState
from quantai_tui.core.events import VenueConnected, VenueDisconnected
from quantai_tui.core.execution import OrderRequest
from quantai_tui.core.values import Price, Quantity
from quantai_tui.engine.kernel import Kernel
from quantai_tui.store.sqlite import read_events

from tests.trading.helpers import T0, FakeVenue, VenueState, kernel_on_venue, make_kernel, make_settings

S = OrderStatus


def settings():  # noqa: ANN201
    return make_settings(price_band_pct=Decimal("0"), max_orders_per_second=0.0, max_open_orders=0,
                         max_order_notional=Decimal("0"), max_position_notional=Decimal("0"), check_balance=False)


async def engine(tmp_path: Path, state: VenueState, t: int = 0, symbols: tuple[str, ...] = ("BTC/USDT",)) -> tuple[Kernel, FakeVenue]:
    k, v = kernel_on_venue(tmp_path, FakeVenue, state, clock=TestClock(T0 + t), symbols=symbols, settings=settings())
    await k.start()
    return k, v


async def place(k: Kernel, n: int, symbol: str = "BTC/USDT") -> list[str]:
    inst = k.cache.instrument("fake", symbol)
    out = []
    for i in range(n):
        res = await k.execute(SubmitOrder("fake", symbol, OrderSide.BUY, OrderType.LIMIT, inst.make_qty("1"),
                                          inst.make_price(40_000 + i)))
        assert res.ok, res.message
        out.append(res.client_order_id)
    return out


def fill_counts(path: Path) -> Counter[str]:
    return Counter(e.trade_id for _, e in read_events(path, types={"OrderFilled"}))


async def test_changes_while_down_are_applied_exactly_once(tmp_path: Path) -> None:
    state = VenueState()
    k, v = await engine(tmp_path, state)
    a, b, c, d, e, f = await place(k, 6)
    v.fill(f, "0.40000", "40005.00")  # seen live
    assert k.oms.get(f).status is S.PARTIALLY_FILLED
    await k.stop()

    # the engine is down; the exchange carries on
    v.silent = True
    v.clock.set_time(T0 + 60_000_000_000)
    v.fill(a, "1.00000", "40000.00")
    v.cancel_at_venue(b)
    v.fill(c, "0.30000", "40002.00")
    v.cancel_at_venue(c)
    v.fill(d, "0.50000", "40003.00")
    v.fill(f, "0.60000", "40005.00")

    k2, v2 = await engine(tmp_path, state, 120_000_000_000)
    res = k2.last_reconcile["fake"]
    assert res.ok, res.summary()
    got = {coid: (k2.oms.get(coid).status, k2.oms.get(coid).filled_qty) for coid in (a, b, c, d, e, f)}
    assert got == {
        a: (S.FILLED, Quantity("1.00000")),
        b: (S.CANCELED, Quantity("0.00000")),
        c: (S.CANCELED, Quantity("0.30000")),
        d: (S.PARTIALLY_FILLED, Quantity("0.50000")),
        e: (S.ACCEPTED, Quantity("0.00000")),
        f: (S.FILLED, Quantity("1.00000")),
    }
    assert k2.portfolio.position_qty("fake", "BTC/USDT") == Decimal("2.8")
    assert k2.oms.open_count == 2 and k2.risk.state is TradingState.ACTIVE
    await k2.stop()
    counts = fill_counts(tmp_path / "events.sqlite")
    assert sorted(counts) == sorted(fl.trade_id for fl in state.fills) and set(counts.values()) == {1}

    # another restart: nothing new, nothing applied twice
    k3, _ = await engine(tmp_path, state, 180_000_000_000)
    assert k3.last_reconcile["fake"].ok and k3.last_reconcile["fake"].differences == []
    assert k3.portfolio.position_qty("fake", "BTC/USDT") == Decimal("2.8")
    await k3.stop()
    assert fill_counts(tmp_path / "events.sqlite") == counts


async def test_private_stream_reconnect_triggers_reconciliation(tmp_path: Path) -> None:
    state = VenueState()
    k, v = await engine(tmp_path, state)
    (a,) = await place(k, 1)
    v.silent = True
    v.fill(a, "1.00000", "40000.00")  # the fill is lost with the stream
    v.silent = False
    now = k.clock.timestamp_ns()
    k.oms.on_report(VenueDisconnected("fake", "test", stream="user", ts_event=now, ts_init=now))
    assert k.oms.get(a).status is S.ACCEPTED
    k.oms.on_report(VenueConnected("fake", stream="user", ts_event=now, ts_init=now))
    import asyncio

    for _ in range(100):
        if k.oms.get(a).status is S.FILLED:
            break
        await asyncio.sleep(0.01)
    assert k.oms.get(a).status is S.FILLED and k.reconciler.runs == 2
    await k.stop()


async def test_an_order_of_ours_the_store_never_saw_starts_halted(tmp_path: Path) -> None:
    state = VenueState()
    req = OrderRequest("qa0000000ghost00", "fake", "BTC/USDT", OrderSide.SELL, OrderType.LIMIT, Quantity("1.00000"),
                       Price("60000.00"))
    state.orders[req.client_order_id] = {"req": req, "vid": "V99", "status": S.ACCEPTED,
                                         "filled": Quantity("0.00000"), "ts": T0}
    k, _ = await engine(tmp_path, state)
    res = k.last_reconcile["fake"]
    assert not res.ok and "no intent in the store" in res.summary()
    assert k.risk.state is TradingState.HALTED
    assert not (await k.execute(SubmitOrder("fake", "BTC/USDT", OrderSide.BUY, OrderType.MARKET,
                                            Quantity("0.01000")))).ok
    await k.stop()


async def test_a_position_the_fills_do_not_explain_is_adopted_and_halts(tmp_path: Path) -> None:
    state = VenueState()
    sym = "BTC/USDT:USDT"
    inst = FakeVenue("fake", None, TestClock(T0)).instruments[sym]
    state.ledger.apply_fill("fake", inst, Decimal("-0.5"), Decimal("50000"), Decimal(0), "USDT")  # traded by hand
    k, _ = await engine(tmp_path, state, symbols=(sym,))
    assert k.risk.state is TradingState.HALTED
    assert k.portfolio.position_qty("fake", sym) == Decimal("-0.5")
    await k.stop()
    events = [type(e).__name__ for _, e in read_events(tmp_path / "events.sqlite")]
    assert "PositionAdjusted" in events and "ReconciliationCompleted" in events


async def test_a_fill_landing_between_the_fills_read_and_the_account_read_is_not_a_mismatch(tmp_path: Path) -> None:
    state = VenueState()
    sym = "BTC/USDT:USDT"
    k, v = await engine(tmp_path, state, symbols=(sym,))
    (coid,) = await place(k, 1, sym)
    await k.stop()

    # Restart: the venue fills the order right after the engine has read the fills.
    k2_clock = TestClock(T0 + 60_000_000_000)
    v2 = FakeVenue("fake", None, k2_clock, state)
    read_fills = v2._fills_since
    calls = 0

    async def fills_then_fill(ts_ns: int, symbol: str | None):  # noqa: ANN202
        nonlocal calls
        calls += 1
        out = await read_fills(ts_ns, symbol)
        if calls == 1:
            v2.silent = True
            v2.fill(coid, "1.00000", "40000.00")  # lands after this read, before the account read
            v2.silent = False
        return out

    v2._fills_since = fills_then_fill  # type: ignore[method-assign]
    k2 = make_kernel(tmp_path, venues=("fake",), symbols=(sym,), clock=k2_clock, execution={"fake": v2},
                     settings=settings())
    v2.bind(k2.oms.on_report)
    await k2.start()
    res = k2.last_reconcile["fake"]
    assert res.ok, res.summary()  # re-read once: the fill explains the position
    assert k2.risk.state is TradingState.ACTIVE
    assert k2.oms.get(coid).status is S.FILLED
    assert k2.portfolio.position_qty("fake", sym) == Decimal("1")
    await k2.stop()
    assert fill_counts(tmp_path / "events.sqlite") == Counter({"T1": 1})

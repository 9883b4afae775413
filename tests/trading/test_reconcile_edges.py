"""Reconciliation's other verdicts, each after a restart against a venue that changed while the
engine was down: a venue that cannot be read (fail closed), orders the venue never heard of,
orders that are someone else's, an order closed here but open there, and fills that no stored
intent or order explains."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from quantai_tui.core.enums import OrderSide, OrderStatus, OrderType, TradingState
from quantai_tui.core.execution import FillReport, OrderRequest, OrderStatusReport
from quantai_tui.core.values import Price, Quantity
from quantai_tui.engine.kernel import Kernel
from quantai_tui.store.sqlite import read_events

from tests.trading.helpers import T0, FakeVenue, VenueState, kernel_on_venue, make_settings, place_limit

S = OrderStatus


def settings():  # noqa: ANN201
    return make_settings(price_band_pct=Decimal("0"), max_orders_per_second=0.0, max_open_orders=0,
                         max_order_notional=Decimal("0"), max_position_notional=Decimal("0"), check_balance=False)


class UnreadableVenue(FakeVenue):
    async def _open_orders(self, symbol: str | None) -> list[OrderStatusReport]:
        raise RuntimeError("401 invalid signature")


async def engine(tmp_path: Path, state: VenueState, cls: type[FakeVenue] = FakeVenue) -> tuple[Kernel, FakeVenue]:
    k, v = kernel_on_venue(tmp_path, cls, state, settings=settings())
    await k.start()
    return k, v



def venue_order(state: VenueState, coid: str, status: OrderStatus = S.ACCEPTED, side: OrderSide = OrderSide.SELL) -> None:
    req = OrderRequest(coid, "fake", "BTC/USDT", side, OrderType.LIMIT, Quantity("1.00000"), Price("60000.00"))
    state.orders[coid] = {"req": req, "vid": f"V-{coid}", "status": status, "filled": Quantity("0.00000"), "ts": T0}


async def test_a_venue_that_cannot_be_read_starts_the_engine_halted(tmp_path: Path) -> None:
    k, _ = await engine(tmp_path, VenueState(), UnreadableVenue)
    res = k.last_reconcile["fake"]
    assert not res.ok
    assert res.unresolved == ["the venue could not be read: RuntimeError('401 invalid signature')"]
    assert k.risk.state is TradingState.HALTED
    await k.stop()
    engaged = [e for _, e in read_events(tmp_path / "events.sqlite", types=["KillSwitchEngaged"])]
    assert [e.source for e in engaged] == ["reconcile"]


async def test_an_order_that_never_reached_the_venue_is_closed_and_trading_goes_on(tmp_path: Path) -> None:
    state = VenueState()
    k, v = await engine(tmp_path, state)
    v.silent = True  # no acknowledgement before the engine stops
    coid = await place_limit(k)
    assert k.oms.get(coid).status is S.SUBMITTED
    await k.stop()
    del state.orders[coid]  # the venue never had it (the request was lost)
    k2, _ = await engine(tmp_path, state)
    o = k2.oms.get(coid)
    assert o.status is S.CANCELED and o.last_reason == "never reached the venue"
    res = k2.last_reconcile["fake"]
    assert res.ok and f"{coid} never reached the venue: closed" in res.differences
    assert k2.risk.state is TradingState.ACTIVE
    await k2.stop()


async def test_an_accepted_order_the_venue_no_longer_knows_cannot_be_explained(tmp_path: Path) -> None:
    state = VenueState()
    k, _ = await engine(tmp_path, state)
    coid = await place_limit(k)
    assert k.oms.get(coid).status is S.ACCEPTED
    await k.stop()
    del state.orders[coid]
    k2, _ = await engine(tmp_path, state)
    res = k2.last_reconcile["fake"]
    assert res.unresolved == [f"{coid} is ACCEPTED here but unknown at the venue"]
    # not closed by guesswork: still open, swept by the kill switch the failed reconciliation engaged
    assert k2.oms.get(coid).status is S.PENDING_CANCEL
    assert k2.risk.state is TradingState.HALTED
    await k2.stop()


async def test_someone_elses_orders_are_reported_and_left_alone(tmp_path: Path) -> None:
    state = VenueState()
    venue_order(state, "web-7731")  # placed on the venue's website
    k, v = await engine(tmp_path, state)
    res = k.last_reconcile["fake"]
    assert res.ok
    assert "external order web-7731 (BTC/USDT) open at the venue, left alone" in res.differences
    assert k.oms.get("web-7731") is None and state.orders["web-7731"]["status"] is S.ACCEPTED
    await k.stop()


async def test_an_order_closed_here_but_open_at_the_venue_halts(tmp_path: Path) -> None:
    state = VenueState()
    k, v = await engine(tmp_path, state)
    coid = await place_limit(k)
    v.cancel_at_venue(coid)
    assert k.oms.get(coid).status is S.CANCELED
    await k.stop()
    state.orders[coid]["status"] = S.ACCEPTED  # the venue's report was wrong: it is still resting
    k2, _ = await engine(tmp_path, state)
    res = k2.last_reconcile["fake"]
    assert f"{coid} is open at the venue but CANCELED here" in res.unresolved
    assert k2.risk.state is TradingState.HALTED
    await k2.stop()


async def test_fills_without_an_order_or_that_do_not_fit_it_are_unresolved(tmp_path: Path) -> None:
    state = VenueState()
    k, v = await engine(tmp_path, state)
    coid = await place_limit(k)
    v.fill(coid, "1", "40000")
    assert k.oms.get(coid).status is S.FILLED
    await k.stop()
    now = T0 + 1
    state.fills.append(FillReport("qa00000ghost0001", "V77", "T77", "BTC/USDT", OrderSide.BUY, Quantity("0.1"),
                                  Price("40000"), Decimal("0"), "USDT", now))  # ours by its prefix, no intent
    state.fills.append(FillReport("web-1", "V78", "T78", "BTC/USDT", OrderSide.BUY, Quantity("0.1"),
                                  Price("40000"), Decimal("0"), "USDT", now))  # someone else's: not ours to judge
    state.fills.append(FillReport(coid, "V1", "T79", "BTC/USDT", OrderSide.BUY, Quantity("0.5"),
                                  Price("40000"), Decimal("0"), "USDT", now))  # more than the order's quantity
    k2, _ = await engine(tmp_path, state)
    res = k2.last_reconcile["fake"]
    assert "fill T77 of qa00000ghost0001, an order with no intent in the store" in res.unresolved
    assert f"fill T79 of {coid} does not fit the order" in res.unresolved
    assert not any("T78" in u for u in res.unresolved + res.differences)
    o = k2.oms.get(coid)
    assert o.filled_qty == Quantity("1.00000") and o.trade_ids == {"T1"}  # the order is left as it was
    assert k2.risk.state is TradingState.HALTED
    await k2.stop()

"""The order state machine: the table's real-world edges, and a hypothesis state machine over
random event sequences (late fills, duplicate trade ids, out-of-order acks)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from quantai_tui.core.enums import OrderSide, OrderStatus, OrderType
from quantai_tui.core.errors import IllegalTransition
from quantai_tui.core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderCancelRequested,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderStatusUnknown,
    OrderSubmitted,
    OrderUpdated,
    OrderUpdateRejected,
    OrderUpdateRequested,
)
from quantai_tui.core.orders import TRANSITIONS, Order, transition, transition_table_markdown
from quantai_tui.core.values import Money, Price, Quantity

S = OrderStatus
C = "c1"


def submitted(qty: str = "1.000") -> OrderSubmitted:
    return OrderSubmitted(C, "v", "BTC/USDT", "s", OrderSide.BUY, OrderType.LIMIT, Quantity(qty), Price("100.0"),
                          ts_event=1, ts_init=1)


def fill(tid: str, qty: str, px: str = "100.0", side: OrderSide = OrderSide.BUY) -> OrderFilled:
    return OrderFilled(C, "v", "BTC/USDT", "V1", tid, side, Quantity(qty), Price(px), Money("0.01", "USDT"),
                       ts_event=2, ts_init=2)


def ev(cls, *args) -> object:
    return cls(C, "v", "BTC/USDT", *args, ts_event=3, ts_init=3)


def test_happy_path() -> None:
    o = Order(submitted())
    assert o.status is S.SUBMITTED
    assert o.apply(ev(OrderAccepted, "V1")) and o.status is S.ACCEPTED and o.venue_order_id == "V1"
    assert o.apply(fill("t1", "0.400")) and o.status is S.PARTIALLY_FILLED
    assert o.apply(fill("t2", "0.600", "101.0")) and o.status is S.FILLED
    assert o.filled_qty == Quantity("1.000")
    assert o.avg_px == Decimal("100.6")
    assert not o.is_open


def test_duplicate_trade_id_applies_once() -> None:
    o = Order(submitted())
    o.apply(ev(OrderAccepted, "V1"))
    assert o.apply(fill("t1", "0.5"))
    before = o.state()
    assert o.apply(fill("t1", "0.5")) is False
    assert o.state() == before and o.filled_qty == Quantity("0.5")


def test_fill_after_cancel_request_then_cancel_reject_returns_to_partial() -> None:
    o = Order(submitted())
    o.apply(ev(OrderAccepted, "V1"))
    o.apply(ev(OrderCancelRequested))
    assert o.status is S.PENDING_CANCEL
    o.apply(fill("t1", "0.3"))
    assert o.status is S.PENDING_CANCEL  # the cancel is still on its way
    o.apply(ev(OrderCancelRejected, "too late"))
    assert o.status is S.PARTIALLY_FILLED


def test_fill_completing_a_pending_cancel_fills_it() -> None:
    o = Order(submitted())
    o.apply(ev(OrderAccepted, "V1"))
    o.apply(ev(OrderCancelRequested))
    o.apply(fill("t1", "1.0"))
    assert o.status is S.FILLED
    assert o.apply(ev(OrderCancelRejected, "filled")) is False  # absorbed
    with pytest.raises(IllegalTransition):
        o.apply(ev(OrderCanceled, "V1", ""))


def test_late_fill_after_canceled_is_applied() -> None:
    o = Order(submitted())
    o.apply(ev(OrderAccepted, "V1"))
    o.apply(ev(OrderCanceled, "V1", ""))
    assert o.apply(fill("t1", "0.2"))  # the fill overtook nothing: money moved
    assert o.status is S.CANCELED and o.filled_qty == Quantity("0.2")
    o.apply(fill("t2", "0.8"))
    assert o.status is S.FILLED


def test_fill_on_unknown_and_accept_after_fill() -> None:
    o = Order(submitted())
    o.apply(ev(OrderStatusUnknown, "timeout"))
    assert o.status is S.UNKNOWN and o.is_open
    o.apply(fill("t1", "1.0"))
    assert o.status is S.FILLED
    assert o.apply(ev(OrderAccepted, "V9"))  # a late ack: status stays, the venue id is recorded
    assert o.status is S.FILLED and o.venue_order_id == "V9"
    assert o.apply(ev(OrderAccepted, "V9")) is False  # the same ack again: a duplicate


def test_accept_after_partial_fill_keeps_partial() -> None:
    o = Order(submitted())
    o.apply(fill("t1", "0.5"))
    assert o.status is S.PARTIALLY_FILLED
    o.apply(ev(OrderAccepted, "V1"))
    assert o.status is S.PARTIALLY_FILLED


def test_overfill_wrong_side_and_rejected_after_fill_are_illegal_and_leave_the_order_alone() -> None:
    o = Order(submitted())
    o.apply(ev(OrderAccepted, "V1"))
    o.apply(fill("t1", "0.5"))
    before = o.state()
    for bad in (fill("t2", "0.6"), fill("t3", "0.1", side=OrderSide.SELL), ev(OrderRejected, "no"),
                ev(OrderUpdated, Quantity("0.5"), None, None), submitted()):
        with pytest.raises(IllegalTransition):
            o.apply(bad)
        assert o.state() == before


def test_amend_cycle() -> None:
    o = Order(submitted())
    o.apply(ev(OrderAccepted, "V1"))
    o.apply(ev(OrderUpdateRequested, Quantity("2.0"), Price("99.0"), None))
    assert o.status is S.PENDING_UPDATE
    o.apply(ev(OrderUpdated, Quantity("2.0"), Price("99.0"), None))
    assert o.status is S.ACCEPTED and o.quantity == Quantity("2.0") and o.price == Price("99.0")
    o.apply(ev(OrderUpdateRequested, Quantity("3.0"), None, None))
    o.apply(ev(OrderUpdateRejected, "no"))
    assert o.status is S.ACCEPTED and o.quantity == Quantity("2.0")


def test_terminal_states_refuse_new_life() -> None:
    for terminal in (ev(OrderRejected, "x"), ev(OrderExpired, "")):
        o = Order(submitted())
        o.apply(terminal)
        with pytest.raises(IllegalTransition):
            o.apply(ev(OrderCancelRequested))
        with pytest.raises(IllegalTransition):
            o.apply(ev(OrderUpdated, Quantity("1.0"), None, None))


def test_table_is_complete_and_renders() -> None:
    assert set(TRANSITIONS) == set(OrderStatus)
    assert transition(S.ACCEPTED, "OrderFilled") == "FILL"
    with pytest.raises(IllegalTransition):
        transition(S.FILLED, "OrderFilled")
    md = transition_table_markdown()
    assert "| PENDING_CANCEL |" in md and md.count("\n") == len(TRANSITIONS) + 1


# --- the state machine ---------------------------------------------------------------------------
QTYS = ("0.1", "0.2", "0.3", "0.5", "1.0")
EVENT_KINDS = ("accept", "reject", "fill", "cancel_req", "cancel", "cancel_rej", "upd_req", "upd", "upd_rej",
               "expire", "unknown")


class OrderMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.order = Order(submitted("1.0"))
        self.applied: list[object] = [submitted("1.0")]
        self.fill_sum = Decimal(0)
        self.trade_ids: set[str] = set()

    @rule(kind=st.sampled_from(EVENT_KINDS), tid=st.integers(0, 6), qty=st.sampled_from(QTYS),
          vid=st.sampled_from(("V1", "V2")), new_qty=st.sampled_from(("0.5", "1.0", "1.5", "2.0")))
    def event(self, kind: str, tid: int, qty: str, vid: str, new_qty: str) -> None:
        e = {
            "accept": lambda: ev(OrderAccepted, vid),
            "reject": lambda: ev(OrderRejected, "no"),
            "fill": lambda: fill(f"t{tid}", qty),
            "cancel_req": lambda: ev(OrderCancelRequested),
            "cancel": lambda: ev(OrderCanceled, vid, ""),
            "cancel_rej": lambda: ev(OrderCancelRejected, "no"),
            "upd_req": lambda: ev(OrderUpdateRequested, Quantity(new_qty), None, None),
            "upd": lambda: ev(OrderUpdated, Quantity(new_qty), None, None),
            "upd_rej": lambda: ev(OrderUpdateRejected, "no"),
            "expire": lambda: ev(OrderExpired, vid),
            "unknown": lambda: ev(OrderStatusUnknown, "timeout"),
        }[kind]()
        before = self.order.state()
        try:
            changed = self.order.apply(e)  # type: ignore[arg-type]
        except IllegalTransition:
            assert self.order.state() == before, "an illegal event changed the order"
            return
        if changed:
            self.applied.append(e)
            if isinstance(e, OrderFilled):
                assert e.trade_id not in self.trade_ids
                self.trade_ids.add(e.trade_id)
                self.fill_sum += e.last_qty.as_decimal()
        else:
            assert self.order.state()[:-1] == before[:-1]

    @invariant()
    def filled_never_exceeds_ordered(self) -> None:
        o = self.order
        assert Decimal(0) <= o.filled_qty.as_decimal() <= o.quantity.as_decimal()
        assert o.filled_qty.as_decimal() == self.fill_sum
        assert o.trade_ids == self.trade_ids

    @invariant()
    def status_is_consistent(self) -> None:
        o = self.order
        assert o.status in TRANSITIONS and o.status not in (S.INITIALIZED, S.DENIED)
        assert (o.status is S.FILLED) == (o.filled_qty == o.quantity)
        if o.status is S.REJECTED:
            assert not o.filled_qty
        if o.status in (S.PENDING_CANCEL, S.PENDING_UPDATE):
            assert o.previous_status in (S.SUBMITTED, S.ACCEPTED, S.PARTIALLY_FILLED, S.UNKNOWN)

    @invariant()
    def replay_rebuilds_identical_state(self) -> None:
        fresh = Order(self.applied[0])  # type: ignore[arg-type]
        for e in self.applied[1:]:
            assert fresh.apply(e)  # type: ignore[arg-type]
        assert fresh.state() == self.order.state()


TestOrderMachine = OrderMachine.TestCase
TestOrderMachine.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)

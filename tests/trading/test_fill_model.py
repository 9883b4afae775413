"""The one fill model (paper, sim, backtests): book walking, queue position, partial fills,
IOC/FOK/post-only, stops, bars, fees and slippage."""

from __future__ import annotations

from decimal import Decimal

from quantai_tui.core.book import OrderBook
from quantai_tui.core.enums import LiquiditySide, OrderSide, OrderType, TimeInForce
from quantai_tui.core.events import OrderBookDeltas
from quantai_tui.core.fill_model import CANCELED, FILL, REJECTED, TRIGGERED, Matcher, SimOrder
from quantai_tui.core.instruments import make_instrument
from quantai_tui.core.values import Money, Price, Quantity

INST = make_instrument("t", "BTC/USDT", "0.1", "0.001", maker_fee="0.0002", taker_fee="0.001")


def book(bids: list[tuple[float, float]], asks: list[tuple[float, float]]) -> OrderBook:
    b = OrderBook("t", "BTC/USDT")
    b.apply(OrderBookDeltas("t", "BTC/USDT", tuple(bids), tuple(asks), True, 1, ts_event=0, ts_init=0))
    return b


BOOK = [(99.9, 1.0), (99.8, 2.0), (99.7, 5.0)], [(100.1, 1.0), (100.2, 2.0), (100.3, 5.0)]


def order(coid: str, side: OrderSide, qty: str, otype: OrderType = OrderType.LIMIT, price: str | None = None,
          trigger: str | None = None, tif: TimeInForce = TimeInForce.GTC, post_only: bool = False) -> SimOrder:
    q = Quantity(qty, 3).raw
    return SimOrder(coid, side, otype, q, Price(price) if price else None, Price(trigger) if trigger else None, tif,
                    post_only)


def fills(execs: list | None) -> list[tuple[str, str, str]]:
    return [(str(e.qty), str(e.price), e.liquidity.value) for e in execs or [] if e.kind == FILL]


def test_market_order_walks_the_book_with_taker_fees() -> None:
    m = Matcher(INST)
    out = m.submit(order("a", OrderSide.BUY, "2.5", OrderType.MARKET), book(*BOOK), 1)
    assert fills(out) == [("1.000", "100.1", "TAKER"), ("1.500", "100.2", "TAKER")]
    assert out[0].fee == Money("0.10010000", "USDT")  # 1 * 100.1 * 0.001
    assert not m.orders


def test_market_order_beyond_the_book_cancels_the_rest() -> None:
    m = Matcher(INST)
    out = m.submit(order("a", OrderSide.SELL, "10", OrderType.MARKET), book(*BOOK), 1)
    assert [f[0] for f in fills(out)] == ["1.000", "2.000", "5.000"]
    assert out[-1].kind == CANCELED


def test_market_order_without_a_book_fills_at_the_next_trade_with_slippage() -> None:
    m = Matcher(INST, slippage_bps=Decimal("10"))
    assert m.submit(order("a", OrderSide.BUY, "1", OrderType.MARKET), None, 1) == []
    out = m.on_trade(100.0, 0.001, 2)
    assert fills(out) == [("1.000", "100.1", "TAKER")]  # 100 * 1.001, rounded up to the tick
    assert out[0].ts == 2


def test_market_order_without_a_book_fills_at_the_next_quote() -> None:
    m = Matcher(INST)
    m.submit(order("a", OrderSide.SELL, "1", OrderType.MARKET), None, 1)
    assert fills(m.on_quote(99.5, 3.0, 99.6, 3.0, 2)) == [("1.000", "99.5", "TAKER")]


def test_limit_rests_behind_the_queue_then_partially_fills_by_traded_size() -> None:
    m = Matcher(INST)
    b = book(*BOOK)
    assert m.submit(order("a", OrderSide.BUY, "1", price="99.9"), b, 1) == []
    assert m.orders["a"].queue == 1000  # 1.0 already resting at 99.9
    assert fills(m.on_trade(99.9, 0.6, 2)) == []  # the queue ahead shrinks 1.0 -> 0.4
    assert m.orders["a"].queue == 400
    out = m.on_trade(99.9, 0.7, 3)  # 0.4 clears the queue, 0.3 fills us
    assert fills(out) == [("0.300", "99.9", "MAKER")]
    assert out[0].fee == Money("0.00599400", "USDT")
    out = m.on_trade(99.8, 0.01, 4)  # traded through: the rest fills at our price
    assert fills(out) == [("0.700", "99.9", "MAKER")]
    assert not m.orders


def test_queue_shrinks_with_the_level() -> None:
    m = Matcher(INST)
    b = book(*BOOK)
    m.submit(order("a", OrderSide.BUY, "1", price="99.9"), b, 1)
    b.apply(OrderBookDeltas("t", "BTC/USDT", ((99.9, 0.2),), (), False, 2, ts_event=0, ts_init=0))
    m.on_book(b, ((99.9, 0.2),), (), 2)
    assert m.orders["a"].queue == 200


def test_crossing_limit_takes_then_rests() -> None:
    m = Matcher(INST)
    out = m.submit(order("a", OrderSide.BUY, "2", price="100.1"), book(*BOOK), 1)
    assert fills(out) == [("1.000", "100.1", "TAKER")]
    assert m.orders["a"].leaves_raw == 1000 and m.bb == 100.1


def test_ioc_fok_post_only() -> None:
    b = book(*BOOK)
    m = Matcher(INST)
    out = m.submit(order("ioc", OrderSide.BUY, "2", price="100.1", tif=TimeInForce.IOC), b, 1)
    assert fills(out) == [("1.000", "100.1", "TAKER")] and out[-1].kind == CANCELED
    out = m.submit(order("fok", OrderSide.BUY, "4", price="100.2", tif=TimeInForce.FOK), b, 1)
    assert [e.kind for e in out] == [CANCELED]  # only 3 available up to 100.2
    out = m.submit(order("fok2", OrderSide.BUY, "3", price="100.2", tif=TimeInForce.FOK), b, 1)
    assert [f[0] for f in fills(out)] == ["1.000", "2.000"]
    out = m.submit(order("po", OrderSide.BUY, "1", price="100.1", post_only=True), b, 1)
    assert [e.kind for e in out] == [REJECTED]
    assert m.submit(order("po2", OrderSide.BUY, "1", price="100.0", post_only=True), b, 1) == []
    assert not {"ioc", "fok", "fok2", "po"} & set(m.orders)


def test_book_crossing_a_resting_order_fills_it_as_maker() -> None:
    m = Matcher(INST)
    b = book(*BOOK)
    m.submit(order("a", OrderSide.SELL, "1.5", price="100.1"), b, 1)
    b.apply(OrderBookDeltas("t", "BTC/USDT", ((100.1, 0.5), (100.2, 0.4)), (), False, 2, ts_event=0, ts_init=0))
    out = m.on_book(b, ((100.1, 0.5), (100.2, 0.4)), (), 2)
    assert fills(out) == [("0.400", "100.1", "MAKER"), ("0.500", "100.1", "MAKER")]


def test_stops_trigger_on_trades() -> None:
    m = Matcher(INST)
    assert m.on_trade(100.0, 1, 0) is None
    m.submit(order("sm", OrderSide.SELL, "1", OrderType.STOP_MARKET, trigger="99.0"), None, 1)
    m.submit(order("sl", OrderSide.BUY, "1", OrderType.STOP_LIMIT, price="101.5", trigger="101.0"), None, 1)
    assert m.on_trade(99.5, 1, 2) is None
    out = m.on_trade(98.9, 1, 3)
    assert [e.kind for e in out] == [TRIGGERED, FILL] and fills(out) == [("1.000", "98.9", "TAKER")]
    out = m.on_trade(101.2, 1, 4)  # triggers, then the limit at 101.5 takes the trade at its price
    assert out[0].kind == TRIGGERED and fills(out) == [("1.000", "101.5", "TAKER")]


def test_bar_mode_fills_market_orders_at_the_next_open_and_limits_on_the_range() -> None:
    m = Matcher(INST, bar_mode=True)
    m.on_bar(100, 101, 99, 100.5, 0)
    assert m.submit(order("m", OrderSide.BUY, "1", OrderType.MARKET), None, 10) == []
    m.submit(order("l", OrderSide.BUY, "1", price="98.0"), None, 10)
    m.submit(order("g", OrderSide.SELL, "1", price="100.0"), None, 10)
    out = m.on_bar(100.7, 101.0, 98.5, 99.0, 20)
    assert sorted(fills(out)) == [("1.000", "100.7", "TAKER"), ("1.000", "100.7", "TAKER")]  # market, and g gapped
    out = m.on_bar(99.0, 99.5, 98.0, 98.2, 30)  # the low reaches 98.0
    assert fills(out) == [("1.000", "98.0", "MAKER")] and out[0].ts == 30


def test_bar_mode_no_next_bar_no_fill() -> None:
    m = Matcher(INST, bar_mode=True)
    m.on_bar(100, 101, 99, 100.5, 0)
    m.submit(order("m", OrderSide.BUY, "1", OrderType.MARKET), None, 10)
    assert "m" in m.orders  # still waiting: the replay ends, it never fills


def test_nothing_near_the_price_is_the_fast_path() -> None:
    m = Matcher(INST)
    b = book(*BOOK)
    m.submit(order("a", OrderSide.BUY, "1", price="90.0"), b, 1)
    m.submit(order("b", OrderSide.SELL, "1", price="110.0"), b, 1)
    assert (m.lo, m.hi) == (90.0, 110.0) and not m.hot
    assert all(m.on_trade(100.0 + (i % 7) * 0.1, 0.1, i) is None for i in range(1000))


def test_modify_requeues_on_price_change_and_refuses_below_filled() -> None:
    import pytest

    m = Matcher(INST)
    b = book(*BOOK)
    m.submit(order("a", OrderSide.BUY, "1", price="99.9"), b, 1)
    m.on_trade(99.9, 1.5, 2)  # 1.0 queue, then 0.5 fills
    assert m.orders["a"].leaves_raw == 500
    m.modify("a", Quantity("2", 3), Price("99.8"), b, 3)
    o = m.orders["a"]
    assert o.leaves_raw == 1500 and o.queue == 2000 and m.bb == 99.8
    with pytest.raises(ValueError):
        m.modify("a", Quantity("0.5", 3), None, b, 4)
    assert m.cancel("a") is o and not m.orders and m.bb == float("-inf")


def test_liquidity_side_enum_values() -> None:
    assert LiquiditySide.MAKER.value == "MAKER"

"""The fill model's less travelled rules (docstring of core/fill_model.py): stops already
through their trigger, amends of stops and of resting orders, IOC/FOK limits without a book,
stops and resting orders met by quotes and books, bars, fees on inverse contracts, and the
venue-wide lookup."""

from __future__ import annotations

import pytest

from quantai_tui.core.book import OrderBook
from quantai_tui.core.enums import OrderSide, OrderType, TimeInForce
from quantai_tui.core.events import OrderBookDeltas
from quantai_tui.core.fill_model import CANCELED, FILL, TRIGGERED, FillModel, Matcher, SimOrder
from quantai_tui.core.instruments import make_instrument
from quantai_tui.core.values import Money, Price, Quantity

INST = make_instrument("t", "BTC/USDT", "0.1", "0.001", maker_fee="0.0002", taker_fee="0.001")
BOOK = [(99.9, 1.0), (99.8, 2.0), (99.7, 5.0)], [(100.1, 1.0), (100.2, 2.0), (100.3, 5.0)]

B, S = OrderSide.BUY, OrderSide.SELL


def book(bids: list[tuple[float, float]], asks: list[tuple[float, float]]) -> OrderBook:
    b = OrderBook("t", "BTC/USDT")
    b.apply(OrderBookDeltas("t", "BTC/USDT", tuple(bids), tuple(asks), True, 1, ts_event=0, ts_init=0))
    return b


def order(coid: str, side: OrderSide, qty: str, otype: OrderType = OrderType.LIMIT, price: str | None = None,
          trigger: str | None = None, tif: TimeInForce = TimeInForce.GTC, post_only: bool = False) -> SimOrder:
    return SimOrder(coid, side, otype, Quantity(qty, 3).raw, Price(price) if price else None,
                    Price(trigger) if trigger else None, tif, post_only)


def fills(execs: list | None) -> list[tuple[str, str, str, str]]:
    return [(e.order.coid, str(e.qty), str(e.price), e.liquidity.value) for e in execs or [] if e.kind == FILL]


def kinds(execs: list | None) -> list[str]:
    return [e.kind for e in execs or []]


# --- stops --------------------------------------------------------------------------------------------------------
def test_a_stop_already_through_its_trigger_triggers_on_arrival() -> None:
    m = Matcher(INST)
    m.on_trade(101.0, 1.0, 0)
    out = m.submit(order("s", B, "1.5", OrderType.STOP_MARKET, trigger="100.0"), book(*BOOK), 1)
    assert kinds(out)[0] == TRIGGERED
    assert fills(out) == [("s", "1.000", "100.1", "TAKER"), ("s", "0.500", "100.2", "TAKER")]  # walks the book
    m2 = Matcher(INST)  # no trade yet: the book's mid is the reference
    out = m2.submit(order("s2", S, "1", OrderType.STOP_MARKET, trigger="100.5"), book(*BOOK), 1)
    assert kinds(out)[0] == TRIGGERED and fills(out) == [("s2", "1.000", "99.9", "TAKER")]


def test_stops_trigger_on_a_quote_mid_and_fill_at_the_touch() -> None:
    m = Matcher(INST)
    m.submit(order("up", B, "1", OrderType.STOP_MARKET, trigger="101.0"), None, 1)
    m.submit(order("dn", S, "1", OrderType.STOP_MARKET, trigger="99.0"), None, 1)
    assert m.on_quote(100.0, 1.0, 100.2, 1.0, 2) is None
    out = m.on_quote(101.0, 1.0, 101.2, 1.0, 3)  # mid 101.1 >= 101.0
    assert kinds(out) == [TRIGGERED, FILL] and fills(out) == [("up", "1.000", "101.2", "TAKER")]
    out = m.on_quote(98.8, 1.0, 99.0, 1.0, 4)  # mid 98.9 <= 99.0
    assert fills(out) == [("dn", "1.000", "98.8", "TAKER")] and not m.orders


def test_stops_trigger_on_a_book_mid_and_walk_it() -> None:
    m = Matcher(INST)
    b = book(*BOOK)
    m.submit(order("up", B, "2", OrderType.STOP_MARKET, trigger="100.5"), b, 1)
    assert m.on_book(b, (), (), 2) is None  # mid 100.0
    b2 = book([(100.5, 1.0)], [(100.7, 1.5), (100.8, 3.0)])
    out = m.on_book(b2, ((100.5, 1.0),), ((100.7, 1.5), (100.8, 3.0)), 3)  # mid 100.6
    assert kinds(out)[0] == TRIGGERED
    assert fills(out) == [("up", "1.500", "100.7", "TAKER"), ("up", "0.500", "100.8", "TAKER")]


def test_stops_on_bars_fill_at_the_trigger_or_the_gap() -> None:
    m = Matcher(INST, bar_mode=True)
    m.on_bar(100, 100.5, 99.5, 100, 0)
    m.submit(order("up", B, "1", OrderType.STOP_MARKET, trigger="101.0"), None, 5)
    m.submit(order("dn", S, "1", OrderType.STOP_MARKET, trigger="99.0"), None, 5)
    out = m.on_bar(100.0, 101.5, 99.5, 101.0, 10)  # the high reaches 101.0
    assert fills(out) == [("up", "1.000", "101.0", "TAKER")]
    out = m.on_bar(98.0, 98.5, 97.0, 98.0, 20)  # gaps below the sell stop: filled at the open
    assert fills(out) == [("dn", "1.000", "98.0", "TAKER")]


def test_a_stop_limit_triggered_inside_a_bar_rests_from_the_next_bar() -> None:
    m = Matcher(INST, bar_mode=True)
    m.on_bar(100, 100.5, 99.5, 100, 0)
    m.submit(order("sl", B, "1", OrderType.STOP_LIMIT, price="103.0", trigger="102.0"), None, 5)
    out = m.on_bar(101.0, 102.5, 100.5, 102.0, 30)  # opens at 101.0, reaches 102.0 later: triggers
    assert kinds(out) == [TRIGGERED] and "sl" in m.orders  # no fill at 101.0: it did not exist then
    out = m.on_bar(102.5, 102.8, 102.4, 102.6, 40)  # opens below its limit: filled at the open
    assert fills(out) == [("sl", "1.000", "102.5", "TAKER")]


# --- amends ---------------------------------------------------------------------------------------------------------
def test_amend_refusals_and_unknown_orders() -> None:
    m = Matcher(INST)
    b = book(*BOOK)
    assert m.modify("nope", None, Price("99.0"), b, 1) is None
    m.submit(order("po", B, "1", price="99.5", post_only=True), b, 1)
    with pytest.raises(ValueError, match="post-only price would take liquidity"):
        m.modify("po", None, Price("100.1"), b, 2)
    assert m.orders["po"].price == Price("99.5")  # unchanged


def test_an_untriggered_stop_is_amended_and_stays_a_stop() -> None:
    m = Matcher(INST)
    m.on_trade(100.0, 1.0, 0)
    m.submit(order("s", S, "1", OrderType.STOP_MARKET, trigger="99.0"), None, 1)
    assert m.modify("s", Quantity("3", 3), None, None, 2) == []
    assert m.stops == [m.orders["s"]] and m.orders["s"].leaves_raw == 3000
    out = m.on_trade(98.9, 1.0, 3)
    assert fills(out) == [("s", "3.000", "98.9", "TAKER")]


def test_a_smaller_amend_at_the_same_price_keeps_its_place_in_the_queue() -> None:
    m = Matcher(INST)
    b = book(*BOOK)
    m.submit(order("a", B, "2", price="99.9"), b, 1)
    m.on_trade(99.9, 0.4, 2)
    assert m.orders["a"].queue == 600
    assert m.modify("a", Quantity("1", 3), None, b, 3) == []
    assert m.orders["a"].queue == 600 and m.orders["a"].leaves_raw == 1000 and m.bb == 99.9


# --- IOC / FOK --------------------------------------------------------------------------------------------------------
def test_ioc_limits_without_a_book_get_the_next_print_only() -> None:
    m = Matcher(INST)
    m.submit(order("in", B, "1", price="100.0", tif=TimeInForce.IOC), None, 1)
    m.submit(order("out", S, "1", price="101.0", tif=TimeInForce.IOC), None, 1)
    out = m.on_trade(99.8, 0.1, 2)
    assert fills(out) == [("in", "1.000", "100.0", "TAKER")]  # at its own price, never better
    assert [(e.order.coid, e.reason) for e in out if e.kind == CANCELED] == [("out", "IOC not filled by the next trade")]
    m.submit(order("q1", B, "1", price="100.0", tif=TimeInForce.FOK), None, 3)
    m.submit(order("q2", S, "1", price="100.5", tif=TimeInForce.IOC), None, 3)
    out = m.on_quote(99.9, 1.0, 99.95, 1.0, 4)
    assert fills(out) == [("q1", "1.000", "100.0", "TAKER")]  # the ask, snapped to the tick
    assert [(e.order.coid, e.reason) for e in out if e.kind == CANCELED] == [("q2", "IOC not filled by the next quote")]
    assert not m.orders


def test_a_fok_limit_that_does_not_cross_is_canceled_at_once() -> None:
    m = Matcher(INST)
    out = m.submit(order("f", B, "1", price="100.0", tif=TimeInForce.FOK), book(*BOOK), 1)
    assert [(e.kind, e.reason) for e in out] == [(CANCELED, "FOK order cannot be filled whole")]


def test_ioc_limits_on_bars_get_the_next_open_only() -> None:
    m = Matcher(INST, bar_mode=True)
    m.on_bar(100, 100.5, 99.5, 100, 0)
    m.submit(order("in", B, "1", price="100.5", tif=TimeInForce.IOC), None, 5)
    m.submit(order("out", B, "1", price="99.0", tif=TimeInForce.IOC), None, 5)
    out = m.on_bar(100.2, 100.4, 98.0, 99.0, 10)  # the low reaches 99.0, but only the open counts
    assert fills(out) == [("in", "1.000", "100.2", "TAKER")]
    assert [(e.order.coid, e.reason) for e in out if e.kind == CANCELED] == [("out", "IOC not filled at the next open")]


# --- resting orders met by the market ---------------------------------------------------------------------------------
def test_a_market_order_with_no_book_walks_the_first_book_that_arrives() -> None:
    m = Matcher(INST)
    m.submit(order("m", B, "2", OrderType.MARKET), None, 1)
    b = book(*BOOK)
    out = m.on_book(b, BOOK[0], BOOK[1], 2)
    assert fills(out) == [("m", "1.000", "100.1", "TAKER"), ("m", "1.000", "100.2", "TAKER")]


def test_a_quote_through_resting_orders_fills_them_at_their_price() -> None:
    m = Matcher(INST)
    b = book(*BOOK)
    m.submit(order("b", B, "1", price="99.9"), b, 1)
    m.submit(order("s", S, "2", price="100.1"), b, 1)
    out = m.on_quote(99.5, 5.0, 99.8, 0.4, 2)  # the ask comes down through our bid, 0.4 of it
    assert fills(out) == [("b", "0.400", "99.9", "MAKER")]
    out = m.on_quote(100.2, 0.0, 100.4, 5.0, 3)  # a bid through our ask, no size given: fills whole
    assert fills(out) == [("s", "2.000", "100.1", "MAKER")]


def test_a_book_through_several_resting_orders_shares_its_levels_out() -> None:
    m = Matcher(INST)
    b = book(*BOOK)
    m.submit(order("s1", S, "1", price="100.1"), b, 1)
    m.submit(order("s2", S, "1", price="100.2"), b, 1)
    b2 = book([(100.3, 0.6), (100.2, 1.0)], [(100.5, 1.0)])
    out = m.on_book(b2, ((100.3, 0.6), (100.2, 1.0)), ((100.5, 1.0),), 2)
    assert fills(out) == [("s1", "0.600", "100.1", "MAKER"), ("s1", "0.400", "100.1", "MAKER"),
                          ("s2", "0.600", "100.2", "MAKER")]
    assert m.orders["s2"].leaves_raw == 400


def test_a_trade_at_a_resting_sell_fills_it_behind_its_queue() -> None:
    m = Matcher(INST)
    b = book(*BOOK)
    m.submit(order("s", S, "1", price="100.1"), b, 1)  # 1.0 ahead of it
    assert fills(m.on_trade(100.1, 1.5, 2)) == [("s", "0.500", "100.1", "MAKER")]
    assert fills(m.on_trade(100.2, 0.01, 3)) == [("s", "0.500", "100.1", "MAKER")]  # traded through
    assert not m.orders


def test_levels_thinner_than_a_lot_are_skipped() -> None:
    m = Matcher(INST)
    b = book([(99.9, 1.0)], [(100.1, 0.0004), (100.2, 1.0)])
    out = m.submit(order("m", B, "0.5", OrderType.MARKET), b, 1)
    assert fills(out) == [("m", "0.500", "100.2", "TAKER")]
    m2 = Matcher(INST)
    out = m2.submit(order("l", B, "1", price="100.0"), book(*BOOK), 1)  # below the best ask: no take
    assert out == [] and m2.bb == 100.0


# --- fees and lookups ---------------------------------------------------------------------------------------------------
def test_inverse_contract_fees_are_in_the_base_currency() -> None:
    inv = make_instrument("t", "BTC/USD:BTC", "0.5", "1", contract_size="100", maker_fee="0.0002", taker_fee="0.0005")
    m = Matcher(inv)
    b = OrderBook("t", inv.symbol)
    b.apply(OrderBookDeltas("t", inv.symbol, ((49_999.5, 100.0),), ((50_000.0, 100.0),), True, 1, ts_event=0, ts_init=0))
    out = m.submit(SimOrder("i", B, OrderType.MARKET, 10), b, 1)  # 10 contracts of 100 USD
    (e,) = [x for x in out if x.kind == FILL]
    assert e.fee == Money("0.00001000", "BTC")  # 1000 USD / 50000 * 0.0005


def test_the_venue_finds_an_order_in_any_of_its_matchers() -> None:
    fm = FillModel()
    eth = make_instrument("t", "ETH/USDT", "0.01", "0.001")
    m_btc, m_eth = fm.matcher(INST), fm.matcher(eth)
    assert fm.matcher(INST) is m_btc
    m_eth.submit(order("e1", B, "1", price="1.00"), None, 1)
    found = fm.find("e1")
    assert found is not None and found[0] is m_eth and found[1].coid == "e1"
    assert fm.find("nope") is None


def test_a_taker_price_keeps_every_digit_of_a_large_price_at_8_decimals() -> None:
    fine = make_instrument("t", "BIG/USDT", "0.00000001", "0.001", taker_fee="0.001")
    m = Matcher(fine, bar_mode=True)
    m.on_bar(123456789012.0, 123456789012.5, 123456789011.5, 123456789012.0, 0)
    m.submit(order("mk", B, "1", OrderType.MARKET), None, 5)
    out = m.on_bar(123456789012.345, 123456789013.0, 123456789012.0, 123456789012.5, 60)
    # the float's own nearest decimal at 8 places, not a float product's 123456789012.34499584
    assert fills(out) == [("mk", "1.000", "123456789012.34500000", "TAKER")]

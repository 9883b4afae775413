"""The sim exchange's synthetic market: deterministic, plausible, on tick and lot, never crossed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantai_tui.connectors.sim import INSTRUMENTS, SPECS, SimMarket
from quantai_tui.core.book import OrderBook
from quantai_tui.core.enums import AggressorSide
from quantai_tui.core.errors import SymbolError
from quantai_tui.core.events import Bar, OrderBookDeltas, QuoteTick, TradeTick, market_topic

MINUTE = 60_000_000_000


def _on_grid(value: float, step: Decimal) -> bool:
    return Decimal(repr(value)) % step == 0


def test_same_seed_same_market_other_seed_other_market() -> None:
    a = SimMarket(7, ["BTC/USDT", "ETH/USDT"], rate=500).generate(5000)
    b = SimMarket(7, ["BTC/USDT", "ETH/USDT"], rate=500).generate(5000)
    c = SimMarket(8, ["BTC/USDT", "ETH/USDT"], rate=500).generate(5000)
    assert a == b
    assert [e for _, e in a] != [e for _, e in c]


def test_generate_in_pieces_equals_generate_at_once() -> None:
    whole = SimMarket(3, ["BTC/USDT"]).generate(3001)
    m = SimMarket(3, ["BTC/USDT"])
    pieces = m.generate(1000) + m.generate(1) + m.generate(2000)
    assert pieces == whole


def test_a_symbols_market_does_not_depend_on_the_other_symbols() -> None:
    alone = [e for _, e in SimMarket(5, ["ETH/USDT"], rate=200).generate(2000)]
    mixed = [e for _, e in SimMarket(5, ["BTC/USDT", "ETH/USDT", "SOL/USDT"], rate=200).generate(9000)
             if e.symbol == "ETH/USDT"]
    assert mixed[: len(alone)] == alone[: len(mixed)]
    assert len(mixed) > 1000


def test_generate_until_stops_at_the_time_and_keeps_the_rest() -> None:
    m = SimMarket(1, ["BTC/USDT"], rate=100)
    first = m.generate_until(m.start_ns + 2_000_000_000)
    assert first and all(e.ts_init <= m.start_ns + 2_000_000_000 for _, e in first)
    assert m.next_ts is not None and m.next_ts > m.start_ns + 2_000_000_000
    capped = m.generate_until(m.start_ns + 60 * 1_000_000_000, max_events=10)
    assert len(capped) == 10
    rest = SimMarket(1, ["BTC/USDT"], rate=100).generate(len(first) + 10)
    assert first + capped == rest


@pytest.mark.parametrize("symbol", sorted(SPECS))
def test_book_prices_and_sizes_follow_the_instrument(symbol: str) -> None:
    inst = INSTRUMENTS[symbol]
    tick, lot = inst.tick_size.as_decimal(), inst.lot_size.as_decimal()
    m = SimMarket(11, [symbol], rate=300, depth=20)
    book = OrderBook("sim", symbol)
    msgs = m.generate(10_000)
    assert isinstance(msgs[0][1], OrderBookDeltas) and msgs[0][1].is_snapshot
    assert msgs[0][0] == market_topic("book", "sim", symbol)
    last_ts = 0
    for topic, ev in msgs:
        assert topic.split(".")[0] == ev.TOPIC and ev.venue == "sim" and ev.symbol == symbol
        assert ev.ts_init >= last_ts  # publish order is ts_init order
        assert ev.ts_event == ev.ts_init or (isinstance(ev, Bar) and ev.ts_event <= ev.ts_init)
        last_ts = ev.ts_init
        if isinstance(ev, OrderBookDeltas):
            book.apply(ev)
            for price, size in ev.bids + ev.asks:
                assert _on_grid(price, tick) and _on_grid(size, lot) and size >= 0
            assert not book.is_crossed()
            spread = book.spread()
            assert spread is not None and spread > 0
            assert 19 <= len(book.bids) <= 20 and 19 <= len(book.asks) <= 20
        elif isinstance(ev, TradeTick):
            assert _on_grid(ev.price, tick) and _on_grid(ev.size, lot) and ev.size > 0
            assert ev.aggressor in (AggressorSide.BUYER, AggressorSide.SELLER)
            # a trade happens at the touch it hits
            touch = book.best_ask() if ev.aggressor is AggressorSide.BUYER else book.best_bid()
            assert touch is not None and touch[0] == ev.price and ev.size <= touch[1]
        elif isinstance(ev, QuoteTick):
            assert ev.bid < ev.ask and ev.bid_size > 0 and ev.ask_size > 0
    # the generator's exposed book is the book its published deltas build
    assert m.book(symbol).as_dict() == book.as_dict()


def test_prices_and_sizes_are_plausible() -> None:
    m = SimMarket(42, ["BTC/USDT", "ETH/USDT"], rate=50)
    trades: dict[str, list[TradeTick]] = {"BTC/USDT": [], "ETH/USDT": []}
    for _, ev in m.generate(20_000):
        if isinstance(ev, TradeTick):
            trades[ev.symbol].append(ev)
    btc, eth = trades["BTC/USDT"], trades["ETH/USDT"]
    assert all(20_000 < t.price < 200_000 for t in btc)
    assert all(1_000 < t.price < 10_000 for t in eth)
    median = sorted(t.size for t in btc)[len(btc) // 2]
    assert 0.0001 <= median <= 0.1  # BTC trades are a fraction of a coin
    assert max(t.size for t in btc) < 50
    # both sides trade
    sides = {t.aggressor for t in btc}
    assert sides == {AggressorSide.BUYER, AggressorSide.SELLER}
    # the BTC book holds a plausible amount near the touch
    depth = sum(s for _, s in m.book("BTC/USDT").bids.top(20))
    assert 0.5 < depth < 200


def test_one_minute_bars_close_every_minute_and_match_the_trades() -> None:
    m = SimMarket(9, ["ETH/USDT"], rate=5)
    msgs = m.generate(12_000)
    bars = [e for _, e in msgs if isinstance(e, Bar)]
    assert len(bars) >= 10
    assert [b.ts_event for b in bars] == [bars[0].ts_event + i * MINUTE for i in range(len(bars))]
    assert all(b.ts_event % MINUTE == 0 and b.timeframe == "1m" and b.closed for b in bars)
    assert all(b.ts_event <= b.ts_init < b.ts_event + MINUTE for b in bars)
    trades = [e for _, e in msgs if isinstance(e, TradeTick)]
    for bar in bars[1:5]:
        inside = [t for t in trades if bar.ts_event - MINUTE <= t.ts_event < bar.ts_event]
        assert inside
        assert bar.open == inside[0].price and bar.close == inside[-1].price
        assert bar.high == max(t.price for t in inside) and bar.low == min(t.price for t in inside)
        assert bar.volume == pytest.approx(sum(t.size for t in inside))
        # each bar arrives after its minute's events and before the next minute's
        assert msgs.index(("bars.sim.ETH/USDT", bar)) > max(msgs.index(("trades.sim.ETH/USDT", t)) for t in inside)


def test_volatility_regimes_and_jumps_move_the_price() -> None:
    m = SimMarket(4, ["ETH/USDT"], rate=1)
    bars = [e for _, e in m.generate(15_000) if isinstance(e, Bar)]
    ranges = sorted((b.high - b.low) / b.close for b in bars if b.volume)
    assert len(ranges) > 60
    # quiet minutes and busy minutes: the widest minute is several times the typical one
    assert ranges[-1] > 4 * ranges[len(ranges) // 2] > 0


def test_unknown_symbol_is_one_clear_error() -> None:
    with pytest.raises(SymbolError, match="sim exchange has no XRP/USDT"):
        SimMarket(1, ["XRP/USDT"])
    assert SimMarket(1, ["eth/usdt"]).symbols == ["ETH/USDT"]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32), rate=st.floats(1, 20_000), depth=st.integers(1, 40),
       symbol=st.sampled_from(sorted(SPECS)))
def test_never_crossed_for_any_seed_rate_and_depth(seed: int, rate: float, depth: int, symbol: str) -> None:
    m = SimMarket(seed, [symbol], rate=rate, depth=depth)
    book = OrderBook("sim", symbol)
    for _, ev in m.generate(1500):
        if isinstance(ev, OrderBookDeltas):
            book.apply(ev)
            assert not book.is_crossed()
            assert 1 <= len(book.bids) <= depth and 1 <= len(book.asks) <= depth

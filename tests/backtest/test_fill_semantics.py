"""Fill semantics: bars fill at the next bar's open (none without a next bar), results are
marked to the last close; ticks fill at the next trade or quote; fees and slippage."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from quantai_tui.backtest import run_backtest
from quantai_tui.core.events import Bar, QuoteTick, TradeTick
from quantai_tui.engine.strategy import Param, Strategy

MIN = 60_000_000_000
T0 = 1_735_689_600_000_000_000  # 2025-01-01


class Script(Strategy):
    """Buys on the bar/tick numbers in `buy_at`, sells the position on those in `sell_at`."""

    name = "script"
    buy_at = Param("", "comma separated event numbers (0-based)")
    sell_at = Param("", "comma separated event numbers")
    qty = Param(Decimal("1"))

    async def on_start(self) -> None:
        self.n = -1
        self.buys = {int(x) for x in self.buy_at.split(",") if x}
        self.sells = {int(x) for x in self.sell_at.split(",") if x}

    async def _step(self) -> None:
        self.n += 1
        if self.n in self.buys:
            await self.buy(self.qty)
        if self.n in self.sells and self.position() > 0:
            await self.sell(self.position())

    async def on_bar(self, bar: Bar) -> None:
        await self._step()

    async def on_tick(self, tick: TradeTick) -> None:
        await self._step()

    async def on_quote(self, quote: QuoteTick) -> None:
        await self._step()


def write_bars(path: Path, rows: list[tuple[float, float, float, float]]) -> Path:
    ts = [T0 + i * MIN for i in range(len(rows))]
    o, h, lo, c = zip(*rows)
    pq.write_table(pa.table({"timestamp": pa.array(ts, pa.timestamp("ns", tz="UTC")), "open": o, "high": h,
                             "low": lo, "close": c, "volume": [1.0] * len(rows)}), path)
    return path


BARS = [(100.0, 101.0, 99.0, 100.5), (101.0, 102.0, 100.0, 101.5), (102.0, 103.0, 101.0, 102.5),
        (103.0, 104.0, 102.0, 103.5), (104.0, 105.0, 103.0, 104.5)]


@pytest.fixture
def bars(tmp_path) -> Path:
    return write_bars(tmp_path / "TEST_USDT-1m.parquet", BARS)


def test_market_order_on_bar_t_fills_at_bar_t_plus_1_open(bars):
    res = run_backtest(Script, bars, {"buy_at": "1", "sell_at": "3"}, initial_capital=1000, fee_bps=0)
    assert [(f.side, f.price) for f in res.fills] == [("BUY", Decimal("102.0")), ("SELL", Decimal("104.0"))]
    # stamped with the open time of the bar that filled them
    assert [f.ts for f in res.fills] == [T0 + 2 * MIN, T0 + 4 * MIN]
    assert res.final_equity == Decimal(1000) - 102 + 104


def test_no_next_bar_no_fill_and_marked_to_last_close(bars):
    res = run_backtest(Script, bars, {"buy_at": "3,4"}, initial_capital=1000, fee_bps=0)
    assert [(f.side, f.price) for f in res.fills] == [("BUY", Decimal("104.0"))]  # the one on the last bar never fills
    assert res.orders == 2
    # 1 unit bought at 104.0, marked to the last close 104.5
    assert res.final_equity == Decimal(1000) - Decimal("104.0") + Decimal("104.5")


def test_fees_in_bps_of_the_notional(bars):
    res = run_backtest(Script, bars, {"buy_at": "0", "sell_at": "2"}, initial_capital=1000, fee_bps=25)
    assert [f.fee for f in res.fills] == [Decimal("0.2525"), Decimal("0.2575")]  # 101 and 103 at 0.25%
    assert res.fees == Decimal("0.51")
    assert res.final_equity == Decimal(1000) - 101 + 103 - Decimal("0.51")


def test_default_fee_is_the_venues_taker_fee_else_10_bps(tmp_path):
    plain = write_bars(tmp_path / "TEST_USDT-1m.parquet", BARS)
    kraken = write_bars(tmp_path / "kraken_TEST_USD-1m.parquet", BARS)
    a = run_backtest(Script, plain, {"buy_at": "0"}, initial_capital=1000)
    b = run_backtest(Script, kraken, {"buy_at": "0"}, initial_capital=1000)
    assert a.fills[0].fee == Decimal("0.101")  # 10 bps of 101
    assert b.fills[0].fee == Decimal("0.2626")  # kraken: 26 bps


def test_slippage_moves_market_fills_against_the_taker(bars):
    res = run_backtest(Script, bars, {"buy_at": "0", "sell_at": "2"}, initial_capital=1000, fee_bps=0,
                       slippage_bps=100)
    buy, sell = res.fills
    # the tick inferred from the data is 0.1: 101 * 1.01 = 102.01 rounds up, 103 * 0.99 = 101.97 down
    assert buy.price == Decimal("102.1")
    assert sell.price == Decimal("101.9")


def test_ticks_fill_at_the_next_trade(tmp_path):
    path = tmp_path / "TEST_USDT-trades.parquet"
    prices = [100.0, 100.5, 101.0, 100.75, 102.0]
    pq.write_table(pa.table({"timestamp": [T0 + i * 1_000_000 for i in range(5)], "price": prices,
                             "quantity": [0.5] * 5, "side": ["buy", "sell", "buy", "sell", "buy"]}), path)
    res = run_backtest(Script, path, {"buy_at": "0", "sell_at": "2"}, initial_capital=1000, fee_bps=0)
    assert [(f.side, f.price, f.ts) for f in res.fills] == [
        ("BUY", Decimal("100.5"), T0 + 1_000_000), ("SELL", Decimal("100.75"), T0 + 3_000_000)]


def test_quotes_fill_buys_at_the_ask_and_sells_at_the_bid(tmp_path):
    path = tmp_path / "TEST_USDT-quotes.parquet"
    bids, asks = [99.0, 99.5, 100.0, 100.5], [99.5, 100.0, 100.5, 101.0]
    pq.write_table(pa.table({"timestamp": [T0 + i * 1_000_000 for i in range(4)], "bid": bids, "ask": asks,
                             "bid_size": [1.0] * 4, "ask_size": [1.0] * 4}), path)
    res = run_backtest(Script, path, {"buy_at": "0", "sell_at": "2"}, initial_capital=1000, fee_bps=0)
    assert [(f.side, f.price) for f in res.fills] == [("BUY", Decimal("100.0")), ("SELL", Decimal("100.5"))]


def test_merged_sources_replay_in_time_order(tmp_path):
    a = tmp_path / "AAA_USDT-trades.parquet"
    b = tmp_path / "BBB_USDT-trades.parquet"
    pq.write_table(pa.table({"timestamp": [T0 + 1, T0 + 3, T0 + 5], "price": [1.0, 2.0, 3.0], "quantity": [1.0] * 3}), a)
    pq.write_table(pa.table({"timestamp": [T0 + 2, T0 + 3, T0 + 4], "price": [7.0, 8.0, 9.0], "quantity": [1.0] * 3}), b)

    seen = []

    class Recorder(Strategy):
        name = "recorder"

        async def on_tick(self, tick: TradeTick) -> None:
            seen.append((tick.ts_event, tick.symbol))

    res = run_backtest(Recorder, [a, b])
    assert res.ticks == 6
    assert seen == [(T0 + 1, "AAA/USDT"), (T0 + 2, "BBB/USDT"), (T0 + 3, "AAA/USDT"), (T0 + 3, "BBB/USDT"),
                    (T0 + 4, "BBB/USDT"), (T0 + 5, "AAA/USDT")]

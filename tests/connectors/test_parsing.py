"""Each parser on real or venue-published frames, field by field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from quantai_tui.connectors.binance import parsing as bn
from quantai_tui.connectors.bybit import parsing as by
from quantai_tui.connectors.okx import parsing as ok
from quantai_tui.core.enums import AggressorSide
from tests.exchange_server import EXCHANGES, data_available

pytestmark = pytest.mark.skipif(not data_available(), reason="../shared/data/exchanges is not available")
MS = 1_000_000
T0 = 42  # ts_init


def load(rel: str) -> Any:
    return json.loads((EXCHANGES / rel).read_text())


def test_binance_agg_trade_book_ticker_kline_depth() -> None:
    t = bn.parse_agg_trade(load("binance/cryptofeed_extracted/spot_ws_aggTrade.json")["data"], "binance", "NKN/USDT", T0)
    assert (t.price, t.size, t.aggressor, t.trade_id, t.ts_event, t.ts_init) == (
        0.3528, 58.0, AggressorSide.BUYER, "15683430", 1633998523963 * MS, T0)
    fut = bn.parse_agg_trade(load("binance/nautilus_crate/futures/market_data_json/agg_trade_stream.json"), "x", "s", T0)
    assert fut.aggressor is AggressorSide.SELLER  # m: the buyer was the maker

    q = bn.parse_book_ticker(load("binance/cryptofeed_extracted/spot_ws_bookTicker.json")["data"], "binance", "N", T0)
    assert (q.bid, q.bid_size, q.ask, q.ask_size, q.ts_event) == (0.3521, 672.0, 0.3526, 3199.0, T0)  # spot: no time
    qf = bn.parse_book_ticker(load("binance/nautilus_crate/futures/market_data_json/book_ticker_stream.json"), "x", "s", T0)
    assert qf.ts_event == 1568014460891 * MS

    bar = bn.parse_kline(load("binance/cryptofeed_extracted/spot_ws_kline.json")["data"], "binance", "N", T0)
    assert (bar.timeframe, bar.open, bar.high, bar.low, bar.close, bar.volume, bar.closed) == (
        "1m", 0.3527, 0.3528, 0.3522, 0.3528, 25877.0, False)
    assert bar.ts_event == 1633998540000 * MS  # close time = T + 1 ms = t + 1 minute
    closed = bn.parse_kline(load("binance/nautilus_crate/futures/market_data_json/kline_stream_closed.json"), "x", "s", T0)
    assert closed.closed and closed.ts_event == 1638747720000 * MS

    first, prev, ev = bn.parse_depth(load("binance/cryptofeed_extracted/usdm_ws_depthUpdate.json")["data"],
                                     "binanceusdm", "S", T0, futures=True)
    raw = load("binance/cryptofeed_extracted/usdm_ws_depthUpdate.json")["data"]
    assert (first, ev.sequence, prev, ev.ts_event) == (raw["U"], raw["u"], raw["pu"], raw["T"] * MS)
    assert ev.bids == tuple((float(p), float(s)) for p, s in raw["b"]) and not ev.is_snapshot

    last, snap = bn.parse_depth_snapshot(load("binance/cryptofeed_extracted/spot_rest_depth_snapshot.json"), "b", "N", T0)
    assert snap.is_snapshot and snap.sequence == last and len(snap.bids) > 100


def test_okx_trade_bbo_candle_book() -> None:
    t = ok.parse_trade(load("okx/cryptofeed_extracted/ws_trades.json")["data"][0], "okx", "BTC/USDT", T0)
    raw = load("okx/cryptofeed_extracted/ws_trades.json")["data"][0]
    assert (t.price, t.size, t.trade_id, t.ts_event) == (float(raw["px"]), float(raw["sz"]), raw["tradeId"],
                                                         int(raw["ts"]) * MS)
    assert t.aggressor is (AggressorSide.BUYER if raw["side"] == "buy" else AggressorSide.SELLER)

    q = ok.parse_bbo(load("okx/nautilus_crate/ws_bbo_tbt.json")["data"][0], "okx", "BTC/USDT", T0)
    assert q is not None and (q.bid, q.bid_size, q.ask, q.ask_size, q.ts_event) == (
        8476.97, 256.0, 8476.98, 415.0, 1597026383085 * MS)

    bar = ok.parse_candle(load("okx/nautilus_crate/ws_candle.json")["data"][0], "okx", "BTC/USDT", "1d", T0)
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume, bar.closed) == (
        8533.02, 8553.74, 8527.17, 8548.26, 45247.0, True)
    assert bar.ts_event == (1597026383085 + 86_400_000) * MS

    seq, prev, checksum, ev = ok.parse_book(load("okx/cryptofeed_extracted/ws_books_snapshot_BTC-USDT.json")["data"][0],
                                            "okx", "BTC/USDT", T0, True)
    assert (seq, prev) == (None, None) and checksum != 0 and len(ev.bids) == 400 and ev.is_snapshot


def test_bybit_trade_kline_book() -> None:
    t = by.parse_trade(load("bybit/nautilus_py_2025/ws_messages/public/ws_trade.json")["data"][0], "bybit", "B", T0)
    assert (t.price, t.size, t.aggressor, t.trade_id, t.ts_event) == (
        16578.5, 0.001, AggressorSide.BUYER, "20f43950-d8dd-5b31-9112-a178eb6023af", 1672304486865 * MS)
    bar = by.parse_kline(load("bybit/nautilus_py_2025/ws_messages/public/ws_kline.json")["data"][0], "bybit", "B", T0)
    assert (bar.timeframe, bar.open, bar.close, bar.closed, bar.ts_event) == (
        "5m", 16649.5, 16677.0, False, 1672325100000 * MS)
    snap, u, ev = by.parse_book(load("bybit/bybit_history_ob500/ws_orderbook500_snapshot_XRPUSDT.json"), "bybit", "X", T0)
    assert snap and ev.is_snapshot and u == ev.sequence and len(ev.bids) == 500
    delta = load("bybit/nautilus_py_2025/ws_messages/public/ws_orderbook_delta.json")
    snap, u, ev = by.parse_book(delta, "bybit", "B", T0)
    assert not snap and u == 177400507 and (30240.0, 0.0) in ev.bids  # size 0: delete the level
    delta["data"]["u"] = 1
    assert by.parse_book(delta, "bybit", "B", T0)[0]  # u == 1: overwrite, whatever the type


@pytest.mark.parametrize("level", [["nan", "1"], ["inf", "1"], ["-1", "1"], ["0", "1"], ["1", "-2"], ["1", "nan"]])
def test_levels_that_would_corrupt_a_book_are_rejected(level: list[str]) -> None:
    d = load("bybit/nautilus_py_2025/ws_messages/public/ws_orderbook_delta.json")
    d["data"]["b"] = [level]
    with pytest.raises(ValueError):
        by.parse_book(d, "bybit", "B", T0)

"""`ma_crossover` through the whole backtest engine agrees, fill by fill and to the cent, with
an independent plain loop written here from the strategy's documented rules."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from quantai_tui.backtest import run_backtest

EPS = 1e-12


def _read(path: Path) -> dict[str, list[float]]:
    table = pcsv.read_csv(path) if ".csv" in path.name else pq.read_table(path)
    return {c: table.column(c).to_pylist() for c in ("open", "close")}


def plain_loop(opens, closes, fast, slow, qty, fee_bps, capital, places):
    """Signals on closes; a market order placed on bar i fills at bar i+1's open (prices at
    the venue's tick: `places` decimals, which also drops float noise such as ...00000001)."""
    tick = Decimal(1).scaleb(-places)
    cash, pos = Decimal(capital), Decimal(0)
    rate = Decimal(fee_bps) / Decimal(10_000)
    fills = []
    pending = None
    prev_sign = None
    for i in range(len(closes)):
        if pending is not None:  # fill at this bar's open
            side, q = pending
            px = Decimal(repr(opens[i])).quantize(tick)
            fee = px * q * rate
            cash += (-px * q if side == "BUY" else px * q) - fee
            pos += q if side == "BUY" else -q
            fills.append((side, q, px, fee))
            pending = None
        if i + 1 < slow:
            continue
        f = sum(closes[i + 1 - fast: i + 1]) / fast
        s = sum(closes[i + 1 - slow: i + 1]) / slow
        d = f - s
        sign = 1 if d > EPS * s else -1 if d < -EPS * s else 0
        if prev_sign is not None:
            if sign > 0 >= prev_sign and pos == 0:
                pending = ("BUY", Decimal(qty))
            elif sign < 0 <= prev_sign and pos > 0:
                pending = ("SELL", pos)
        prev_sign = sign
    equity = cash + pos * Decimal(repr(closes[-1])).quantize(tick)
    return fills, equity


@pytest.mark.parametrize(("rel", "qty", "fast", "slow", "places"), [
    ("nautilus/btc-perp-20211231-20220201_1m.csv.gz", "0.01", 10, 30, 2),
    ("nautilus/btc-perp-20211231-20220201_1m.csv.gz", "0.05", 7, 50, 2),
    ("freqtrade/UNITTEST_BTC-1m.parquet", "1000", 10, 30, 8),
])
def test_engine_equals_plain_loop(market, rel, qty, fast, slow, places):
    path = market / rel
    data = _read(path)
    expected_fills, expected_equity = plain_loop(data["open"], data["close"], fast, slow, qty, 10, 1_000_000, places)
    res = run_backtest("ma_crossover", path, {"fast": fast, "slow": slow, "qty": qty}, initial_capital=1_000_000,
                       fee_bps=10, symbol="BTC/USDT")
    got = [(f.side, f.qty, f.price, f.fee) for f in res.fills]
    assert len(got) == len(expected_fills) > 20
    for g, e in zip(got, expected_fills):
        assert g[0] == e[0] and g[1] == e[1] and g[2] == e[2]
        assert abs(g[3] - e[3]) < Decimal("1e-12")
    assert res.final_equity.quantize(Decimal("0.01")) == expected_equity.quantize(Decimal("0.01"))
    assert res.orders == len(expected_fills) or res.orders == len(expected_fills) + 1  # the last may not fill

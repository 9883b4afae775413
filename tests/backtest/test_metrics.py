"""Metrics on hand-computed series."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from quantai_tui.backtest.metrics import YEAR_S, BoundedCurve, MetricsAccumulator, TripTracker, metrics_from_equity


def test_returns_sharpe_sortino_drawdown_by_hand():
    eq = [100.0, 110.0, 99.0, 108.9, 108.9]
    m = metrics_from_equity(eq, period_s=86_400, exposed=[True, True, False, False])
    r = [0.1, -0.1, 0.1, 0.0]
    mean = sum(r) / 4
    std = math.sqrt(sum((x - mean) ** 2 for x in r) / 3)
    ppy = YEAR_S / 86_400
    assert m["sharpe"] == pytest.approx(mean / std * math.sqrt(ppy), rel=1e-12)
    assert m["sortino"] == pytest.approx(mean / math.sqrt(0.01 / 4) * math.sqrt(ppy), rel=1e-12)
    assert m["return_pct"] == pytest.approx(8.9)
    assert m["max_drawdown_pct"] == pytest.approx(10.0)  # 110 -> 99
    assert m["exposure_pct"] == 50.0
    # 4 daily periods: (108.9 / 100) ** (365.25 / 4) - 1
    assert m["cagr_pct"] == pytest.approx(((1.089) ** (365.25 / 4) - 1) * 100, rel=1e-9)


def test_annualisation_follows_the_data_frequency():
    eq = [100.0, 101.0, 100.5, 101.5, 101.0, 102.0]
    daily = metrics_from_equity(eq, period_s=86_400)
    minutely = metrics_from_equity(eq, period_s=60)
    assert minutely["sharpe"] / daily["sharpe"] == pytest.approx(math.sqrt(1440), rel=1e-12)


def test_undefined_values_are_none():
    m = metrics_from_equity([100.0, 100.0], period_s=60)
    assert m["sharpe"] is None and m["sortino"] is None and m["win_rate"] is None and m["profit_factor"] is None
    up = metrics_from_equity([100.0, 101.0, 102.0], period_s=60)
    assert up["sortino"] is None  # no losing period


def test_round_trips_win_rate_and_profit_factor():
    t = TripTracker()
    D = Decimal
    t.on_fill("X", D(1), D(100), D("0.1"))  # open long
    t.on_fill("X", D(-1), D(110), D("0.11"))  # close: +10 - 0.21
    t.on_fill("X", D(-2), D(110), D(0))  # open short 2
    t.on_fill("X", D(1), D(105), D(0))  # cover 1: +5 (trip still open)
    t.on_fill("X", D(3), D(120), D(0))  # cover 1 at 120 (-10), flip to long 2 at 120
    t.on_fill("X", D(-2), D(119), D(0))  # close the long: -2
    assert t.trips == [D("9.79"), D("-5"), D("-2")]
    m = metrics_from_equity([100.0, 101.0], period_s=60, trips=t.trips)
    assert m["win_rate"] == pytest.approx(100 / 3)
    assert m["profit_factor"] == pytest.approx(9.79 / 7)


def test_bounded_curve_keeps_memory_flat():
    c = BoundedCurve(cap=100)
    for i in range(100_000):
        c.add((i, float(i)))
    assert 50 <= len(c.points) <= 100
    assert c.points[0][0] == 0
    ts = [p[0] for p in c.points]
    assert ts == sorted(ts) and len(set(b - a for a, b in zip(ts, ts[1:]))) == 1  # evenly decimated


def test_drawdown_counts_equity_between_samples():
    acc = MetricsAccumulator(100.0, 60_000_000_000)
    acc.sample(1, 100.0, False)
    acc.touch(80.0)  # a fill dropped equity between two samples
    acc.sample(2, 95.0, False)
    acc.first_ts, acc.last_ts = 0, 120_000_000_000
    assert acc.results(Decimal(95), [])["max_drawdown_pct"] == pytest.approx(20.0)


def test_round_trips_from_raw_fills_equal_the_decimal_tracker():
    """The integer round trips the replay computes at the end equal TripTracker's Decimals: opens,
    adds, whole closes, flips, partial closes (rounded divisions), several symbols."""
    import random

    from quantai_tui.backtest.metrics import trips_from_raw
    from quantai_tui.core.values import EXACT

    rng = random.Random(3)
    for _ in range(200):
        fills, ref = [], TripTracker()
        pos = {"A": 0, "B": 0}
        for _ in range(rng.randint(1, 40)):
            sym = rng.choice("AB")
            qp, pp, fp = (8, 2, 8) if sym == "A" else (3, 5, 8)
            p = pos[sym]
            kind = rng.random()
            if p and kind < 0.3:
                q = abs(p)  # close whole
            elif p and kind < 0.5:
                q = rng.randint(1, abs(p) * 2 + 1)  # partial, whole or a flip
            else:
                q = rng.randint(1, 10**6)
            buy = (p < 0) if p and kind < 0.5 else rng.random() < 0.5
            pr, fr = rng.randint(1, 10**7), rng.randint(0, 10**6)
            pos[sym] = p + (q if buy else -q)
            fills.append((sym, buy, q, qp, pr, pp, fr, fp))
            ref.on_fill(sym, EXACT.scaleb(Decimal(q if buy else -q), -qp), EXACT.scaleb(Decimal(pr), -pp),
                        EXACT.scaleb(Decimal(fr), -fp))
        assert trips_from_raw(fills) == ref.trips

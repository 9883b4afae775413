"""Sweeps equal individual runs; the columnar path's fills equal the event-driven path's."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from quantai_tui.backtest import run_backtest, run_sweep
from quantai_tui.backtest.api import grid_values, infer_instrument, resolve_data, resolve_strategy
from quantai_tui.backtest.columnar import run_columnar, sma_cross_events
from quantai_tui.core.errors import StrategyError


def _fills(res):
    return [(f.ts, f.symbol, f.side, f.qty, f.price, f.fee, f.client_order_id) for f in res.fills]


def test_grid_values():
    assert grid_values("fast=5:20:5") == ("fast", ["5", "10", "15", "20"])
    assert grid_values("k=1.5:2.5:0.5") == ("k", ["1.5", "2.0", "2.5"])
    assert grid_values("mode=a,b") == ("mode", ["a", "b"])
    for bad in ("fast", "fast=5:1:1", "fast=1:5:0", "fast=a:b:c"):
        with pytest.raises(StrategyError):
            grid_values(bad)


def _same_run(co, ev):
    assert _fills(co) == _fills(ev)
    assert len(co.fills) == len(ev.fills) and co.orders == ev.orders
    assert co.final_equity == ev.final_equity and str(co.final_equity) == str(ev.final_equity)
    assert co.fees == ev.fees and str(co.fees) == str(ev.fees)
    assert co.metrics == ev.metrics
    assert co.equity_curve == ev.equity_curve and co.price_curve == ev.price_curve
    assert co.extra["denied"] == ev.extra["denied"] and co.extra["denials"] == ev.extra["denials"]


@pytest.mark.parametrize("data", [
    ("freqtrade/XRP_ETH-5m.parquet", None, "50"),  # bars
    ("nautilus/binance_btcusdt-trades.parquet", None, "0.01"),  # trades
    ("freqtrade/XRP_ETH-trades.parquet", None, "5"),
])
def test_columnar_fills_equal_event_driven_on_sampled_grid_points(market, data):
    """Fills computed in columns (no kernel round trip per order) equal the event-driven replay's:
    sampled grid points, plus a fast pair that trades thousands of times."""
    rel, symbol, qty = data
    path = market / rel
    src = resolve_data(path, symbol=symbol)[0]
    inst = infer_instrument(src)
    rng = random.Random(11)
    points = [(f, s) for f in range(2, 40, 3) for s in range(10, 120, 10) if f < s]
    for fast, slow in rng.sample(points, 3) + [(2, 5)]:
        p = {"fast": fast, "slow": slow, "qty": qty}
        ev = run_backtest("ma_crossover", path, p, symbol=symbol, initial_capital=1000, fee_bps=7, check_balance=False)
        co = run_columnar(resolve_strategy("ma_crossover", p), src, inst, initial_capital=Decimal(1000),
                          fee_bps=Decimal(7), check_balance=False)
        assert co.extra.get("fills_in_columns"), (fast, slow)  # the column path, not the kernel's
        assert len(ev.fills) > 0, (fast, slow)
        _same_run(co, ev)


def test_columnar_fills_with_balance_checks_fees_and_slippage(market):
    path = market / "nautilus" / "binance_btcusdt-trades.parquet"
    src = resolve_data(path)[0]
    inst = infer_instrument(src)
    for fast, slow, fee, slip in ((3, 10, 10, 0), (2, 5, 0, 3), (7, 40, 25, 2)):
        p = {"fast": fast, "slow": slow, "qty": "0.01"}
        ev = run_backtest("ma_crossover", path, p, initial_capital="10000", fee_bps=fee, slippage_bps=slip)
        co = run_columnar(resolve_strategy("ma_crossover", p), src, inst, initial_capital=Decimal(10000),
                          fee_bps=Decimal(fee), slippage_bps=Decimal(slip))
        assert co.extra.get("fills_in_columns") and len(ev.fills) > 10, (fast, slow)
        _same_run(co, ev)


def test_columnar_takes_the_kernel_path_when_a_check_could_deny(market):
    """When an order could be denied (money running out, the order rate limit, a notional cap,
    a drawdown limit), every order goes through the kernel: still the event path's outcome."""
    from quantai_tui.settings.schema import Settings

    trades = market / "nautilus" / "binance_btcusdt-trades.parquet"
    xrp = market / "freqtrade" / "XRP_ETH-trades.parquet"
    rate, notional, drawdown = Settings(), Settings(), Settings()
    rate.risk.max_orders_per_second = 2
    notional.risk.max_order_notional = Decimal("0.001")
    drawdown.risk.max_drawdown_pct = Decimal("50")
    cases = [
        (trades, {"fast": 3, "slow": 10, "qty": "0.01"}, "400", None),  # 7 round trips, then not enough money
        (xrp, {"fast": 2, "slow": 3, "qty": "5"}, "1000", rate),
        (xrp, {"fast": 2, "slow": 3, "qty": "5"}, "1000", notional),
        (xrp, {"fast": 2, "slow": 3, "qty": "5"}, "1000", drawdown),
    ]
    for path, p, cap, settings in cases:
        src = resolve_data(path)[0]
        ev = run_backtest("ma_crossover", path, p, initial_capital=cap, fee_bps=10, settings=settings)
        co = run_columnar(resolve_strategy("ma_crossover", p), src, infer_instrument(src),
                          initial_capital=Decimal(cap), fee_bps=Decimal(10), settings=settings)
        assert not co.extra.get("fills_in_columns"), (path.name, p)
        _same_run(co, ev)
    assert ev.orders > 0


def test_sma_cross_events_match_the_streaming_strategy_rule():
    import numpy as np

    prices = np.array([1, 1, 1, 2, 3, 2, 1, 1, 1, 2, 2, 2], dtype=float)
    up, down = sma_cross_events(prices, 2, 3)
    # fast - slow signs from index 2: 0, +, +, 0?, -, ... computed by hand below
    f = [np.mean(prices[i - 1:i + 1]) for i in range(len(prices))]
    s = [np.mean(prices[i - 2:i + 1]) if i >= 2 else np.nan for i in range(len(prices))]
    sign = [0 if i < 2 else (1 if f[i] - s[i] > 1e-12 * s[i] else -1 if f[i] - s[i] < -1e-12 * s[i] else 0)
            for i in range(len(prices))]
    exp_up = [i for i in range(3, len(prices)) if sign[i] > 0 >= sign[i - 1]]
    exp_down = [i for i in range(3, len(prices)) if sign[i] < 0 <= sign[i - 1]]
    assert up.tolist() == exp_up and down.tolist() == exp_down


def test_sweep_equals_individual_runs(market):
    path = market / "nautilus" / "binance_btcusdt-trades.parquet"
    grid = {"fast": ["5", "15"], "slow": ["15", "40"]}
    for columnar in ("off", "on"):
        res = run_sweep("ma_crossover", str(path), grid, {"qty": "0.01"}, jobs=1, columnar=columnar,
                        sort="final_equity", initial_capital=10_000, fee_bps=10)
        assert res.columnar is (columnar == "on")
        assert len(res.rows) == 3 and len(res.skipped) == 1  # fast=15, slow=15 is not a valid pair
        ranked = [r["final_equity"] for r in res.rows]
        assert ranked == sorted(ranked, reverse=True)
        for row in res.rows:
            single = run_backtest("ma_crossover", path, {"fast": row["fast"], "slow": row["slow"], "qty": "0.01"},
                                  initial_capital=10_000, fee_bps=10)
            assert row["final_equity"] == float(single.final_equity)
            assert row["fills"] == len(single.fills) and row["return_pct"] == single.metrics["return_pct"]


@pytest.mark.slow
def test_sweep_in_a_process_pool_equals_serial(market):
    path = str(market / "nautilus" / "binance_btcusdt-trades.parquet")
    grid = {"fast": ["3", "5", "8"], "slow": ["20", "30"]}
    serial = run_sweep("ma_crossover", path, grid, jobs=1, columnar="off")
    pooled = run_sweep("ma_crossover", path, grid, jobs=2, columnar="off")
    assert pooled.jobs == 2
    assert [(r["fast"], r["slow"], r["final_equity"], r["fills"]) for r in pooled.rows] == \
        [(r["fast"], r["slow"], r["final_equity"], r["fills"]) for r in serial.rows]

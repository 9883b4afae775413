"""The five example strategies on real market data from ../shared/data/market (read in place)."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest

from quantai_tui.backtest import run_backtest
from quantai_tui.engine.strategy_loader import load_strategy


@pytest.fixture(scope="module")
def btc_1m(market):
    return market / "nautilus" / "btc-perp-20211231-20220201_1m.csv.gz"


def _run(strategy, data, params=None, **kw):
    kw.setdefault("symbol", None)
    if "btc-perp" in str(data):
        kw.setdefault("end", "2022-01-12")  # the first 11 days (~16,000 bars) keep the suite fast
    return run_backtest(strategy, data, params or {}, **kw)


def test_ma_crossover_trades_and_is_long_only(btc_1m):
    res = _run("ma_crossover", btc_1m, {"fast": 20, "slow": 60}, symbol="BTC/USDT")
    assert res.orders > 50 and len(res.fills) >= res.orders - 1
    pos = Decimal(0)
    for f in res.fills:
        pos += f.qty if f.side == "BUY" else -f.qty
        assert pos >= 0  # never short
        assert f.qty == Decimal("0.01") or f.side == "SELL"


def test_mean_reversion_buys_below_the_band(market):
    data = market / "freqtrade" / "UNITTEST_BTC-1m.parquet"
    res = _run("mean_reversion", data, {"length": 20, "k": 2.0, "qty": "1000"}, initial_capital=100)
    assert len(res.fills) > 20
    assert res.fills[0].side == "BUY"
    short = _run("mean_reversion", data, {"qty": "1000", "allow_short": "true"}, initial_capital=100,
                 check_balance=False)
    assert any(f.side == "SELL" for f in short.fills[:3]) or len(short.fills) > len(res.fills)


def test_momentum_breakout_enters_on_volume_confirmed_highs(btc_1m):
    res = _run("momentum_breakout", btc_1m, {"lookback": 30, "volume_mult": 2.0}, symbol="BTC/USDT")
    assert res.orders > 10
    loose = _run("momentum_breakout", btc_1m, {"lookback": 30, "volume_mult": 0.0}, symbol="BTC/USDT")
    assert loose.orders > res.orders  # the volume filter removes breakouts


def test_engle_granger_on_cointegrated_and_independent_series():
    from quantai_tui.engine.strategy_loader import load_strategy

    mod = __import__(load_strategy("pairs_trading").__module__, fromlist=["engle_granger"])
    rng = np.random.default_rng(3)
    x = np.cumsum(rng.normal(0, 1, 2000))
    y = 2.0 + 0.7 * x + rng.normal(0, 0.5, 2000)  # cointegrated with beta 0.7
    beta, alpha, t = mod.engle_granger(y, x)
    assert abs(beta - 0.7) < 0.02 and abs(alpha - 2.0) < 0.3 and t < -10
    walks = 0
    for seed in range(20):
        r = np.random.default_rng(100 + seed)
        _, _, t2 = mod.engle_granger(np.cumsum(r.normal(0, 1, 1000)), np.cumsum(r.normal(0, 1, 1000)))
        walks += t2 < -3.34
    assert walks <= 4  # two independent random walks rarely pass the 5% test
    # the ADF t-stat matches the regression written out by hand
    e = y - alpha - beta * x
    de = np.diff(e)
    X = np.column_stack([e[1:-1], de[:-1]])
    coef, res, *_ = np.linalg.lstsq(X, de[1:], rcond=None)
    resid = de[1:] - X @ coef
    se = math.sqrt(resid @ resid / (len(resid) - 2) * np.linalg.inv(X.T @ X)[0, 0])
    assert math.isclose(mod.adf_tstat(e, 1), coef[0] / se, rel_tol=1e-9)


def test_pairs_trading_on_eth_ltc_vs_btc(market):
    pairs = market / "pairs"
    res = _run("pairs_trading", [pairs / "freqtrade_ETH_BTC-5m.parquet", pairs / "freqtrade_LTC_BTC-5m.parquet"],
               {"window": 144, "qty": "1"}, initial_capital=100, check_balance=False)
    assert res.symbols == ["ETH/BTC", "LTC/BTC"]
    syms = {f.symbol for f in res.fills}
    assert syms == {"ETH/BTC", "LTC/BTC"}  # both legs trade
    # every entry opens both legs in opposite directions on the same bar
    by_ts: dict[int, set[str]] = {}
    for f in res.fills:
        by_ts.setdefault(f.ts, set()).add(f"{f.symbol}:{f.side}")
    first = by_ts[min(by_ts)]
    assert len(first) == 2 and {s.split(":")[1] for s in first} == {"BUY", "SELL"}


def test_pairs_trading_needs_two_symbols(market):
    from quantai_tui.core.errors import StrategyError

    with pytest.raises(StrategyError, match="two symbols"):
        _run("pairs_trading", market / "pairs" / "freqtrade_ETH_BTC-5m.parquet")


def test_ai_guided_offline_fallback_is_deterministic(btc_1m):
    a = _run("ai_guided", btc_1m, {"interval_s": 1800}, symbol="BTC/USDT")
    b = _run("ai_guided", btc_1m, {"interval_s": 1800}, symbol="BTC/USDT")
    assert a.orders > 10
    assert [(f.ts, f.side, f.price) for f in a.fills] == [(f.ts, f.side, f.price) for f in b.fills]


def test_ai_guided_applies_valid_advice_and_ignores_bad(btc_1m):
    requests = []

    def advisor(req):
        requests.append(req)
        n = len(requests)
        if n % 3 == 0:
            return {"regime": "moon"}  # unknown: ignored, offline rule used
        if n % 3 == 1:
            return {"regime": "trend", "params": {"fast": 8, "slow": 40}}
        return {"regime": "flat"}

    cls = load_strategy("ai_guided")
    strat = cls({"interval_s": 3600})
    res = run_backtest(strat, btc_1m, symbol="BTC/USDT", advisor=advisor, end="2022-01-12")
    assert len(requests) > 100
    assert requests[0]["symbol"] == "BTC/USDT" and "allowed_regimes" in requests[0]
    sources = {src for _, _, src in strat.decisions}
    assert sources == {"advisor", "offline"}
    assert strat.fast == 8 and strat.slow == 40  # the advice changed the parameters
    assert res.orders > 0


def test_ai_guided_never_imports_the_ui():
    import subprocess
    import sys

    code = ("import sys; from quantai_tui.engine.strategy_loader import load_strategy; load_strategy('ai_guided'); "
            "print(any(m.split('.')[0] in ('textual', 'rich') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

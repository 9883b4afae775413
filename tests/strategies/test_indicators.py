"""Streaming indicators equal pandas-ta 0.4.71b0 on the same real data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from quantai_tui.core.errors import ValidationError
from quantai_tui.engine.indicators import ATR, EMA, RSI, SMA, VWAP, Bollinger, RollingMax, RollingMin


@pytest.fixture(scope="module")
def bars(market) -> pd.DataFrame:
    # 1m BTC-PERP bars (prices ~46,000) and a low-priced pair (~0.0016): both scales matter
    big = pd.read_csv(market / "nautilus" / "btc-perp-20211231-20220201_1m.csv.gz", nrows=4000)
    return big


@pytest.fixture(scope="module")
def small(market) -> pd.DataFrame:
    return pd.read_parquet(market / "freqtrade" / "UNITTEST_BTC-1m.parquet").head(4000)


def _close(a: np.ndarray, b: np.ndarray, rtol: float = 1e-9) -> None:
    assert len(a) == len(b)
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    assert (nan_a == nan_b).all(), f"nan positions differ at {np.flatnonzero(nan_a != nan_b)[:5]}"
    np.testing.assert_allclose(a[~nan_a], b[~nan_b], rtol=rtol, atol=0)


def _stream(ind, values) -> np.ndarray:
    return np.array([ind.update(float(x)) for x in values])


@pytest.mark.parametrize("frame", ["bars", "small"])
@pytest.mark.parametrize("n", [2, 10, 30, 100])  # pandas-ta fails at n=1
def test_sma(request, pandas_ta, frame, n):
    df = request.getfixturevalue(frame)
    _close(_stream(SMA(n), df["close"]), pandas_ta.sma(df["close"], n).to_numpy())


@pytest.mark.parametrize("frame", ["bars", "small"])
@pytest.mark.parametrize("n", [2, 12, 50])
def test_ema_is_sma_seeded(request, pandas_ta, frame, n):
    df = request.getfixturevalue(frame)
    _close(_stream(EMA(n), df["close"]), pandas_ta.ema(df["close"], n).to_numpy())


@pytest.mark.parametrize("frame", ["bars", "small"])
@pytest.mark.parametrize("n", [2, 14, 30])
def test_rsi_is_ewm_from_bar_one(request, pandas_ta, frame, n):
    df = request.getfixturevalue(frame)
    expected = pandas_ta.rsi(df["close"], n).to_numpy()
    got = _stream(RSI(n), df["close"])
    _close(got, expected, rtol=1e-8)


@pytest.mark.parametrize("frame", ["bars", "small"])
@pytest.mark.parametrize(("n", "k"), [(20, 2.0), (5, 1.5)])
def test_bollinger_sample_std(request, pandas_ta, frame, n, k):
    df = request.getfixturevalue(frame)
    bb = pandas_ta.bbands(df["close"], n, lower_std=k, upper_std=k)
    ind = Bollinger(n, k)
    lower, mid, upper = [], [], []
    for x in df["close"]:
        ind.update(float(x))
        lower.append(ind.lower)
        mid.append(ind.middle)
        upper.append(ind.upper)
    cols = list(bb.columns)
    _close(np.array(mid), bb[cols[1]].to_numpy())
    # On a flat window pandas' rolling variance leaves ~1e-20 of rounding (std ~1e-10) where
    # the streaming update gives 0: bands are compared at 1e-7 of the price level.
    _close(np.array(upper), bb[cols[2]].to_numpy(), rtol=1e-7)
    _close(np.array(lower), bb[cols[0]].to_numpy(), rtol=1e-7)


@pytest.mark.parametrize("frame", ["bars", "small"])
@pytest.mark.parametrize("n", [5, 14])
def test_atr(request, pandas_ta, frame, n):
    df = request.getfixturevalue(frame)
    expected = pandas_ta.atr(df["high"], df["low"], df["close"], n).to_numpy()
    ind = ATR(n)
    got = np.array([ind.update(h, lo, c) for h, lo, c in zip(df["high"], df["low"], df["close"])])
    # pandas-ta adds machine epsilon to every high-low range when one of them is zero
    _close(got, expected, rtol=1e-7)


def test_vwap_daily_anchor(pandas_ta, market):
    df = pd.read_csv(market / "nautilus" / "btc-perp-20211231-20220201_1m.csv.gz", nrows=3000)
    df.index = pd.DatetimeIndex(pd.to_datetime(df["timestamp"]))
    expected = pandas_ta.vwap(df["high"], df["low"], df["close"], df["volume"]).to_numpy()
    ind = VWAP()
    ts = df.index.as_unit("ns").asi8
    got = np.array([ind.update_bar(h, lo, c, v, int(t)) for h, lo, c, v, t in
                    zip(df["high"], df["low"], df["close"], df["volume"], ts)])
    _close(got, expected, rtol=1e-9)
    assert len(set(ts // 86_400_000_000_000)) >= 2  # the data crosses a UTC day: the reset is tested


def test_rolling_extremes():
    xs = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0]
    hi, lo = RollingMax(3), RollingMin(3)
    for i, x in enumerate(xs):
        h, m = hi.update(x), lo.update(x)
        if i >= 2:
            assert h == max(xs[i - 2: i + 1]) and m == min(xs[i - 2: i + 1])
        else:
            assert math.isnan(h) and math.isnan(m)


def test_bad_lengths_are_clear_errors():
    for cls in (SMA, EMA, RSI, ATR):
        with pytest.raises(ValidationError, match="length"):
            cls(0)
    with pytest.raises(ValidationError, match="length"):
        Bollinger(1)


def test_sma_matches_numpy_cumsum_bit_for_bit():
    """The columnar sweep path relies on this: streaming SMA == cumsum difference, exactly."""
    rng = np.random.default_rng(7)
    x = 30_000 + np.cumsum(rng.normal(0, 5, 5000))
    n = 20
    c = np.cumsum(x)
    ref = (c[n - 1:] - np.concatenate(([0.0], c[:-n]))) / n
    got = _stream(SMA(n), x)[n - 1:]
    assert (got == ref).all()

"""Pairs trading on two cointegrated symbols (Engle-Granger), with a rolling hedge ratio.

Symbols: the first two of the run (`--data A.parquet --data B.parquet`), e.g. ETH/BTC and
LTC/BTC 5m bars. On every timestamp where both have a closed bar:

1. Rolling OLS over `window` bars of log(A) on log(B): hedge ratio beta and intercept alpha, kept
   with running sums (O(1) per bar). spread = log(A) - alpha - beta * log(B); z = spread / its
   standard error over the window.
2. Every `retest_every` bars, the Engle-Granger test: an ADF regression (numpy least squares)
   of the OLS residuals, delta e_t = gamma e_{t-1} + sum phi_i delta e_{t-i} + eps; the pair is
   tradable while the t-statistic of gamma is below `adf_critical` (-3.34 is the 5% value for
   two series, MacKinnon).
3. Enter when |z| > `entry_z`: short A / long B when z is high, the reverse when low; B's size
   is beta times A's notional. Exit when |z| < `exit_z`, beyond `stop_z`, or when the pair stops
   being cointegrated.

    quantai backtest --strategy pairs_trading --data freqtrade_ETH_BTC-5m.parquet \
        --data freqtrade_LTC_BTC-5m.parquet --param window=288
"""

from __future__ import annotations

import math
from collections import deque
from decimal import Decimal
from typing import Any

import numpy as np

from quantai_tui.core.events import Bar
from quantai_tui.engine.strategy import Param, Strategy


def adf_tstat(e: np.ndarray, lags: int = 1) -> float:
    """t-statistic of gamma in delta e_t = gamma e_{t-1} + sum_i phi_i delta e_{t-i} (no constant:
    OLS residuals have mean zero)."""
    de = np.diff(e)
    n = len(de) - lags
    if n <= lags + 2:
        return math.nan
    cols = [e[lags:-1]] + [de[lags - i: len(de) - i] for i in range(1, lags + 1)]
    x = np.column_stack(cols)
    y = de[lags:]
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    dof = len(y) - x.shape[1]
    s2 = float(resid @ resid) / dof
    try:
        cov = s2 * np.linalg.inv(x.T @ x)
    except np.linalg.LinAlgError:
        return math.nan
    se = math.sqrt(cov[0, 0]) if cov[0, 0] > 0 else math.nan
    return float(coef[0] / se) if se == se and se > 0 else math.nan


def engle_granger(y: np.ndarray, x: np.ndarray, lags: int = 1) -> tuple[float, float, float]:
    """(beta, alpha, ADF t-stat of the residuals) of y = alpha + beta * x + e."""
    xm = np.column_stack([np.ones_like(x), x])
    (alpha, beta), *_ = np.linalg.lstsq(xm, y, rcond=None)
    return float(beta), float(alpha), adf_tstat(y - alpha - beta * x, lags)


class PairsTrading(Strategy):
    name = "pairs_trading"
    max_symbols = 2

    window = Param(288, "bars in the rolling regression (288 = one day of 5m bars)", min=20)
    entry_z = Param(2.0, "enter when |z| exceeds this", min=0.0)
    exit_z = Param(0.5, "exit when |z| falls below this", min=0.0)
    stop_z = Param(4.0, "give up when |z| exceeds this (0 = never)", min=0.0)
    adf_critical = Param(-3.34, "trade while the ADF t-stat is below this (Engle-Granger 5%)")
    adf_lags = Param(1, "lagged differences in the ADF regression", min=0)
    retest_every = Param(48, "bars between cointegration tests", min=1)
    qty = Param(Decimal("1"), "size of the first symbol's leg in base units", min=Decimal(0))

    @staticmethod
    def validate_params(p: dict[str, Any]) -> str | None:
        if p["exit_z"] >= p["entry_z"]:
            return f"exit_z ({p['exit_z']}) must be below entry_z ({p['entry_z']})"
        return None

    def subscriptions(self) -> set[str]:
        return {"bars"} if "bars" in self.data_kinds or not self.data_kinds else {"trades"}

    async def on_start(self) -> None:
        if len(self.symbols) < 2:
            from quantai_tui.core.errors import StrategyError

            raise StrategyError("pairs_trading needs two symbols (two --data files)")
        self.a, self.b = self.symbols[0], self.symbols[1]
        self._last: dict[str, tuple[int, float]] = {}
        self._xs: deque[float] = deque()
        self._ys: deque[float] = deque()
        self._sx = self._sy = self._sxx = self._syy = self._sxy = 0.0
        self._bars = 0
        self.cointegrated = False
        self.last_tstat = math.nan
        self.beta = math.nan
        self.z = math.nan

    async def on_bar(self, bar: Bar) -> None:
        await self._price(bar.symbol, bar.ts_event, bar.close)

    async def _price(self, symbol: str, ts: int, price: float) -> None:
        self._last[symbol] = (ts, price)
        a, b = self._last.get(self.a), self._last.get(self.b)
        if a is None or b is None or a[0] != b[0] or price <= 0:
            return  # wait until both legs have a price at the same time
        y, x = math.log(a[1]), math.log(b[1])
        self._push(x, y)
        n = len(self._xs)
        if n < self.window:
            return
        self._bars += 1
        if self._bars % self.retest_every == 1 or self.retest_every == 1:
            _, _, t = engle_granger(np.array(self._ys), np.array(self._xs), self.adf_lags)
            self.last_tstat = t
            self.cointegrated = t == t and t < self.adf_critical
        mx, my = self._sx / n, self._sy / n
        vx = self._sxx - n * mx * mx
        if vx <= 0:
            return
        beta = (self._sxy - n * mx * my) / vx
        alpha = my - beta * mx
        rss = max(self._syy - n * my * my - beta * (self._sxy - n * mx * my), 0.0)
        se = math.sqrt(rss / (n - 2)) if rss > 0 else 0.0
        if se == 0.0:
            return
        self.beta = beta
        self.z = z = (y - alpha - beta * x) / se
        await self._trade(z, beta, a[1], b[1])

    def _push(self, x: float, y: float) -> None:
        self._xs.append(x)
        self._ys.append(y)
        self._sx += x
        self._sy += y
        self._sxx += x * x
        self._syy += y * y
        self._sxy += x * y
        if len(self._xs) > self.window:
            ox, oy = self._xs.popleft(), self._ys.popleft()
            self._sx -= ox
            self._sy -= oy
            self._sxx -= ox * ox
            self._syy -= oy * oy
            self._sxy -= ox * oy

    async def _trade(self, z: float, beta: float, pa: float, pb: float) -> None:
        pos_a = self.position(self.a)
        if pos_a:
            if abs(z) < self.exit_z or (self.stop_z and abs(z) > self.stop_z) or not self.cointegrated:
                await self._flatten()
            return
        if not self.cointegrated or abs(z) <= self.entry_z or (self.stop_z and abs(z) > self.stop_z):
            return
        qa = self.instrument(self.a).make_qty(self.qty)
        qb = self.instrument(self.b).make_qty(abs(beta) * float(self.qty) * pa / pb)
        if not qa or not qb:
            return
        short_a = z > 0  # A is rich relative to B
        if short_a:
            await self.sell(qa, self.a)
            await (self.buy(qb, self.b) if beta > 0 else self.sell(qb, self.b))
        else:
            await self.buy(qa, self.a)
            await (self.sell(qb, self.b) if beta > 0 else self.buy(qb, self.b))

    async def _flatten(self) -> None:
        for sym in (self.a, self.b):
            pos = self.position(sym)
            if pos > 0:
                await self.sell(pos, sym)
            elif pos < 0:
                await self.buy(-pos, sym)

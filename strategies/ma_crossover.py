"""Moving-average crossover, long only.

Buys `qty` when the fast SMA crosses above the slow SMA while flat; sells the whole position
when it crosses below. "Crosses above" means the sign of (fast - slow) goes from <= 0 to > 0
between two consecutive prices (and "below" from >= 0 to < 0), where a difference within
1e-12 of the slow SMA counts as 0, so float rounding never invents a cross on flat prices.

Prices: bar closes when the data has bars, else trade prices (one update per tick).

Parameters: fast (10), slow (30), qty (0.01, base units). fast must be below slow.

    quantai backtest --strategy ma_crossover --data btc-1m.parquet --param fast=10 --param slow=50
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from quantai_tui.core.events import Bar, TradeTick
from quantai_tui.engine.indicators import SMA
from quantai_tui.engine.strategy import Param, Strategy

EPS = 1e-12


class MaCrossover(Strategy):
    name = "ma_crossover"
    max_symbols = 1

    fast = Param(10, "fast SMA length (bars or ticks)", min=1)
    slow = Param(30, "slow SMA length", min=2)
    qty = Param(Decimal("0.01"), "order size in base units", min=Decimal(0))

    #: the columnar sweep path implements this strategy over whole columns (backtest/columnar.py)
    columnar = "sma_cross"

    @staticmethod
    def validate_params(p: dict[str, Any]) -> str | None:
        if p["fast"] >= p["slow"]:
            return f"fast ({p['fast']}) must be below slow ({p['slow']})"
        return None

    def subscriptions(self) -> set[str]:
        return {"bars"} if "bars" in self.data_kinds or not self.data_kinds else {"trades"}

    async def on_start(self) -> None:
        self._fast = SMA(self.fast)
        self._slow = SMA(self.slow)
        self._prev = 0  # sign of fast - slow at the previous price; 2 = not known yet
        self._known = False
        self._qty = self.instrument().make_qty(self.qty)

    async def on_bar(self, bar: Bar) -> None:
        await self._step(bar.close)

    async def on_tick(self, tick: TradeTick) -> None:
        # the hot path of a tick backtest: two O(1) updates and a compare
        f = self._fast.update(tick.price)
        s = self._slow.update(tick.price)
        if s != s:  # nan: the slow SMA is not warm yet
            return
        d = f - s
        e = EPS * s
        sign = 1 if d > e else -1 if d < -e else 0
        prev = self._prev
        self._prev = sign
        if not self._known:
            self._known = True
            return
        if sign > 0 >= prev:
            if self.is_flat():
                await self.buy(self._qty)
        elif sign < 0 <= prev:
            pos = self.position()
            if pos > 0:
                await self.sell(pos)

    async def _step(self, price: float) -> None:
        f = self._fast.update(price)
        s = self._slow.update(price)
        if s != s:
            return
        d = f - s
        e = EPS * s
        sign = 1 if d > e else -1 if d < -e else 0
        prev = self._prev
        self._prev = sign
        if not self._known:
            self._known = True
            return
        if sign > 0 >= prev:
            if self.is_flat():
                await self.buy(self._qty)
        elif sign < 0 <= prev:
            pos = self.position()
            if pos > 0:
                await self.sell(pos)

"""Bollinger-band mean reversion.

Buys `qty` when the close falls below the lower band while flat and sells the position when
the close gets back to the middle band (the SMA). With `allow_short`, it also sells short when
the close rises above the upper band and buys back at the middle band. An optional stop
(`stop_pct`) closes a position that has moved that far against its entry price.

Bands: SMA(`length`) +/- `k` sample standard deviations, as pandas-ta's bbands. Prices are bar
closes, or trade prices when the data has no bars.

    quantai backtest --strategy mean_reversion --data eth-5m.parquet --param length=30 --param k=2.5
"""

from __future__ import annotations

from decimal import Decimal

from quantai_tui.core.events import Bar, TradeTick
from quantai_tui.engine.indicators import Bollinger
from quantai_tui.engine.strategy import Param, Strategy


class MeanReversion(Strategy):
    name = "mean_reversion"
    max_symbols = 1

    length = Param(20, "Bollinger window", min=2)
    k = Param(2.0, "band width in standard deviations", min=0.1)
    qty = Param(Decimal("0.01"), "order size in base units", min=Decimal(0))
    allow_short = Param(False, "also fade moves above the upper band")
    stop_pct = Param(0.0, "close a position this % against its entry (0 = no stop)", min=0.0)

    def subscriptions(self) -> set[str]:
        return {"bars"} if "bars" in self.data_kinds or not self.data_kinds else {"trades"}

    async def on_start(self) -> None:
        self._bb = Bollinger(self.length, self.k)
        self._qty = self.instrument().make_qty(self.qty)
        self._entry = 0.0

    async def on_bar(self, bar: Bar) -> None:
        await self._step(bar.close)

    async def on_tick(self, tick: TradeTick) -> None:
        await self._step(tick.price)

    async def _step(self, price: float) -> None:
        bb = self._bb
        bb.update(price)
        if not bb.ready or bb.std == 0.0:
            return
        pos = self.position()
        if pos > 0:
            stopped = self.stop_pct and price <= self._entry * (1 - self.stop_pct / 100)
            if price >= bb.middle or stopped:
                await self.sell(pos)
        elif pos < 0:
            stopped = self.stop_pct and price >= self._entry * (1 + self.stop_pct / 100)
            if price <= bb.middle or stopped:
                await self.buy(-pos)
        elif price < bb.lower:
            self._entry = price
            await self.buy(self._qty)
        elif self.allow_short and price > bb.upper:
            self._entry = price
            await self.sell(self._qty)

"""The soak's trading strategy: steady order flow on the sim feed, so a long run exercises the
whole order path (submit, fill, cancel, positions opening and closing), not just market data.

- A tick SMA crossover, long only: buys `qty` at market when the fast SMA crosses above the
  slow one while flat; sells the position when it crosses below.
- A resting bid `bid_pct` below the last trade, canceled and placed again every `requote`
  trades (an occasional dip fills it; the crossover's sell then closes that too).
"""

from __future__ import annotations

from decimal import Decimal

from quantai_tui.core.events import TradeTick
from quantai_tui.engine.indicators import SMA
from quantai_tui.engine.strategy import Param, Strategy


class SoakTrader(Strategy):
    name = "soak_trader"

    fast = Param(20, "fast SMA length in trades", min=1)
    slow = Param(80, "slow SMA length in trades", min=2)
    qty = Param(Decimal("0.001"), "order size in base units", min=Decimal(0))
    requote = Param(250, "trades between two re-quotes of the resting bid", min=1)
    bid_pct = Param(0.05, "how far below the last trade the resting bid sits, in %", min=0.0, max=4.0)

    def subscriptions(self) -> set[str]:
        return {"trades"}

    async def on_start(self) -> None:
        self._fast = SMA(self.fast)
        self._slow = SMA(self.slow)
        self._prev = 0
        self._n = 0
        self._bid: str | None = None

    async def on_tick(self, tick: TradeTick) -> None:
        self._n += 1
        f = self._fast.update(tick.price)
        s = self._slow.update(tick.price)
        if s == s:  # warm
            sign = 1 if f > s else -1 if f < s else 0
            prev, self._prev = self._prev, sign
            if sign > 0 >= prev and self.is_flat():
                await self.buy(self.qty)
            elif sign < 0 <= prev and self.position() > 0:
                await self.sell(self.position())
        if self._n % self.requote == 0:
            assert self.ctx is not None
            if self._bid is not None and self._bid in self.ctx.open_order_ids(self.venue, self.symbol, self.id):
                await self.cancel(self._bid)
            self._bid = await self.buy(self.qty, price=tick.price * (1 - self.bid_pct / 100))

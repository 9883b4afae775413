"""A test strategy that trades within seconds on the sim feed and keeps resting orders open.

Every `every` trades it acts once: while fewer than `resting` of its limit orders are open it
places a buy `offset_pct` below the last price (far enough never to fill, inside the risk
price band); otherwise (if `market`) it buys `qty` at market. It never sells, so the position only grows:
after a restart the next fill must continue the position the store had, not start a new one.
"""

from __future__ import annotations

from decimal import Decimal

from quantai_tui.core.events import TradeTick
from quantai_tui.engine.strategy import Param, Strategy


class Churn(Strategy):
    name = "churn"

    every = Param(8, "trades between two actions", min=1)
    qty = Param(Decimal("0.0001"), "order size in base units", min=Decimal(0))
    max_qty = Param(Decimal("0.05"), "no market buys once the position is this large", min=Decimal(0))
    resting = Param(2, "limit orders kept open", min=0)
    offset_pct = Param(2.0, "how far below the last price resting buys sit", min=0.1, max=4.5)
    market = Param(True, "buy at market once the resting orders are in place")

    def subscriptions(self) -> set[str]:
        return {"trades"}

    async def on_start(self) -> None:
        self._n = 0

    async def on_tick(self, tick: TradeTick) -> None:
        self._n += 1
        if self._n % self.every:
            return
        assert self.ctx is not None
        if len(self.ctx.open_order_ids(self.venue, self.symbol, self.id)) < self.resting:
            await self.buy(self.qty, price=tick.price * (1 - self.offset_pct / 100))
        elif self.market and self.position() < self.max_qty:
            await self.buy(self.qty)

"""N-bar high breakout, confirmed by volume.

Enters long (`qty`) when a bar closes above the highest high of the previous `lookback` bars
and its volume is at least `volume_mult` times the average volume of those bars. Exits when a
bar closes below the lowest low of the previous `exit_lookback` bars (a trailing channel) or,
with `atr_stop` > 0, below the entry minus `atr_stop` ATRs (ATR over `lookback` bars).

Needs bar data (OHLCV); with trades only it does nothing.

    quantai backtest --strategy momentum_breakout --data btc-1h.parquet --param lookback=48
"""

from __future__ import annotations

from decimal import Decimal

from quantai_tui.core.events import Bar
from quantai_tui.engine.indicators import ATR, SMA, RollingMax, RollingMin
from quantai_tui.engine.strategy import Param, Strategy


class MomentumBreakout(Strategy):
    name = "momentum_breakout"
    max_symbols = 1

    lookback = Param(20, "bars whose high must be broken", min=2)
    volume_mult = Param(1.5, "breakout volume vs the lookback's average volume", min=0.0)
    exit_lookback = Param(10, "exit below the lowest low of this many bars", min=1)
    atr_stop = Param(0.0, "exit this many ATRs below the entry (0 = off)", min=0.0)
    qty = Param(Decimal("0.01"), "order size in base units", min=Decimal(0))

    def subscriptions(self) -> set[str]:
        return {"bars"}

    async def on_start(self) -> None:
        if self.data_kinds and "bars" not in self.data_kinds:
            self.log.warning("momentum_breakout needs bars; the data has %s", ", ".join(sorted(self.data_kinds)))
        self._high = RollingMax(self.lookback)
        self._low = RollingMin(self.exit_lookback)
        self._vol = SMA(self.lookback)
        self._atr = ATR(self.lookback)
        self._qty = self.instrument().make_qty(self.qty)
        self._entry = 0.0

    async def on_bar(self, bar: Bar) -> None:
        # levels of the *previous* bars: read before this bar updates them
        prev_high = self._high.value if self._high.ready else None
        prev_low = self._low.value if self._low.ready else None
        avg_vol = self._vol.value if self._vol.ready else None
        atr = self._atr.value if self._atr.ready else None
        self._high.update(bar.high)
        self._low.update(bar.low)
        self._vol.update(bar.volume)
        self._atr.update(bar.high, bar.low, bar.close)
        pos = self.position()
        if pos > 0:
            stop = self._entry - self.atr_stop * atr if (self.atr_stop and atr is not None) else None
            if (prev_low is not None and bar.close < prev_low) or (stop is not None and bar.close < stop):
                await self.sell(pos)
        elif pos == 0 and prev_high is not None and avg_vol is not None:
            if bar.close > prev_high and bar.volume >= self.volume_mult * avg_vol:
                self._entry = bar.close
                await self.buy(self._qty)

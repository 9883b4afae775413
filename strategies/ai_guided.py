"""A strategy that asks the AI layer, on a timer, which regime the market is in.

Every `interval_s` of market time it sends its advisor a small request (symbol, price, recent
features, its current regime and parameters) and applies a valid reply:
    {"regime": "trend" | "range" | "flat", "params": {"fast": 12, "slow": 40, "k": 2.0}}
- trend: trade a fast/slow SMA crossover (long only);
- range: fade Bollinger bands (buy below the lower band, sell at the middle);
- flat:  close the position and stand aside.
A reply with an unknown regime or out-of-range parameters is ignored (and logged).

The advisor is a plain callable, `advisor(request) -> reply | None` (or an awaitable), that
the AI layer plugs in (`strategy.advisor = ...` or `run_backtest(..., advisor=...)`). With no
advisor configured, or when it answers None or fails, a deterministic offline rule decides:
Kaufman's efficiency ratio over `lookback` prices above `trend_er` means trend, below means
range, and a per-period volatility above `max_vol` means flat. Backtests stay reproducible,
and an advisor that awaits the network cannot be used inside a backtest (it would suspend).

    quantai backtest --strategy ai_guided --data btc-1m.parquet --param interval_s=3600
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from quantai_tui.core.clock import TimeEvent
from quantai_tui.core.events import Bar, TradeTick
from quantai_tui.engine.indicators import SMA, Bollinger
from quantai_tui.engine.strategy import Param, Strategy

REGIMES = ("trend", "range", "flat")
PARAM_BOUNDS = {"fast": (2, 500), "slow": (3, 2000), "length": (2, 2000), "k": (0.5, 5.0)}


def offline_regime(prices: list[float], trend_er: float, max_vol: float) -> str:
    """The deterministic fallback: efficiency ratio and volatility of the recent prices."""
    if len(prices) < 3:
        return "range"
    moves = [abs(b - a) for a, b in zip(prices, prices[1:])]
    path = sum(moves)
    er = abs(prices[-1] - prices[0]) / path if path else 0.0
    rets = [math.log(b / a) for a, b in zip(prices, prices[1:]) if a > 0 and b > 0]
    vol = (sum(r * r for r in rets) / len(rets)) ** 0.5 if rets else 0.0
    if vol > max_vol:
        return "flat"
    return "trend" if er >= trend_er else "range"


class AiGuided(Strategy):
    name = "ai_guided"
    max_symbols = 1

    interval_s = Param(3600.0, "seconds of market time between advisor calls", min=1.0)
    lookback = Param(120, "prices the features (and the offline rule) look at", min=10)
    fast = Param(10, "fast SMA in the trend regime", min=2)
    slow = Param(30, "slow SMA in the trend regime", min=3)
    length = Param(20, "Bollinger window in the range regime", min=2)
    k = Param(2.0, "Bollinger width in the range regime", min=0.5)
    trend_er = Param(0.3, "offline rule: efficiency ratio at or above this is a trend", min=0.0, max=1.0)
    max_vol = Param(0.02, "offline rule: per-period log-return volatility above this is flat", min=0.0)
    qty = Param(Decimal("0.01"), "order size in base units", min=Decimal(0))

    def subscriptions(self) -> set[str]:
        return {"bars"} if "bars" in self.data_kinds or not self.data_kinds else {"trades"}

    async def on_start(self) -> None:
        self.regime = "range"
        self.decisions: list[tuple[int, str, str]] = []  # (ts, regime, source) - a handful per day
        self._recent: deque[float] = deque(maxlen=self.lookback)
        self._qty = self.instrument().make_qty(self.qty)
        self._build()
        self.set_timer("advice", self.interval_s)

    def _build(self) -> None:
        self._fast, self._slow = SMA(self.fast), SMA(self.slow)
        self._bb = Bollinger(self.length, self.k)
        self._prev = 0
        self._known = False
        for p in self._recent:  # warm the new indicators on what we have seen
            self._fast.update(p)
            self._slow.update(p)
            self._bb.update(p)

    async def on_timer(self, event: TimeEvent) -> None:
        prices = list(self._recent)
        reply = await self.ask_advisor(self._request(prices, event.ts_event))
        source = "advisor"
        if not self._apply(reply):
            source = "offline"
            self._apply({"regime": offline_regime(prices, self.trend_er, self.max_vol)})
        self.decisions.append((event.ts_event, self.regime, source))
        if self.regime == "flat" and self.position():
            await self.close_position()

    def _request(self, prices: list[float], ts: int) -> dict[str, Any]:
        return {
            "strategy": self.name, "symbol": self.symbol, "ts_ns": ts,
            "price": prices[-1] if prices else None,
            "return_pct": (prices[-1] / prices[0] - 1) * 100 if len(prices) > 1 and prices[0] else 0.0,
            "current": {"regime": self.regime, "fast": self.fast, "slow": self.slow, "length": self.length, "k": self.k},
            "allowed_regimes": list(REGIMES), "param_bounds": PARAM_BOUNDS,
        }

    def _apply(self, reply: Mapping[str, Any] | None) -> bool:
        if not isinstance(reply, Mapping) or reply.get("regime") not in REGIMES:
            if reply is not None:
                self.log.warning("ignored advisor reply %r", reply)
            return False
        changes: dict[str, Any] = {}
        for key, val in dict(reply.get("params") or {}).items():
            lo, hi = PARAM_BOUNDS.get(key, (None, None))
            if lo is None or not isinstance(val, (int, float)) or isinstance(val, bool) or not lo <= val <= hi:
                self.log.warning("ignored advisor parameter %s=%r", key, val)
                return False
            changes[key] = float(val) if key == "k" else int(val)
        fast, slow = changes.get("fast", self.fast), changes.get("slow", self.slow)
        if fast >= slow:
            self.log.warning("ignored advisor parameters: fast %s >= slow %s", fast, slow)
            return False
        self.regime = reply["regime"]
        if changes:
            self.__dict__.update(changes)
            self._build()
        return True

    async def on_bar(self, bar: Bar) -> None:
        await self._step(bar.close)

    async def on_tick(self, tick: TradeTick) -> None:
        await self._step(tick.price)

    async def _step(self, price: float) -> None:
        self._recent.append(price)
        f, s = self._fast.update(price), self._slow.update(price)
        self._bb.update(price)
        if self.regime == "trend" and s == s:
            d = f - s
            sign = 1 if d > 1e-12 * s else -1 if d < -1e-12 * s else 0
            prev, self._prev = self._prev, sign
            if not self._known:
                self._known = True
                return
            if sign > 0 >= prev and self.is_flat():
                await self.buy(self._qty)
            elif sign < 0 <= prev and self.position() > 0:
                await self.sell(self.position())
        elif self.regime == "range" and self._bb.ready:
            pos = self.position()
            if pos > 0 and price >= self._bb.middle:
                await self.sell(pos)
            elif not pos and price < self._bb.lower:
                await self.buy(self._qty)

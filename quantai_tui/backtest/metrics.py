"""Performance metrics, accumulated as the replay runs (O(1) memory in the number of ticks).

Definitions (docs/backtest.md has the long form):
- The equity is sampled once per *period*: the bar timeframe for bar data, one minute for
  ticks and quotes (`metrics_period` overrides). A period's return is r = E_k / E_{k-1} - 1.
- Annualisation: crypto trades around the clock, so periods per year = 365 * 86400 / period_s.
- sharpe  = mean(r) / std(r, ddof=1) * sqrt(periods per year)   (risk-free rate 0)
- sortino = mean(r) / sqrt(mean(min(r, 0)^2)) * sqrt(periods per year)
- cagr    = (E_end / E_0) ** (365.25 days / duration) - 1, duration from first to last event
  (None under one day)
- max_drawdown_pct = largest (peak - E) / peak over the samples and fills, in percent
- win_rate = share of closed round trips (flat -> position -> flat or flip) with P&L > 0,
  P&L after fees; profit_factor = gross profit / gross loss of those trips
- exposure_pct = share of periods that ended holding a position
A value that is undefined (no returns, no losing trip, ...) is None.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

YEAR_S = 365 * 86_400
CAGR_YEAR_S = 365.25 * 86_400


class TripTracker:
    """Round trips per symbol from the fills (flat -> position -> flat, or a flip), with their
    P&L after fees, exact: what win rate and profit factor count. O(1) per fill."""

    def __init__(self) -> None:
        self._pos: dict[str, list[Decimal]] = {}  # symbol -> [qty, cost basis, trip P&L]
        self.trips: list[Decimal] = []

    def on_fill(self, symbol: str, signed_qty: Decimal, price: Decimal, fee: Decimal) -> None:
        from quantai_tui.core.values import EXACT as ctx

        st = self._pos.setdefault(symbol, [Decimal(0), Decimal(0), Decimal(0)])
        old, cost, pnl = st
        pnl = ctx.subtract(pnl, fee)
        new = ctx.add(old, signed_qty)
        if not old or (old > 0) == (signed_qty > 0):  # open or add
            st[:] = [new, ctx.add(cost, ctx.multiply(price, signed_qty)), pnl]
            return
        closing = min(abs(signed_qty), abs(old))
        basis = cost if closing == abs(old) else ctx.divide(ctx.multiply(cost, closing), abs(old))
        gross = ctx.multiply(price, closing)
        pnl = ctx.add(pnl, ctx.subtract(gross, basis) if old > 0 else ctx.subtract(ctx.minus(basis), gross))
        cost = ctx.subtract(cost, basis)
        if not new or (new > 0) != (old > 0):
            self.trips.append(pnl)
            st[:] = [new, ctx.multiply(price, new) if new else Decimal(0), Decimal(0)]
        else:
            st[:] = [new, cost, pnl]


def trips_from_raw(fills: list[tuple[Any, ...]]) -> list[Decimal]:
    """TripTracker's round trips from raw fills (symbol, buy, qty_raw, qty_prec, px_raw, px_prec,
    fee_raw, fee_prec): the same exact values, in integers while a symbol's positions are only
    opened, added to and closed whole (no rounding can happen there), through TripTracker's
    Decimals from a symbol's first partial close on."""
    from quantai_tui.core.values import EXACT as ctx

    trips: list[Decimal] = []
    state: dict[str, list[int]] = {}  # symbol -> [qty, cost, pnl, qp, pp, fp, scale] in integers
    slow: dict[str, TripTracker] = {}
    for symbol, buy, qr, qp, pr, pp, fr, fp in fills:
        tracker = slow.get(symbol)
        if tracker is None:
            st = state.get(symbol)
            if st is None:
                st = state[symbol] = [0, 0, 0, qp, pp, fp, max(qp + pp, fp)]
            old, cost, pnl, sqp, spp, sfp, scale = st
            sq = qr if buy else -qr
            closing = 0 if not old or (old > 0) == buy else min(qr, abs(old))
            if (qp, pp, fp) != (sqp, spp, sfp) or (closing and closing != abs(old)):
                # a partial close (a rounded division) or other precisions: Decimals from here on
                tracker = slow[symbol] = TripTracker()
                tracker.trips = trips
                tracker._pos[symbol] = [ctx.scaleb(Decimal(old), -sqp), ctx.scaleb(Decimal(cost), -(sqp + spp)),
                                        ctx.scaleb(Decimal(pnl), -scale)]
                del state[symbol]
            else:
                pnl -= fr * 10 ** (scale - fp)
                new = old + sq
                if not closing:  # open or add
                    st[0], st[1], st[2] = new, cost + pr * sq, pnl
                    continue
                # the whole position closes (and a flip opens the rest at this price)
                gross = pr * closing
                pnl += (gross - cost if old > 0 else -cost - gross) * 10 ** (scale - qp - pp)
                trips.append(ctx.scaleb(Decimal(pnl), -scale))
                st[0], st[1], st[2] = new, pr * new if new else 0, 0
                continue
        sqd = ctx.scaleb(Decimal(qr if buy else -qr), -qp)
        tracker.on_fill(symbol, sqd, ctx.scaleb(Decimal(pr), -pp), ctx.scaleb(Decimal(fr), -fp))
    return trips


class BoundedCurve:
    """(ts, values...) points, at most `cap`: when full, every other point is dropped and the
    sampling stride doubles, so memory stays flat however long the replay."""

    __slots__ = ("cap", "points", "_stride", "_n")

    def __init__(self, cap: int = 4000) -> None:
        self.cap = max(16, cap)
        self.points: list[tuple[Any, ...]] = []
        self._stride = 1
        self._n = 0

    def add(self, point: tuple[Any, ...]) -> None:
        self._n += 1
        if (self._n - 1) % self._stride:
            return
        self.points.append(point)
        if len(self.points) >= self.cap:
            self.points = self.points[::2]
            self._stride *= 2

    def replace_last(self, point: tuple[Any, ...]) -> None:
        if self.points:
            self.points[-1] = point
        else:
            self.points.append(point)


class MetricsAccumulator:
    def __init__(self, initial_equity: float, period_ns: int, curve_cap: int = 4000) -> None:
        self.initial = initial_equity
        self.period_ns = period_ns
        self.curve = BoundedCurve(curve_cap)
        self._prev = initial_equity
        self._n = 0
        self._mean = 0.0
        self._m2 = 0.0
        self._down2 = 0.0
        self._peak = initial_equity
        self.max_dd = 0.0
        self._exposed = 0
        self._samples = 0
        self.first_ts: int | None = None
        self.last_ts: int | None = None

    def sample(self, ts: int, equity: float, exposed: bool, prices: tuple[float, ...] = ()) -> None:
        """One period's closing equity."""
        prev = self._prev
        if prev > 0:
            r = equity / prev - 1.0
            self._n += 1
            d = r - self._mean
            self._mean += d / self._n
            self._m2 += d * (r - self._mean)
            if r < 0:
                self._down2 += r * r
        self._prev = equity
        self._samples += 1
        if exposed:
            self._exposed += 1
        self.touch(equity)
        self.curve.add((ts, equity, *prices))

    def touch(self, equity: float) -> None:
        """An equity value between samples (after a fill): drawdown only."""
        if equity > self._peak:
            self._peak = equity
        elif self._peak > 0:
            dd = (self._peak - equity) / self._peak
            if dd > self.max_dd:
                self.max_dd = dd

    def results(self, final_equity: Decimal, trips: list[Decimal]) -> dict[str, float | None]:
        final = float(final_equity)
        ppy = YEAR_S / (self.period_ns / 1e9)
        sharpe = sortino = None
        if self._n >= 2:
            std = math.sqrt(self._m2 / (self._n - 1))
            if std > 0:
                sharpe = self._mean / std * math.sqrt(ppy)
            down = math.sqrt(self._down2 / self._n)
            if down > 0:
                sortino = self._mean / down * math.sqrt(ppy)
        cagr = None
        if self.first_ts is not None and self.last_ts is not None and self.initial > 0 and final > 0:
            years = (self.last_ts - self.first_ts) / 1e9 / CAGR_YEAR_S
            if years * 365.25 >= 1.0:  # compounding less than a day into a year says nothing
                try:
                    cagr = ((final / self.initial) ** (1.0 / years) - 1.0) * 100.0
                except OverflowError:
                    cagr = None
                if cagr is not None and not math.isfinite(cagr):
                    cagr = None
        wins = [t for t in trips if t > 0]
        losses = [t for t in trips if t < 0]
        gross_win = float(sum(wins, Decimal(0)))
        gross_loss = -float(sum(losses, Decimal(0)))
        return {
            "return_pct": (final / self.initial - 1.0) * 100.0 if self.initial else None,
            "cagr_pct": cagr,
            "sharpe": sharpe,
            "sortino": sortino,
            "max_drawdown_pct": self.max_dd * 100.0,
            "win_rate": len(wins) / len(trips) * 100.0 if trips else None,
            "profit_factor": gross_win / gross_loss if gross_loss > 0 else None,
            "exposure_pct": self._exposed / self._samples * 100.0 if self._samples else 0.0,
            "trades": len(trips),
            "periods": self._samples,
            "period_s": self.period_ns / 1e9,
        }


def metrics_from_equity(equity: list[float], period_s: float, *, exposed: list[bool] | None = None,
                        initial: float | None = None, duration_s: float | None = None,
                        trips: list[Decimal] | None = None) -> dict[str, float | None]:
    """The same metrics for a ready-made equity series (tests, research)."""
    init = equity[0] if initial is None else initial
    acc = MetricsAccumulator(init, int(period_s * 1e9))
    series = equity[1:] if initial is None else equity
    for i, e in enumerate(series):
        acc.sample(i, e, bool(exposed[i]) if exposed else False)
    acc.first_ts = 0
    acc.last_ts = int((duration_s if duration_s is not None else period_s * len(series)) * 1e9)
    return acc.results(Decimal(repr(series[-1] if series else init)), trips or [])

"""Plain-language diagnostics of a backtest: drawdown periods, stability across the two halves,
round trips, trade clustering, fee drag, and what to try next.

Pure functions over a BacktestResult-like object (equity_curve, fills, metrics, params, fees);
no I/O, so they are tested on hand-made curves.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = ["Drawdown", "diagnose", "drawdowns", "round_trips"]

NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Drawdown:
    peak_ns: int
    trough_ns: int
    recovered_ns: int | None
    depth_pct: float

    def as_dict(self) -> dict[str, Any]:
        return {"from": _iso(self.peak_ns), "trough": _iso(self.trough_ns),
                "recovered": _iso(self.recovered_ns) if self.recovered_ns is not None else "not recovered",
                "depth_pct": round(self.depth_pct, 3),
                "length": _span((self.recovered_ns or self.trough_ns) - self.peak_ns)}


def drawdowns(curve: list[tuple[int, float]], top: int = 3, min_depth_pct: float = 0.1) -> list[Drawdown]:
    """The deepest `top` peak-to-recovery episodes of an equity curve, deepest first."""
    out: list[Drawdown] = []
    peak_t, peak = (curve[0] if curve else (0, 0.0))
    trough_t, trough = peak_t, peak
    in_dd = False
    for t, eq in curve:
        if eq >= peak:
            if in_dd:
                out.append(Drawdown(peak_t, trough_t, t, (1 - trough / peak) * 100 if peak > 0 else 0.0))
                in_dd = False
            peak_t, peak = t, eq
            trough_t, trough = t, eq
        elif eq < trough or not in_dd:
            in_dd = True
            if eq < trough:
                trough_t, trough = t, eq
    if in_dd:
        out.append(Drawdown(peak_t, trough_t, None, (1 - trough / peak) * 100 if peak > 0 else 0.0))
    out = [d for d in out if d.depth_pct >= min_depth_pct]
    return sorted(out, key=lambda d: d.depth_pct, reverse=True)[:top]


def round_trips(fills: list[Any]) -> list[tuple[int, int, float]]:
    """(opened ns, closed ns, net P&L) each time a symbol's position returns to flat."""
    pos: dict[str, Decimal] = {}
    cash: dict[str, Decimal] = {}
    opened: dict[str, int] = {}
    trips = []
    for f in fills:
        q = Decimal(str(f.qty)) * (1 if str(f.side).upper() == "BUY" else -1)
        before = pos.get(f.symbol, Decimal(0))
        if not before:
            opened[f.symbol] = f.ts
        cash[f.symbol] = cash.get(f.symbol, Decimal(0)) - q * Decimal(str(f.price)) - Decimal(str(f.fee))
        pos[f.symbol] = before + q
        if not pos[f.symbol]:
            trips.append((opened.get(f.symbol, f.ts), f.ts, float(cash[f.symbol])))
            cash[f.symbol] = Decimal(0)
    return trips


def _half_stats(curve: list[tuple[int, float]]) -> dict[str, Any] | None:
    if len(curve) < 8:
        return None
    mid_t = (curve[0][0] + curve[-1][0]) // 2
    first = [e for t, e in curve if t <= mid_t]
    second = [e for t, e in curve if t >= mid_t]
    if len(first) < 3 or len(second) < 3:
        return None

    def stats(eq: list[float]) -> dict[str, float | None]:
        rets = [b / a - 1 for a, b in zip(eq, eq[1:]) if a > 0]
        mean = sum(rets) / len(rets) if rets else 0.0
        sd = math.sqrt(sum((r - mean) ** 2 for r in rets) / (len(rets) - 1)) if len(rets) > 1 else 0.0
        return {"return_pct": round((eq[-1] / eq[0] - 1) * 100, 4) if eq[0] else None,
                "sharpe_per_sample": round(mean / sd, 4) if sd > 0 else None}

    return {"split_at": _iso(mid_t), "first_half": stats(first), "second_half": stats(second)}


def _clustering(times: list[int], buckets: int = 20) -> dict[str, Any] | None:
    if len(times) < 8:
        return None
    lo, hi = min(times), max(times)
    if hi <= lo:
        return {"busiest_share_pct": 100.0, "note": "every fill at one instant"}
    width = (hi - lo) / buckets
    counts = Counter(min(int((t - lo) / width), buckets - 1) for t in times)
    ordered = sorted((counts.get(i, 0) for i in range(buckets)), reverse=True)
    top = sum(ordered[: max(1, buckets // 5)])
    busiest = max(range(buckets), key=lambda i: counts.get(i, 0))
    gaps = [b - a for a, b in zip(sorted(times), sorted(times)[1:])]
    mean_gap = sum(gaps) / len(gaps)
    cv = math.sqrt(sum((g - mean_gap) ** 2 for g in gaps) / len(gaps)) / mean_gap if mean_gap > 0 else 0.0
    return {
        "busiest_20pct_of_time_share_pct": round(top / len(times) * 100, 1),
        "busiest_window": f"{_iso(int(lo + busiest * width))} to {_iso(int(lo + (busiest + 1) * width))}",
        "gap_cv": round(cv, 2),
        "empty_windows": sum(1 for i in range(buckets) if not counts.get(i)),
    }


def diagnose(result: Any) -> dict[str, Any]:
    """Numbers and sentences about one backtest result."""
    m = result.metrics
    trips = round_trips(result.fills)
    n_trips = len(trips)
    net = sum(p for _, _, p in trips)
    wins = [p for _, _, p in trips if p > 0]
    dd = drawdowns(result.equity_curve)
    halves = _half_stats(result.equity_curve)
    cluster = _clustering([f.ts for f in result.fills])
    fees = float(getattr(result, "fees", 0) or 0)
    gross_profit = sum(wins)
    notes: list[str] = []
    ideas: list[str] = []
    sharpe = m.get("sharpe")
    ret = m.get("return_pct")
    n_params = len(result.params or {})

    # -- signs of overfitting / luck ----------------------------------------------------------
    if n_trips < 30:
        notes.append(f"Only {n_trips} round trip(s): too few to tell skill from luck; any metric here has a wide "
                     "error band.")
        ideas.append("Test on a longer period or more symbols before trusting the numbers.")
    if sharpe is not None and sharpe > 3 and n_trips < 100:
        notes.append(f"A Sharpe of {sharpe:.2f} from {n_trips} trips is suspiciously high: check for look-ahead, "
                     "a lucky window or parameters tuned to this data.")
    if n_params and n_trips < 10 * n_params:
        notes.append(f"{n_params} tuned parameter(s) against {n_trips} trips: with fewer than ~10 trips per "
                     "parameter, good results may be fitted noise.")
    if trips and net > 0 and wins and max(wins) > 0.5 * net:
        notes.append(f"One trade made {max(wins) / net * 100:.0f}% of the net profit: the result leans on a single "
                     "move.")
        ideas.append("Re-run without the best trade's period to see whether an edge remains.")
    if halves is not None:
        r1, r2 = halves["first_half"]["return_pct"], halves["second_half"]["return_pct"]
        if r1 is not None and r2 is not None and (r1 > 0) != (r2 > 0) and max(abs(r1), abs(r2)) > 0.05:
            notes.append(f"Unstable over time: the first half returned {r1:+.2f}%, the second {r2:+.2f}%.")
            ideas.append("Walk forward: choose parameters on one half (quantai sweep), judge them on the other.")
    # -- drawdowns -----------------------------------------------------------------------------
    if dd:
        worst = dd[0]
        state = f"recovered {_iso(worst.recovered_ns)}" if worst.recovered_ns else "not recovered by the end"
        notes.append(f"Deepest drawdown {worst.depth_pct:.2f}% from {_iso(worst.peak_ns)} to the trough "
                     f"{_iso(worst.trough_ns)} ({state}).")
        if worst.depth_pct > 20:
            ideas.append("Cut position size or add a stop: a drawdown past 20% is hard to sit through live.")
    # -- clustering ----------------------------------------------------------------------------
    if cluster is not None and cluster.get("busiest_20pct_of_time_share_pct", 0) >= 60:
        notes.append(f"Trades cluster: {cluster['busiest_20pct_of_time_share_pct']:.0f}% of fills fall in the busiest "
                     f"fifth of the period (most in {cluster['busiest_window']}); results depend on that regime.")
        ideas.append("Add a regime filter (trend strength or volatility) so the strategy trades only where it works.")
    # -- costs and behaviour -------------------------------------------------------------------
    if gross_profit > 0 and fees > 0.5 * gross_profit:
        notes.append(f"Fees ({fees:,.2f}) ate {fees / gross_profit * 100:.0f}% of the gross profit of winning trips.")
        ideas.append("Trade less often (longer averages, a minimum holding time) or use limit orders for maker fees.")
    win_rate = m.get("win_rate")
    if win_rate is not None and win_rate < 40 and n_trips >= 10:
        notes.append(f"Win rate {win_rate:.0f}%: many small losses, typical of a trend rule whipsawing in ranges.")
        ideas.append("Widen the moving averages or require the cross to hold for a few bars.")
    exposure = m.get("exposure_pct")
    if exposure is not None and exposure < 10 and n_trips:
        notes.append(f"In the market only {exposure:.1f}% of the time: returns come from few moments.")
    if ret is not None and ret < 0 and not ideas:
        ideas.append("The edge is negative on this data: try another regime filter or a different timeframe.")
    if not notes:
        notes.append("No warning signs stood out; still confirm on data the strategy was not tuned on.")
    return {
        "round_trips": {"count": n_trips, "net_pnl": round(net, 6), "winners": len(wins),
                        "best": round(max((p for *_, p in trips), default=0.0), 6),
                        "worst": round(min((p for *_, p in trips), default=0.0), 6)},
        "drawdowns": [d.as_dict() for d in dd],
        "halves": halves,
        "clustering": cluster,
        "fees": round(fees, 6),
        "diagnostics": notes,
        "suggestions": list(dict.fromkeys(ideas)),
    }


def _iso(ns: int | None) -> str:
    if ns is None:
        return ""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ns / NS, tz=UTC).strftime("%Y-%m-%d %H:%M")


def _span(ns: int) -> str:
    s = ns / NS
    if s >= 86_400:
        return f"{s / 86_400:.1f} days"
    if s >= 3600:
        return f"{s / 3600:.1f} hours"
    return f"{s / 60:.0f} minutes"

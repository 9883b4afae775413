"""Backtest outputs: the fills CSV, a self-contained HTML report (inline SVG, no scripts from
anywhere) and a text plot of the equity curve for the terminal. No rich here: the CLI dresses
these up."""

from __future__ import annotations

import csv
import html
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from quantai_tui.backtest.engine import BacktestResult

CSV_COLUMNS = ("ts", "symbol", "side", "qty", "price", "fee")


def iso_utc(ns: int) -> str:
    """ISO-8601 UTC with microseconds only when needed: 2025-03-01T12:00:00Z."""
    dt = datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).replace(microsecond=(ns // 1000) % 1_000_000)
    text = dt.isoformat(timespec="microseconds" if dt.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def write_trades_csv(result: BacktestResult, path: str | Path) -> int:
    """One row per fill: ts (ISO-8601 UTC), symbol, side, qty, price, fee. Returns the rows."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        for fill in result.fills:
            w.writerow((iso_utc(fill.ts), fill.symbol, fill.side, _dec(fill.qty), _dec(fill.price), _dec(fill.fee)))
    return len(result.fills)


def _dec(d: object) -> str:
    s = format(d, "f")
    return s.rstrip("0").rstrip(".") if "." in s else s


# --- terminal plot -----------------------------------------------------------------------------------
_BLOCKS = " ▁▂▃▄▅▆▇█"


def text_plot(values: Sequence[float], width: int = 72, height: int = 10) -> list[str]:
    """A column chart of `values` resampled to `width` columns, `height` rows of block glyphs,
    with the min and max on the left."""
    vals = [v for v in values if v == v]
    if not vals:
        return ["(no data)"]
    cols = _resample(vals, width)
    lo, hi = min(cols), max(cols)
    span = hi - lo or 1.0
    levels = [(v - lo) / span * height * 8 for v in cols]
    label_w = max(len(_fmt(hi)), len(_fmt(lo)))
    lines = []
    for row in range(height, 0, -1):
        base = (row - 1) * 8
        chars = []
        for lv in levels:
            fill = lv - base
            chars.append(_BLOCKS[8] if fill >= 8 else _BLOCKS[max(0, int(fill))] if fill > 0 else " ")
        label = _fmt(hi) if row == height else _fmt(lo) if row == 1 else ""
        lines.append(f"{label:>{label_w}} ┤{''.join(chars)}")
    return lines


def _resample(vals: Sequence[float], width: int) -> list[float]:
    if len(vals) <= width:
        return list(vals)
    step = len(vals) / width
    return [vals[min(len(vals) - 1, int((i + 1) * step) - 1)] for i in range(width)]


def _fmt(v: float) -> str:
    return f"{v:,.2f}" if abs(v) >= 1 else f"{v:.6g}"


# --- HTML ----------------------------------------------------------------------------------------------
def write_html_report(result: BacktestResult, path: str | Path) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(html_report(result), encoding="utf-8")


def html_report(result: BacktestResult) -> str:
    d = result.to_dict()
    eq = result.equity_curve
    dd = result.drawdown_curve
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(_show(d.get(k)))}</td></tr>" for k in (
        "final_equity", "return_pct", "cagr_pct", "sharpe", "sortino", "max_drawdown_pct", "win_rate",
        "profit_factor", "exposure_pct", "orders", "fills", "trades", "fees", "ticks", "elapsed_s", "start", "end"))
    params = ", ".join(f"{k}={v}" for k, v in result.params.items())
    charts = [
        _svg_line("Equity", eq, "#2a7ae2"),
        _svg_line("Drawdown (%)", dd, "#d9534f", area=True),
    ]
    for i, sym in enumerate(result.symbols):
        series = [(ts, px[i]) for ts, px in result.price_curve if i < len(px) and px[i]]
        fills = [(f.ts, float(f.price), f.side) for f in result.fills if f.symbol == sym]
        charts.append(_svg_line(f"{sym} price and trades", series, "#555", marks=fills))
    title = f"{result.strategy} on {', '.join(result.symbols)}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1000px}}
table{{border-collapse:collapse}} th,td{{padding:2px 12px;text-align:left;border-bottom:1px solid #eee}}
th{{font-weight:600}} svg{{display:block;margin:1em 0;background:#fafafa;border:1px solid #eee}}
.buy{{fill:#2e9e44}} .sell{{fill:#d9534f}} small{{color:#777}}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p><small>parameters: {html.escape(params or "defaults")} · venue {html.escape(result.venue)}
{(" · " + html.escape(result.timeframe) + " bars") if result.timeframe else ""}
· initial capital {html.escape(str(result.initial_capital))}</small></p>
<table>{rows}</table>
{"".join(charts)}
</body></html>
"""


def _show(v: object) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:,.4f}"
    return str(v)


def _svg_line(title: str, pts: Sequence[tuple[int, float]], color: str, *, area: bool = False,
              marks: Sequence[tuple[int, float, str]] = (), w: int = 960, h: int = 220) -> str:
    pts = [(t, v) for t, v in pts if v == v and not math.isinf(v)]
    if len(pts) < 2:
        return f"<h3>{html.escape(title)}</h3><p><small>not enough data</small></p>"
    t0, t1 = pts[0][0], pts[-1][0]
    vals = [v for _, v in pts] + [m[1] for m in marks]
    lo, hi = min(vals), max(vals)
    if hi == lo:
        hi, lo = hi + 1, lo - 1
    pad = 30

    def x(t: int) -> float:
        return pad + (t - t0) / ((t1 - t0) or 1) * (w - 2 * pad)

    def y(v: float) -> float:
        return h - pad - (v - lo) / (hi - lo) * (h - 2 * pad)

    path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in pts)
    shape = (f'<polygon points="{x(t0):.1f},{y(max(lo, 0) if lo < 0 < hi else hi):.1f} {path} '
             f'{x(t1):.1f},{y(max(lo, 0) if lo < 0 < hi else hi):.1f}" fill="{color}" fill-opacity="0.25" stroke="{color}"/>'
             if area else f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.2"/>')
    dots = "".join(
        f'<circle class="{"buy" if side == "BUY" else "sell"}" cx="{x(t):.1f}" cy="{y(v):.1f}" r="3">'
        f"<title>{side} {v:g} at {iso_utc(t)}</title></circle>"
        for t, v, side in marks if t0 <= t <= t1)
    labels = (f'<text x="4" y="{pad - 8}" font-size="11">{_fmt(hi)}</text>'
              f'<text x="4" y="{h - 8}" font-size="11">{_fmt(lo)}</text>'
              f'<text x="{w - 4}" y="{h - 8}" font-size="11" text-anchor="end">{iso_utc(t1)}</text>'
              f'<text x="{pad}" y="{h - 8}" font-size="11">{iso_utc(t0)}</text>')
    return (f'<h3>{html.escape(title)}</h3><svg width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
            f'xmlns="http://www.w3.org/2000/svg">{shape}{dots}{labels}</svg>')

"""Price chart pane: candles (one column each) or a filled line, price axis on the right."""

from __future__ import annotations

from rich.style import Style
from textual.reactive import reactive

from quantai_tui.tui.views import Candle, ChartView
from quantai_tui.tui.widgets.lines import LinesWidget, Part

_BLOCKS = " ▁▂▃▄▅▆▇█"


def _axis_labels(lo: float, hi: float, rows: int, places: int) -> dict[int, str]:
    """Labels at the top, middle and bottom rows."""
    if rows < 2:
        return {}
    picks = {0: hi, rows - 1: lo}
    if rows >= 7:
        picks[(rows - 1) // 2] = hi - (hi - lo) * ((rows - 1) // 2) / (rows - 1)
    return {r: f"{p:,.{places}f}" for r, p in picks.items()}


def candle_cells(c: Candle, lo: float, hi: float, rows: int) -> list[str]:
    """The column of one candle, top row first: ┃ body, │ wick."""
    span = (hi - lo) or 1.0
    cells = []
    body_hi, body_lo = max(c.open, c.close), min(c.open, c.close)
    for r in range(rows):
        top = hi - span * r / rows
        bottom = hi - span * (r + 1) / rows
        if body_lo <= top and body_hi >= bottom:
            cells.append("┃")
        elif c.low <= top and c.high >= bottom:
            cells.append("│")
        else:
            cells.append(" ")
    return cells


def line_grid(values: list[float], lo: float, hi: float, rows: int) -> list[list[str]]:
    """Columns of an area chart: each value filled up from the bottom in eighths of a row
    (at least one eighth, so the lowest point still shows)."""
    span = (hi - lo) or 1.0
    grid = []
    for v in values:
        level = max(1.0, (v - lo) / span * (rows * 8 - 1) + 1)
        col = []
        for r in range(rows):
            below = (rows - 1 - r) * 8
            col.append(_BLOCKS[int(min(8, max(0, level - below)))])
        grid.append(col)
    return grid


def runs(cells: list[str], styles: list[Style]) -> list[Part]:
    """Neighbouring cells of one style as one part (fewer segments to draw)."""
    out: list[Part] = []
    text, style = "", None
    for c, s in zip(cells, styles, strict=True):
        if s is style:
            text += c
        else:
            if text:
                out.append((text, style))
            text, style = c, s
    if text:
        out.append((text, style))
    return out


class PriceChart(LinesWidget):
    COMPONENT_CLASSES = {"chart--up", "chart--down", "chart--line", "chart--axis"}
    DEFAULT_CSS = """
    PriceChart { height: 1fr; }
    PriceChart > .chart--up { color: $success; }
    PriceChart > .chart--down { color: $error; }
    PriceChart > .chart--line { color: $primary; }
    PriceChart > .chart--axis { color: $foreground-muted; }
    """

    style_name: reactive[str] = reactive("candles")

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.view: ChartView | None = None

    def update_view(self, view: ChartView) -> None:
        self.view = view
        self.invalidate()

    def watch_style_name(self) -> None:
        self.invalidate()

    def toggle_style(self) -> str:
        self.style_name = "line" if self.style_name == "candles" else "candles"
        return self.style_name

    def build_lines(self, width: int, rows: int) -> list[list[Part]]:
        get = self.cstyle
        v = self.view
        if v is None or not v.candles or rows < 2:
            return [[("waiting for trades…", get("chart--axis"))]]
        places = v.price_precision
        axis_w = len(f"{max(c.high for c in v.candles):,.{places}f}") + 1
        cols = max(1, width - axis_w)
        candles = v.candles[-cols:]
        lo = min(c.low for c in candles)
        hi = max(c.high for c in candles)
        if hi - lo < 10 ** -places:
            hi, lo = hi + 10 ** -places, lo - 10 ** -places
        labels = _axis_labels(lo, hi, rows, places)
        up, down, line, axis = get("chart--up"), get("chart--down"), get("chart--line"), get("chart--axis")
        if self.style_name == "candles":
            grid = [candle_cells(c, lo, hi, rows) for c in candles]
            col_styles = [up if c.close >= c.open else down for c in candles]
        else:
            grid = line_grid([c.close for c in candles], lo, hi, rows)
            col_styles = [line] * len(candles)
        pad = " " * (cols - len(candles))
        out = []
        for r in range(rows):
            parts: list[Part] = [(pad, None)] + runs([col[r] for col in grid], col_styles)
            parts.append((f" {labels.get(r, ''):>{axis_w - 1}}", axis))
            out.append(parts)
        return out

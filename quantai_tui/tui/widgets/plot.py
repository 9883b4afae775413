"""A filled line plot of a series (the backtest's equity curve), resampled to the width."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from quantai_tui.tui.widgets.chart import _axis_labels, line_grid


def resample(values: list[float], n: int) -> list[float]:
    """Exactly `n` points: the last value of each of n equal buckets (keeps the final equity
    exact); a shorter series is stretched (each point repeated) to fill the width."""
    if not values:
        return []
    if len(values) < n:
        return [values[i * len(values) // n] for i in range(n - 1)] + [values[-1]]
    step = len(values) / n
    return [values[min(len(values) - 1, int((i + 1) * step) - 1)] for i in range(n)]


class EquityPlot(Widget):
    COMPONENT_CLASSES = {"plot--line", "plot--axis", "plot--empty"}
    DEFAULT_CSS = """
    EquityPlot { height: 1fr; }
    EquityPlot > .plot--line { color: $primary; }
    EquityPlot > .plot--axis { color: $foreground-muted; }
    EquityPlot > .plot--empty { color: $foreground-muted; }
    """

    values: reactive[tuple[float, ...]] = reactive(tuple)

    def render(self) -> Text:
        get = self.get_component_rich_style
        rows, width = self.size.height, self.size.width
        if not self.values or rows < 2:
            return Text("no equity curve yet", style=get("plot--empty"))
        axis_w = len(f"{max(self.values):,.2f}") + 1
        pts = resample(list(self.values), max(1, width - axis_w))
        lo, hi = min(pts), max(pts)
        if hi - lo < 1e-9:
            lo, hi = lo - 1, hi + 1
        grid = line_grid(pts, lo, hi, rows)
        labels = _axis_labels(lo, hi, rows, 2)
        out = Text(no_wrap=True, overflow="crop")
        line, axis = get("plot--line"), get("plot--axis")
        for r in range(rows):
            out.append("".join(col[r] for col in grid), line)
            out.append(" " * (width - axis_w - len(pts)))
            out.append(f" {labels.get(r, ''):>{axis_w - 1}}", axis)
            if r < rows - 1:
                out.append("\n")
        return out

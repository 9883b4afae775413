"""Rich styles from the current theme's variables, for text drawn cell by cell (DataTable
cells, log lines) where CSS classes cannot reach. Never a literal colour: a theme switch
redraws with the new theme's values."""

from __future__ import annotations

from functools import lru_cache

from rich.style import Style
from textual.app import App
from textual.color import Color


@lru_cache(maxsize=512)
def _style(value: str, background: str, bold: bool, dim: bool) -> Style:
    color = Color.parse(value)
    if color.a < 1.0:  # variables like foreground-muted carry alpha: blend onto the background
        color = Color.parse(background) + color
    return Style(color=color.rich_color, bold=bold or None, dim=dim or None)


def theme_style(app: App[object], variable: str, *, bold: bool = False, dim: bool = False) -> Style:
    tv = app.theme_variables
    value = tv.get(variable) or tv.get("foreground") or "white"
    return _style(value, tv.get("surface") or tv.get("background") or "black", bold, dim)

"""Line-API drawing for the high-rate panes (book, chart): strips of styled segments built
directly, once per frame. Rich Text goes through Textual's content pipeline on every refresh;
at 20 frames a second that cost more CPU than the engine itself."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

Part = tuple[str, Style | None]


def make_strip(parts: list[Part], width: int, base: Style) -> Strip:
    """One line of `width` cells: the parts over the widget's base style, padded or cropped."""
    segs = [Segment(text, base + style if style is not None else base) for text, style in parts if text]
    return Strip(segs).crop_extend(0, width, base)


class LinesWidget(Widget):
    """Draws `build_lines()` (a list of parts per row); rebuilt only when `invalidate()` was
    called or the size changed."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._strips: list[Strip] | None = None
        self._built_for: tuple[int, int] = (0, 0)
        self._base: Style | None = None
        self._styles: dict[str, Style] = {}
        self.renders = 0

    def notify_style_update(self) -> None:
        # theme switch or CSS change: styles are looked up again on the next frame
        self._styles.clear()
        self._base = None
        self._strips = None
        super().notify_style_update()

    def cstyle(self, name: str) -> Style:
        """A component class's style, cached until the CSS changes."""
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.get_component_rich_style(name)  # blends alpha colours
        return style

    @property
    def base_style(self) -> Style:
        if self._base is None:
            self._base = self.rich_style  # walks the ancestors: once, not once a line
        return self._base

    def build_lines(self, width: int, height: int) -> list[list[Part]]:
        raise NotImplementedError

    def invalidate(self) -> None:
        self._strips = None
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width, height = self.size.width, self.size.height
        if self._strips is None or self._built_for != (width, height):
            self.renders += 1
            base = self.base_style
            rows = self.build_lines(width, height)
            self._strips = [make_strip(parts, width, base) for parts in rows[:height]]
            self._strips += [Strip.blank(width, base)] * (height - len(self._strips))
            self._built_for = (width, height)
        if y < len(self._strips):
            return self._strips[y]
        return Strip.blank(width, self.base_style)

    def text_lines(self) -> list[str]:
        """What the widget shows, as plain text (tests)."""
        return ["".join(t for t, _ in parts) for parts in self.build_lines(self.size.width, self.size.height)]

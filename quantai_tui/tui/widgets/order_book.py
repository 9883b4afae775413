"""Order Book pane: a depth ladder with size bars, the spread, and a flash on each new trade."""

from __future__ import annotations

import time

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from quantai_tui.tui.views import BookView

_BARS = " ▏▎▍▌▋▊▉█"
FLASH_S = 0.35


def size_bar(size: float, largest: float, width: int) -> str:
    """A bar of eighth-blocks, `width` cells at `largest`."""
    if width <= 0 or largest <= 0:
        return ""
    eighths = max(1, round(size / largest * width * 8))
    full, part = divmod(min(eighths, width * 8), 8)
    return "█" * full + (_BARS[part] if part else "")


class OrderBookLadder(Widget):
    """Asks above, bids below, best prices meeting at the spread line."""

    COMPONENT_CLASSES = {
        "ladder--ask",
        "ladder--bid",
        "ladder--ask-bar",
        "ladder--bid-bar",
        "ladder--spread",
        "ladder--flash-buy",
        "ladder--flash-sell",
        "ladder--empty",
    }
    DEFAULT_CSS = """
    OrderBookLadder { height: 1fr; }
    OrderBookLadder > .ladder--ask { color: $error; }
    OrderBookLadder > .ladder--bid { color: $success; }
    OrderBookLadder > .ladder--ask-bar { color: $error 45%; }
    OrderBookLadder > .ladder--bid-bar { color: $success 45%; }
    OrderBookLadder > .ladder--spread { color: $foreground; text-style: bold; }
    OrderBookLadder > .ladder--flash-buy { background: $success 40%; text-style: bold; }
    OrderBookLadder > .ladder--flash-sell { background: $error 40%; text-style: bold; }
    OrderBookLadder > .ladder--empty { color: $foreground-muted; }
    """

    view: reactive[BookView | None] = reactive(None, always_update=True)

    def __init__(self, *, flash: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.flash_enabled = flash
        self.renders = 0
        self._flash_until = 0.0
        self._last_seq = 0

    def update_view(self, view: BookView) -> None:
        if self.flash_enabled and view.last_seq != self._last_seq and self._last_seq:
            self._flash_until = time.monotonic() + FLASH_S
            self.set_timer(FLASH_S, self.refresh)
        self._last_seq = view.last_seq
        self.view = view

    def render(self) -> Text:
        self.renders += 1
        v = self.view
        width, height = self.size.width, self.size.height
        if v is None or (not v.bids and not v.asks):
            return Text("waiting for the book…", style=self.get_component_rich_style("ladder--empty"))
        per_side = max(1, (height - 1) // 2)
        asks = list(v.asks[:per_side])
        bids = list(v.bids[:per_side])
        largest = max((s for _, s in asks + bids), default=0.0)
        pp, sp = v.price_precision, min(v.size_precision, 4)
        pw = max(len(f"{p:,.{pp}f}") for p, _ in asks + bids) + 1
        sw = max(len(f"{s:,.{sp}f}") for _, s in asks + bids) + 1
        bar_w = max(0, width - pw - sw - 2)
        style = self.get_component_rich_style
        out = Text(no_wrap=True, overflow="crop")
        for _ in range(per_side - len(asks)):
            out.append("\n")
        for price, size in reversed(asks):
            self._row(out, price, size, largest, pw, sw, bar_w, pp, sp, style("ladder--ask"), style("ladder--ask-bar"))
        out.append(self._spread_line(v, width, style))
        out.append("\n")
        for price, size in bids:
            self._row(out, price, size, largest, pw, sw, bar_w, pp, sp, style("ladder--bid"), style("ladder--bid-bar"))
        return out

    @staticmethod
    def _row(out: Text, price: float, size: float, largest: float, pw: int, sw: int, bar_w: int,
             pp: int, sp: int, text_style: Style, bar_style: Style) -> None:
        out.append(f"{price:>{pw},.{pp}f}", text_style)
        out.append(f"{size:>{sw},.{sp}f} ")
        out.append(size_bar(size, largest, bar_w), bar_style)
        out.append("\n")

    def _spread_line(self, v: BookView, width: int, style: object) -> Text:
        get = self.get_component_rich_style
        spread = v.spread
        last = f"{v.last_price:,.{v.price_precision}f}" if v.last_price is not None else "—"
        sp = f"{spread:,.{v.price_precision}f}" if spread is not None else "—"
        line = Text(no_wrap=True, overflow="crop")
        flashing = self.flash_enabled and time.monotonic() < self._flash_until
        last_style = get("ladder--spread")
        if flashing:
            last_style = get("ladder--flash-buy" if v.last_side == 1 else "ladder--flash-sell")
        line.append(" last ", get("ladder--empty"))
        line.append(last, last_style)
        line.append("  spread ", get("ladder--empty"))
        line.append(sp, get("ladder--spread"))
        pad = width - line.cell_len
        if pad > 0:
            line.append(" " * pad)
        return line

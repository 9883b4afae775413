"""Order Book pane: a depth ladder with size bars, the spread, and a flash on each new trade; a
level where one of our orders rests is marked `●` after its size."""

from __future__ import annotations

import time

from rich.style import Style

from quantai_tui.tui.views import BookView
from quantai_tui.tui.widgets.lines import LinesWidget, Part

_BARS = " ▏▎▍▌▋▊▉█"
FLASH_S = 0.35


def size_bar(size: float, largest: float, width: int) -> str:
    """A bar of eighth-blocks, `width` cells at `largest`."""
    if width <= 0 or largest <= 0:
        return ""
    eighths = max(1, round(size / largest * width * 8))
    full, part = divmod(min(eighths, width * 8), 8)
    return "█" * full + (_BARS[part] if part else "")


class OrderBookLadder(LinesWidget):
    """Asks above, bids below, best prices meeting at the spread line."""

    COMPONENT_CLASSES = {
        "ladder--ask", "ladder--bid", "ladder--ask-bar", "ladder--bid-bar", "ladder--spread",
        "ladder--flash-buy", "ladder--flash-sell", "ladder--muted", "ladder--mine",
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
    OrderBookLadder > .ladder--muted { color: $foreground-muted; }
    OrderBookLadder > .ladder--mine { color: $warning; text-style: bold; }
    """

    def __init__(self, *, flash: bool = True, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.flash_enabled = flash
        self.view: BookView | None = None
        self._flash_until = 0.0
        self._last_seq = 0

    def update_view(self, view: BookView) -> None:
        if self.flash_enabled and view.last_seq != self._last_seq and self._last_seq:
            self._flash_until = time.monotonic() + FLASH_S
            self.set_timer(FLASH_S, self._flash_over)
        self._last_seq = view.last_seq
        self.view = view
        self.invalidate()

    def _flash_over(self) -> None:
        # a later frame has usually redrawn it already; only a quiet market needs this redraw
        if time.monotonic() >= self._flash_until:
            self.invalidate()

    def _style(self, name: str) -> Style:
        return self.cstyle(name)

    def build_lines(self, width: int, height: int) -> list[list[Part]]:
        v = self.view
        if v is None or (not v.bids and not v.asks):
            return [[("waiting for the book…", self._style("ladder--muted"))]]
        per_side = max(1, (height - 1) // 2)
        asks = list(v.asks[:per_side])
        bids = list(v.bids[:per_side])
        largest = max((s for _, s in asks + bids), default=0.0)
        pp, sp = v.price_precision, min(v.size_precision, 4)
        pw = max(len(f"{p:,.{pp}f}") for p, _ in asks + bids) + 1
        sw = max(len(f"{s:,.{sp}f}") for _, s in asks + bids) + 1
        bar_w = max(0, width - pw - sw - 2)
        ask, ask_bar = self._style("ladder--ask"), self._style("ladder--ask-bar")
        bid, bid_bar = self._style("ladder--bid"), self._style("ladder--bid-bar")
        mine, mine_style = v.mine, self._style("ladder--mine")

        def row(price: float, size: float, style: Style, bar_style: Style) -> list[Part]:
            own = bool(mine) and round(price, pp) in mine
            return [(f"{price:>{pw},.{pp}f}", style), (f"{size:>{sw},.{sp}f}", None),
                    ("●" if own else " ", mine_style if own else None), (size_bar(size, largest, bar_w), bar_style)]

        rows: list[list[Part]] = [[] for _ in range(per_side - len(asks))]
        for price, size in reversed(asks):
            rows.append(row(price, size, ask, ask_bar))
        rows.append(self._spread_line(v))
        for price, size in bids:
            rows.append(row(price, size, bid, bid_bar))
        return rows

    def _spread_line(self, v: BookView) -> list[Part]:
        muted, strong = self._style("ladder--muted"), self._style("ladder--spread")
        last = f"{v.last_price:,.{v.price_precision}f}" if v.last_price is not None else "—"
        spread = f"{v.spread:,.{v.price_precision}f}" if v.spread is not None else "—"
        last_style = strong
        if self.flash_enabled and time.monotonic() < self._flash_until:
            last_style = self._style("ladder--flash-buy" if v.last_side == 1 else "ladder--flash-sell")
        return [(" last ", muted), (last, last_style), ("  spread ", muted), (spread, strong)]

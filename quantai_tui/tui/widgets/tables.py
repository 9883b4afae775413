"""Positions and Orders panes: DataTables redrawn from bridge views."""

from __future__ import annotations

from decimal import Decimal

from rich.text import Text
from textual.app import App
from textual.widgets import DataTable

from quantai_tui.tui.formatting import fmt_num, short_id
from quantai_tui.tui.views import OrderView, PositionView
from quantai_tui.tui.widgets.theme_style import theme_style

_STATUS_VAR = {"FILLED": "success", "CANCELED": "foreground-muted", "REJECTED": "error", "DENIED": "error",
               "EXPIRED": "foreground-muted"}


def _pnl(app: App[object], value: Decimal, places: int = 2) -> Text:
    var = "foreground" if value == 0 else ("success" if value > 0 else "error")
    return Text(fmt_num(value, places, sign=True), style=theme_style(app, var), justify="right")


_TYPE_TEXT = {"MARKET": "MKT", "LIMIT": "LMT", "STOP_MARKET": "STOP", "STOP_LIMIT": "STOP LMT"}
_STATUS_TEXT = {"SUBMITTED": "sent", "ACCEPTED": "open", "PARTIALLY_FILLED": "partial", "PENDING_CANCEL": "canceling",
                "PENDING_UPDATE": "amending", "UNKNOWN": "unknown?"}


class _Table(DataTable[object]):
    """Rows as (key, cells). Same keys in the same order: changed cells are updated in place
    (no relayout of the screen); otherwise the table is rebuilt."""

    def put_rows(self, rows: list[tuple[str, tuple[object, ...]]]) -> None:
        old: list[tuple[str, tuple[object, ...]]] = getattr(self, "_rows", [])
        if rows == old:
            return
        columns = list(self.columns)
        if [k for k, _ in rows] == [k for k, _ in old] and rows:
            for (key, cells), (_, before) in zip(rows, old, strict=True):
                for col, new, prev in zip(columns, cells, before, strict=True):
                    if new != prev:
                        self.update_cell(key, col, new)
        else:
            self.clear()
            for key, cells in rows:
                self.add_row(*cells, key=key)
        self._rows = rows


class PositionsTable(_Table):
    DEFAULT_CSS = "PositionsTable { height: 1fr; }"

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = False
        self.add_column("Symbol", key="symbol")
        for name in ("Qty", "Avg price", "Mark", "uPnL", "rPnL"):
            self.add_column(name, key=name)

    def show(self, positions: list[PositionView]) -> None:
        self.put_rows([(f"{p.venue}:{p.symbol}", (
            p.symbol,
            Text(fmt_num(p.quantity, 4, sign=True), justify="right"),
            Text(fmt_num(p.avg_price, 2), justify="right"),
            Text(fmt_num(p.mark, 2), justify="right"),
            _pnl(self.app, p.unrealized_pnl),
            _pnl(self.app, p.realized_pnl),
        )) for p in positions])


class OrdersTable(_Table):
    """Open orders first, then the most recent closed ones. The row key is the client order id."""

    DEFAULT_CSS = "OrdersTable { height: 1fr; }"
    RECENT = 30

    def on_mount(self) -> None:
        self.cursor_type = "row"
        for name in ("ID", "Side", "Type", "Qty", "Filled", "Price", "Status", "Symbol"):
            self.add_column(name, key=name)

    @property
    def selected_order_id(self) -> str | None:
        if self.row_count == 0:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:
            return None
        return str(key.value) if key.value is not None else None

    def show(self, orders: list[OrderView]) -> None:
        selected = self.selected_order_id
        open_ = [o for o in orders if o.is_open]
        closed = [o for o in orders if not o.is_open][: self.RECENT]
        rows: list[tuple[str, tuple[object, ...]]] = []
        for o in open_ + closed:
            side_style = theme_style(self.app, "success" if o.side == "BUY" else "error")
            status_style = theme_style(self.app, "foreground", bold=True) if o.is_open else \
                theme_style(self.app, _STATUS_VAR.get(o.status.value, "foreground"))
            rows.append((o.client_order_id, (
                f"#{short_id(o.client_order_id)}",
                Text(o.side, style=side_style),
                _TYPE_TEXT.get(o.order_type, o.order_type),
                Text(o.quantity, justify="right"),
                Text(o.filled, justify="right"),
                Text(" ".join(p for p in (o.price, f"stop {o.trigger}" if o.trigger else "") if p), justify="right"),
                Text(_STATUS_TEXT.get(o.status.value, o.status.value.lower()), style=status_style),
                o.symbol,
            )))
        self.put_rows(rows)
        if selected is not None and selected != self.selected_order_id:
            try:
                self.move_cursor(row=self.get_row_index(selected))
            except Exception:
                pass

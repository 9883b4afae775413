"""Numbers and events as short text for the panes. No textual import."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from quantai_tui.core import events as ev
from quantai_tui.core.identifiers import display_id


def fmt_num(value: float | Decimal | None, places: int = 2, sign: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:{'+' if sign else ''},.{places}f}"


def plain_price(value: Any) -> str:
    """An average price without the padding zeros of its extra precision (68498.040000 ->
    68498.04); the digits it has are kept."""
    text = str(value)
    if "." in text and "e" not in text.lower():
        whole, frac = text.split(".")
        frac = frac.rstrip("0").ljust(2, "0")
        text = f"{whole}.{frac}"
    return text


def short_id(client_order_id: str) -> str:
    """A client order id as the panes show it: unique enough on screen, short enough to read."""
    return display_id(client_order_id)


def describe_event(e: Any) -> tuple[int, str]:
    """(log level, one line) for a domain event shown in the Log pane."""
    name = type(e).__name__
    coid = short_id(getattr(e, "client_order_id", ""))
    if isinstance(e, ev.OrderSubmitted):
        px = f" @ {e.price}" if e.price is not None else ""
        return logging.INFO, f"#{coid} submitted {e.side} {e.order_type} {e.quantity} {e.symbol}{px}"
    if isinstance(e, ev.OrderAccepted):
        return logging.INFO, f"#{coid} accepted"
    if isinstance(e, ev.OrderFilled):
        return logging.INFO, f"#{coid} filled {e.side} {e.last_qty} {e.symbol} @ {e.last_px}"
    if isinstance(e, ev.OrderCanceled):
        return logging.INFO, f"#{coid} canceled{(' (' + e.reason + ')') if e.reason else ''}"
    if isinstance(e, (ev.OrderRejected, ev.OrderCancelRejected)):
        return logging.WARNING, f"#{coid} {name.removeprefix('Order').lower()}: {e.reason}"
    if isinstance(e, ev.OrderDenied):
        return logging.WARNING, f"risk denied #{coid} ({e.check}): {e.reason}"
    if isinstance(e, ev.KillSwitchEngaged):
        return logging.CRITICAL, f"KILL SWITCH ENGAGED by {e.source}: {e.reason}"
    if isinstance(e, ev.KillSwitchReleased):
        return logging.WARNING, f"kill switch released by {e.source}: {e.reason}"
    if isinstance(e, ev.TradingStateChanged):
        return logging.WARNING, f"trading {e.previous} -> {e.state}: {e.reason}"
    if isinstance(e, ev.VenueDisconnected):
        return logging.WARNING, f"{e.venue} {e.stream} disconnected: {e.reason}"
    if isinstance(e, ev.VenueReconnecting):
        return logging.WARNING, f"{e.venue} reconnecting (attempt {e.attempt})"
    if isinstance(e, ev.VenueConnected):
        return logging.INFO, f"{e.venue} {e.stream} connected"
    if isinstance(e, ev.BookResynced):
        return logging.WARNING, f"{e.venue} {e.symbol} book resynced: {e.reason}"
    if isinstance(e, ev.PositionOpened):
        return logging.INFO, f"position opened {e.symbol} {e.side} {e.quantity} @ {plain_price(e.avg_price)}"
    if isinstance(e, ev.PositionClosed):
        return logging.INFO, f"position closed {e.symbol}, realised {e.realized_pnl}"
    if coid:
        return logging.DEBUG, f"#{coid} {name}"
    return logging.DEBUG, name

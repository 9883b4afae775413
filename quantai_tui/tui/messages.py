"""Textual messages the bridge posts when the engine has news.

High-rate ones (book, chart, orders table) can replace a queued message of the same kind, so a
busy UI draws the latest state and never works through a backlog.
"""

from __future__ import annotations

import logging

from textual.message import Message

from quantai_tui.tui.views import BookView, ChartView, OrderView, PositionView, StatusView


class FrameUpdated(Message):
    """One frame: the book and/or the chart, drawn in the same screen update."""

    def __init__(self, book: BookView | None, chart: ChartView | None) -> None:
        super().__init__()
        self.book = book
        self.chart = chart

    def can_replace(self, message: Message) -> bool:
        # Textual asks the queued (older) frame whether `message`, the next one, supersedes it:
        # only if the newer frame carries everything this one does
        return (isinstance(message, FrameUpdated) and (message.book is not None or self.book is None)
                and (message.chart is not None or self.chart is None))


class OrdersChanged(Message):
    """The orders as they are now (open and recent)."""

    def __init__(self, orders: list[OrderView]) -> None:
        super().__init__()
        self.orders = orders

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, OrdersChanged)


class PositionsChanged(Message):
    def __init__(self, positions: list[PositionView]) -> None:
        super().__init__()
        self.positions = positions

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, PositionsChanged)


class StatusChanged(Message):
    def __init__(self, view: StatusView) -> None:
        super().__init__()
        self.view = view

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StatusChanged)


class KillSwitchChanged(Message):
    def __init__(self, engaged: bool, reason: str = "", source: str = "") -> None:
        super().__init__()
        self.engaged = engaged
        self.reason = reason
        self.source = source


class OrderDeniedNotice(Message):
    """Pre-trade risk refused an order (shown in place on the ticket that sent it)."""

    def __init__(self, client_order_id: str, check: str, reason: str) -> None:
        super().__init__()
        self.client_order_id = client_order_id
        self.check = check
        self.reason = reason


class LogLine(Message):
    """One line for the Log pane: an engine log record, an engine event or a key action."""

    def __init__(self, level: int, text: str, ts_ns: int, source: str = "engine") -> None:
        super().__init__()
        self.level = level
        self.text = text
        self.ts_ns = ts_ns
        self.source = source

    @property
    def level_name(self) -> str:
        return logging.getLevelName(self.level)

"""Textual messages the bridge posts when the engine has news.

High-rate ones (book, chart, orders table) can replace a queued message of the same kind, so a
busy UI draws the latest state and never works through a backlog.
"""

from __future__ import annotations

import logging

from textual.message import Message

from quantai_tui.tui.views import BookView, ChartView


class BookUpdated(Message):
    def __init__(self, view: BookView) -> None:
        super().__init__()
        self.view = view

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, BookUpdated) and message.view.symbol == self.view.symbol


class ChartUpdated(Message):
    def __init__(self, view: ChartView) -> None:
        super().__init__()
        self.view = view

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ChartUpdated) and message.view.symbol == self.view.symbol


class OrdersChanged(Message):
    """The orders table should be redrawn from the engine's cache."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, OrdersChanged)


class PositionsChanged(Message):
    def can_replace(self, message: Message) -> bool:
        return isinstance(message, PositionsChanged)


class StatusChanged(Message):
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

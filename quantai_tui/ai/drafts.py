"""Order drafts: what `propose_order` makes instead of an order.

A draft is inert data. Nothing in ai/ can turn it into an order: the TUI shows its exact fields
in a confirmation modal and, only when the trader confirms, sends the order through the same
bridge and risk checks as the order ticket. Headless runs and `quantai ask` only report drafts.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any, Literal

__all__ = ["DraftBook", "OrderDraft"]

Side = Literal["BUY", "SELL"]
OrderKind = Literal["MARKET", "LIMIT", "STOP_MARKET", "STOP_LIMIT"]


@dataclass(frozen=True, slots=True)
class OrderDraft:
    draft_id: str
    venue: str
    symbol: str
    side: Side
    order_type: OrderKind
    quantity: Decimal
    price: Decimal | None
    time_in_force: str = "GTC"
    reduce_only: bool = False
    mode: str = "paper"  # the engine's mode when drafted: live drafts need a typed confirmation
    after_untrusted: bool = False  # proposed after the assistant read documents or web pages
    created_ns: int = field(default_factory=time.time_ns)
    rationale: str = ""  # the model's words: kept for the record, never shown as the order
    trigger_price: Decimal | None = None  # stop orders: placed when the market reaches it

    def summary(self) -> str:
        """One line built from the fields (not from the model's text)."""
        stop = f" stop {self.trigger_price}" if self.trigger_price is not None else ""
        px = f" @ {self.price}" if self.price is not None else ""
        ro = " reduce-only" if self.reduce_only else ""
        return f"{self.side} {self.order_type} {self.quantity} {self.symbol}{stop}{px} on {self.venue}{ro}"

    def fields(self) -> list[tuple[str, str]]:
        """(label, value) rows exactly as the order would be sent."""
        rows = [
            ("Venue", self.venue),
            ("Symbol", self.symbol),
            ("Side", self.side),
            ("Type", self.order_type),
            ("Quantity", str(self.quantity)),
            ("Price", str(self.price) if self.price is not None else "market"),
        ]
        if self.trigger_price is not None:
            rows.append(("Trigger", str(self.trigger_price)))
        return rows + [
            ("Time in force", self.time_in_force),
            ("Reduce only", "yes" if self.reduce_only else "no"),
            ("Mode", self.mode.upper()),
        ]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["quantity"] = str(self.quantity)
        d["price"] = None if self.price is None else str(self.price)
        d["trigger_price"] = None if self.trigger_price is None else str(self.trigger_price)
        return d


class DraftBook:
    """The drafts of one session, in order. Thread-safe; `on_add` tells the UI."""

    def __init__(self, on_add: Callable[[OrderDraft], None] | None = None, max_drafts: int = 100) -> None:
        self._drafts: dict[str, OrderDraft] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.on_add = on_add
        self.max_drafts = max_drafts

    def new_id(self) -> str:
        with self._lock:
            return f"d{next(self._ids)}"

    def add(self, draft: OrderDraft) -> OrderDraft:
        with self._lock:
            self._drafts[draft.draft_id] = draft
            while len(self._drafts) > self.max_drafts:
                self._drafts.pop(next(iter(self._drafts)))
        if self.on_add is not None:
            self.on_add(draft)
        return draft

    def get(self, draft_id: str) -> OrderDraft | None:
        with self._lock:
            return self._drafts.get(draft_id)

    def take(self, draft_id: str) -> OrderDraft | None:
        """Remove and return a draft (confirmed or rejected: a draft is used once)."""
        with self._lock:
            return self._drafts.pop(draft_id, None)

    def pending(self) -> list[OrderDraft]:
        with self._lock:
            return list(self._drafts.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._drafts)

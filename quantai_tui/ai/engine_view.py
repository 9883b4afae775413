"""Read-only views of a trading engine for the AI's get_positions / get_orders tools.

- KernelView: a kernel running in this process (the TUI, an embedding script).
- StoreView: no engine here (`quantai ask`): the last state recorded in the profile's event
  store, read through a read-only SQLite connection, so it works beside a running engine.

Neither exposes `execute` or any other way to send a command.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quantai_tui.core.instruments import Instrument
    from quantai_tui.core.orders import Order
    from quantai_tui.engine.kernel import Kernel

__all__ = ["KernelView", "StoreView", "order_dict"]

log = logging.getLogger("quantai.ai")


def order_dict(o: Order) -> dict[str, Any]:
    return {
        "id": o.client_order_id, "venue": o.venue, "symbol": o.symbol, "side": str(o.side.value),
        "type": str(o.order_type.value), "quantity": str(o.quantity), "filled": str(o.filled_qty),
        "price": str(o.price) if o.price is not None else None,
        "trigger_price": str(o.trigger_price) if o.trigger_price is not None else None, "status": o.status.value,
        "strategy": o.strategy_id, "avg_price": str(o.avg_px) if o.avg_px is not None else None,
    }


class KernelView:
    def __init__(self, kernel: Kernel) -> None:
        self._kernel = kernel
        self.venue = kernel.venue
        self.mode = kernel.mode.value

    def positions(self) -> list[dict[str, Any]]:
        k = self._kernel
        out = []
        for p in k.portfolio.positions():
            mark = k.cache.mark(p.venue, p.symbol)
            out.append({
                "venue": p.venue, "symbol": p.symbol, "side": p.side.value, "quantity": str(p.qty),
                "avg_price": str(p.avg_price), "mark": mark,
                "unrealized_pnl": round(p.unrealized(mark), 8) if mark else None,
                "realized_pnl": str(p.realized_pnl),
            })
        return out

    def orders(self, open_only: bool = True, limit: int = 50) -> list[dict[str, Any]]:
        cache = self._kernel.cache
        src = cache.open.values() if open_only else cache.orders.values()
        orders = sorted(src, key=lambda o: o.ts_last, reverse=True)[:limit]
        return [order_dict(o) for o in orders]

    def instrument(self, symbol: str) -> Instrument | None:
        return self._kernel.cache.find_instrument(self.venue, symbol)

    def mid(self, symbol: str) -> float | None:
        return self._kernel.cache.mid(self.venue, symbol)


_ORDER_TYPES = ("OrderSubmitted", "OrderAccepted", "OrderRejected", "OrderCancelRequested", "OrderCanceled",
                "OrderCancelRejected", "OrderExpired", "OrderUpdateRequested", "OrderUpdated",
                "OrderUpdateRejected", "OrderFilled", "OrderStatusUnknown")
_POSITION_TYPES = ("PositionOpened", "PositionChanged", "PositionClosed")


class StoreView:
    """The engine's state as last recorded in the event store (read-only, rebuilt per call)."""

    blocking = True  # reads SQLite: tools call it from a thread

    def __init__(self, store_file: Path, venue: str = "", mode: str = "paper", max_orders: int = 10_000) -> None:
        self.store_file = Path(store_file)
        self.venue = venue
        self.mode = mode
        self.max_orders = max_orders

    def _events(self, types: tuple[str, ...]) -> Any:
        from quantai_tui.store.sqlite import read_events

        if not self.store_file.exists():
            return iter(())
        return read_events(self.store_file, types=types)

    def positions(self) -> list[dict[str, Any]]:
        last: dict[tuple[str, str], Any] = {}
        for _seq, ev in self._events(_POSITION_TYPES):
            last[(ev.venue, ev.symbol)] = ev
        out = []
        for (venue, symbol), ev in sorted(last.items()):
            if type(ev).__name__ == "PositionClosed":
                continue
            out.append({"venue": venue, "symbol": symbol, "side": ev.side.value, "quantity": str(ev.quantity),
                        "avg_price": str(ev.avg_price), "realized_pnl": str(ev.realized_pnl),
                        "as_of": "the last event in the store (no engine is running in this process)"})
        return out

    def orders(self, open_only: bool = True, limit: int = 50) -> list[dict[str, Any]]:
        from quantai_tui.core.errors import QuantAIError
        from quantai_tui.core.orders import Order

        orders: dict[str, Order] = {}
        for _seq, ev in self._events(_ORDER_TYPES):
            o = orders.get(ev.client_order_id)
            try:
                if o is None:
                    if type(ev).__name__ == "OrderSubmitted":
                        orders[ev.client_order_id] = Order(ev)
                        if len(orders) > self.max_orders:  # bounded: keep the newest
                            orders.pop(next(iter(orders)))
                else:
                    o.apply(ev)
            except QuantAIError as e:  # a damaged history says so, it does not stop the view
                log.debug("store view: %s", e)
        chosen = [o for o in orders.values() if o.is_open or not open_only]
        chosen.sort(key=lambda o: o.ts_last, reverse=True)
        return [order_dict(o) for o in chosen[:limit]]

    def instrument(self, symbol: str) -> Instrument | None:
        return None

    def mid(self, symbol: str) -> float | None:
        return None

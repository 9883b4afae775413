"""The kill switch: stop all trading now, and stay stopped until someone says otherwise.

engage(reason, source):
  1. HALTED in memory at once: from this instant the risk engine refuses every new order.
  2. KillSwitchEngaged + TradingStateChanged(HALTED) appended durably, before anything else
     happens (a crash from here on restarts HALTED: the state is rebuilt from the store).
  3. every open order on every venue: marked PENDING_CANCEL and swept with one cancel-all per
     venue, all venues at once. Cancels take the venues' priority lane (never queued behind
     the rate limiter or market data); a venue whose cancel-all fails is swept order by order.
  4. optionally (KillSwitchSettings.flatten) every position is closed with a reduce-only market
     order (the only orders the HALTED state lets through).
  5. a watchdog cancels again, order by order, whatever is still open every cancel_retry_s
     (an order the venue accepted after the sweep is also canceled by the OMS on its accept).
release(reason, source): KillSwitchReleased + TradingStateChanged(ACTIVE), durably. Releasing is
always explicit; nothing releases it automatically.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from quantai_tui.core.commands import SubmitOrder
from quantai_tui.core.enums import OrderSide, OrderType, TradingState
from quantai_tui.core.events import RESTATES_EVENT, KillSwitchEngaged, KillSwitchReleased
from quantai_tui.core.values import Quantity
from quantai_tui.engine.tasks import TaskGroup

if TYPE_CHECKING:
    from quantai_tui.core.clock import Clock
    from quantai_tui.engine.journal import Journal
    from quantai_tui.engine.oms import OrderManager
    from quantai_tui.engine.portfolio import Portfolio
    from quantai_tui.engine.risk import RiskEngine
    from quantai_tui.settings.schema import KillSwitchSettings

log = logging.getLogger("quantai.killswitch")
KILL_STRATEGY_ID = "kill_switch"


@dataclass
class KillReport:
    """What engaging did, with its timings (perf counter, milliseconds from the command)."""

    already_engaged: bool
    halted_ms: float = 0.0  # HALTED durable in the store
    swept_ms: float = 0.0  # every venue answered its cancel-all
    orders_to_cancel: int = 0
    flatten_orders: list[str] = field(default_factory=list)
    venues: list[str] = field(default_factory=list)
    open_after_sweep: int = 0

    def as_dict(self) -> dict[str, object]:
        return {"already_engaged": self.already_engaged, "halted_ms": round(self.halted_ms, 3),
                "swept_ms": round(self.swept_ms, 3), "orders_to_cancel": self.orders_to_cancel,
                "flatten_orders": self.flatten_orders, "venues": self.venues,
                "open_after_sweep": self.open_after_sweep}


class KillSwitch:
    def __init__(self, *, oms: OrderManager, risk: RiskEngine, portfolio: Portfolio, journal: Journal, clock: Clock,
                 settings: KillSwitchSettings) -> None:
        self.oms = oms
        self.risk = risk
        self.portfolio = portfolio
        self.journal = journal
        self.clock = clock
        self.settings = settings
        self.tasks = TaskGroup("killswitch")
        self.last_report: KillReport | None = None
        self._lock: asyncio.Lock | None = None

    @property
    def engaged(self) -> bool:
        return self.risk.state is TradingState.HALTED

    async def engage(self, reason: str, source: str, flatten: bool | None = None) -> KillReport:
        t0 = time.perf_counter()
        already = self.engaged
        flat = self.settings.flatten if flatten is None else flatten
        state_ev = self.risk.state_event(TradingState.HALTED, f"kill switch ({source}): {reason}")
        now = self.clock.timestamp_ns()
        kill_ev = KillSwitchEngaged(reason, source, flat, ts_event=now, ts_init=now)
        report = KillReport(already_engaged=already)
        # 2. durable first, in one group commit, then tell everyone
        store = self.journal.store
        store.append_nowait(kill_ev, "risk")
        if state_ev is not None:
            store.append_nowait(state_ev, "risk")
        await store.flush()
        report.halted_ms = (time.perf_counter() - t0) * 1000
        self.journal.bus.publish("risk", kill_ev)
        if state_ev is not None:
            self.journal.bus.publish("risk", state_ev)
        log.critical("KILL SWITCH ENGAGED by %s: %s (HALTED durable in %.2f ms)", source, reason, report.halted_ms,
                     extra=RESTATES_EVENT)
        # 3. sweep every venue at once
        report.orders_to_cancel = self.oms.open_count
        report.venues = sorted(self.oms.venues)
        await self.oms.cancel_all()
        report.swept_ms = (time.perf_counter() - t0) * 1000
        report.open_after_sweep = self.oms.open_count
        # 4. flatten
        if flat:
            report.flatten_orders = await self.flatten()
        # 5. watchdog for stragglers
        if self.oms.open_count and not self.oms.sync:
            self.tasks.spawn(self._watchdog(), "watchdog")
        self.last_report = report
        return report

    async def flatten(self) -> list[str]:
        """A reduce-only market order for every open position (allowed while HALTED)."""
        out = []
        for pos in self.portfolio.positions():
            inst = self.oms.cache.find_instrument(pos.venue, pos.symbol)
            if inst is None or pos.venue not in self.oms.venues:
                log.error("cannot flatten %s on %s: no instrument or venue", pos.symbol, pos.venue)
                continue
            side = OrderSide.SELL if pos.qty > 0 else OrderSide.BUY
            qty = Quantity.from_decimal(abs(pos.qty), inst.size_precision, "down")
            if not qty:
                continue
            cmd = SubmitOrder(pos.venue, pos.symbol, side, OrderType.MARKET, qty, reduce_only=True,
                              strategy_id=KILL_STRATEGY_ID)
            order = await self.oms.submit(cmd, internal=True)
            if order is not None:
                out.append(order.client_order_id)
        return out

    async def _watchdog(self) -> None:
        interval = max(0.05, self.settings.cancel_retry_s)
        while self.engaged and self.oms.open_count:
            await asyncio.sleep(interval)
            stragglers = [o for o in self.oms.open_orders() if o.client_order_id not in self.oms.internal]
            for o in stragglers:
                client = self.oms.venues.get(o.venue)
                if client is not None:
                    self.oms.request_cancel(o)
                    await self.oms._cancel_at_venue(o, client)
            if stragglers:
                log.warning("kill switch: canceled %d straggling order(s) again", len(stragglers))

    async def release(self, reason: str, source: str) -> bool:
        """Back to ACTIVE (explicitly). False if it was not engaged."""
        if not self.engaged:
            return False
        state_ev = self.risk.state_event(TradingState.ACTIVE, f"kill switch released ({source}): {reason}")
        now = self.clock.timestamp_ns()
        rel = KillSwitchReleased(reason, source, ts_event=now, ts_init=now)
        store = self.journal.store
        store.append_nowait(rel, "risk")
        if state_ev is not None:
            store.append_nowait(state_ev, "risk")
        await store.flush()
        self.journal.bus.publish("risk", rel)
        if state_ev is not None:
            self.journal.bus.publish("risk", state_ev)
        log.warning("kill switch released by %s: %s", source, reason, extra=RESTATES_EVENT)
        return True

    async def close(self) -> None:
        await self.tasks.close()

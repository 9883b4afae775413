"""Reconciliation: the engine's view (rebuilt from the store) against a venue's, on start and
after every private-stream reconnect.

1. Orders open here: each is looked up at the venue (its open orders, else by client order id)
   and brought in line with ordinary events: missed fills (trade by trade, applied once),
   then the status (canceled / expired / accepted ...). An order the venue never heard of that
   was only submitted (or UNKNOWN) never arrived: it is closed as CANCELED.
2. Orders open at the venue but not here: ours (our client order id prefix) without an intent in
   the store cannot be explained; someone else's are reported and left alone.
3. Fills since the last one we know (with a margin): any trade id not yet applied is applied.
4. Balances: the venue's totals are adopted (deposits and withdrawals happen) as BalanceUpdated.
   Derivative positions: a difference the fills did not explain is adopted (PositionAdjusted)
   and counts as unresolved.

Every difference becomes an event; the summary is a ReconciliationCompleted. Anything
unresolved makes the result not ok: the kernel then starts (or goes) HALTED (fail closed).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from quantai_tui.core.enums import OrderStatus
from quantai_tui.core.events import OrderCanceled, ReconciliationCompleted
from quantai_tui.engine.oms_resolve import fill_event

if TYPE_CHECKING:
    from quantai_tui.engine.oms import OrderManager
    from quantai_tui.engine.ports import AccountReport, ExecutionClient
    from quantai_tui.engine.portfolio import Portfolio

log = logging.getLogger("quantai.reconcile")
LOOKBACK_NS = 300_000_000_000  # re-read fills from five minutes before the last one we know


@dataclass
class ReconcileResult:
    venue: str
    differences: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unresolved

    def summary(self) -> str:
        parts = [f"unresolved: {u}" for u in self.unresolved] + self.differences
        return "; ".join(parts)[:4000] or "in agreement"


class Reconciler:
    def __init__(self, oms: OrderManager, portfolio: Portfolio, *, id_prefix: str = "qa") -> None:
        self.oms = oms
        self.portfolio = portfolio
        self.id_prefix = id_prefix
        self.runs = 0

    async def reconcile(self, venue: str, client: ExecutionClient) -> ReconcileResult:
        self.runs += 1
        res = ReconcileResult(venue)
        try:
            await self._orders(venue, client, res)
            await self._fills(venue, client, res)
            await self._account(venue, client, res)
        except Exception as exc:  # a venue we cannot read is a venue we cannot trust
            log.exception("reconciliation with %s failed", venue)
            res.unresolved.append(f"the venue could not be read: {exc!r}")
        now = self.oms.clock.timestamp_ns()
        self.oms.journal.emit(ReconciliationCompleted(venue, res.ok, len(res.differences) + len(res.unresolved),
                                                      res.summary(), ts_event=now, ts_init=now))
        (log.info if res.ok else log.error)("reconciliation with %s: %s", venue, res.summary())
        return res

    async def _orders(self, venue: str, client: ExecutionClient, res: ReconcileResult) -> None:
        oms = self.oms
        at_venue = {r.client_order_id: r for r in await client.open_orders(None)}
        for order in oms.open_orders(venue):
            coid = order.client_order_id
            before = order.status
            rep = at_venue.get(coid) or await client.query_order(coid, order.symbol)
            if rep is None:
                if before in (OrderStatus.SUBMITTED, OrderStatus.UNKNOWN) or order.previous_status in (
                        OrderStatus.SUBMITTED, OrderStatus.UNKNOWN):
                    now = oms.clock.timestamp_ns()
                    oms.apply(OrderCanceled.make(coid, venue, order.symbol, "", "never reached the venue", now, now))
                    res.differences.append(f"{coid} never reached the venue: closed")
                else:
                    res.unresolved.append(f"{coid} is {before.value} here but unknown at the venue")
                continue
            if await oms.resolver.apply_report(order, rep, client):
                res.differences.append(f"{coid} {before.value} -> {order.status.value}")
            if rep.status.is_open and not order.is_open:
                res.unresolved.append(f"{coid} is open at the venue but {order.status.value} here")
        for coid, rep in at_venue.items():
            order = oms.get(coid)
            if order is None:
                if coid.startswith(self.id_prefix):
                    res.unresolved.append(f"{coid} is open at the venue with no intent in the store")
                else:
                    res.differences.append(f"external order {coid} ({rep.symbol}) open at the venue, left alone")
            elif order.is_closed:
                res.unresolved.append(f"{coid} is open at the venue but {order.status.value} here")

    def _since(self, venue: str) -> int:
        last = 0
        earliest_open = None
        for o in self.oms.cache.orders.values():
            if o.venue != venue:
                continue
            if o.filled_qty:
                last = max(last, o.ts_last)
            if o.is_open:
                earliest_open = o.ts_submitted if earliest_open is None else min(earliest_open, o.ts_submitted)
        since = last if earliest_open is None else min(last or earliest_open, earliest_open)
        return max(0, since - LOOKBACK_NS)

    async def _fills(self, venue: str, client: ExecutionClient, res: ReconcileResult) -> None:
        oms = self.oms
        now = oms.clock.timestamp_ns()
        for f in await client.fills_since(self._since(venue), None):
            order = oms.get(f.client_order_id)
            if order is None:
                if f.client_order_id.startswith(self.id_prefix):
                    res.unresolved.append(f"fill {f.trade_id} of {f.client_order_id}, an order with no intent in the store")
                continue
            if f.trade_id in order.trade_ids:
                continue
            if oms.apply(fill_event(f, venue, now)):
                res.differences.append(f"missed fill {f.trade_id} of {f.client_order_id} applied")
            else:
                res.unresolved.append(f"fill {f.trade_id} of {f.client_order_id} does not fit the order")

    async def _account(self, venue: str, client: ExecutionClient, res: ReconcileResult) -> None:
        acct = await client.account()
        if self._position_mismatches(venue, acct):
            # A fill can land between reading the fills and reading the account: read both
            # once more before calling a position wrong.
            await self._fills(venue, client, res)
            acct = await client.account()
        pf = self.portfolio
        for asset, (total, _free) in acct.balances.items():
            mine = pf.balance(venue, asset)
            if Decimal(total) != mine:
                pf.set_balance(venue, asset, Decimal(total))
                res.differences.append(f"balance {asset} {mine} -> {total} (the venue's)")
        for sym, qty, avg, mine_q in self._position_mismatches(venue, acct):
            pf.adjust_position(venue, sym, qty, avg, f"reconciliation: venue has {qty}, store had {mine_q}")
            res.unresolved.append(f"position {sym} {mine_q} here, {qty} at the venue (adopted)")

    def _position_mismatches(self, venue: str, acct: AccountReport) -> list[tuple[str, Decimal, Decimal, Decimal]]:
        """(symbol, venue qty, venue avg price, our qty) for every derivative position that differs."""
        pf = self.portfolio
        theirs = {p.symbol: p for p in acct.positions}
        out = []
        for sym in sorted(set(theirs) | {p.symbol for p in pf.positions(venue) if p.derivative}):
            p = theirs.get(sym)
            qty = p.quantity if p is not None else Decimal(0)
            mine_q = pf.position_qty(venue, sym)
            if qty != mine_q:
                out.append((sym, qty, p.avg_price if p is not None else Decimal(0), mine_q))
        return out

"""Helpers for the trading-core tests: kernels on real SQLite files in tmp dirs, market data
published by hand (deterministic), and a fake venue that outlives engine restarts."""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from quantai_tui.connectors.base_execution import BaseExecutionClient
from quantai_tui.connectors.sim.instruments import INSTRUMENTS
from quantai_tui.core.clock import Clock, TestClock
from quantai_tui.core.commands import SubmitOrder
from quantai_tui.core.enums import AggressorSide, LiquiditySide, OrderSide, OrderStatus, OrderType, TradingMode
from quantai_tui.core.errors import VenueRejected
from quantai_tui.core.events import OrderBookDeltas, QuoteTick, TradeTick, market_topic
from quantai_tui.core.execution import AccountReport, FillReport, OrderRequest, OrderStatusReport, PositionReport
from quantai_tui.core.instruments import Instrument
from quantai_tui.core.positions import Ledger
from quantai_tui.core.values import Money, Price, Quantity
from quantai_tui.engine.kernel import Kernel, KernelConfig
from quantai_tui.settings.schema import Settings

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z


def instruments_for(*venues: str) -> list[Instrument]:
    return [replace(inst, venue=v) for v in venues for inst in INSTRUMENTS.values()]


def make_settings(**risk: Any) -> Settings:
    s = Settings()
    for k, v in risk.items():
        setattr(s.risk, k, v)
    return s


def make_kernel(tmp_path: Path | None, *, venues: tuple[str, ...] = ("sim",), symbols: tuple[str, ...] = ("BTC/USDT",),
                settings: Settings | None = None, clock: Clock | None = None,
                execution: dict[str, Any] | None = None, mode: TradingMode = TradingMode.PAPER,
                store: str | None = None, **cfg: Any) -> Kernel:
    settings = settings or make_settings(price_band_pct=Decimal("0"), max_orders_per_second=0.0)
    config = KernelConfig(mode=mode, venues=list(venues), symbols=list(symbols), instruments=instruments_for(*venues),
                          market_data=False, store=store or ("sqlite" if tmp_path is not None else "memory"),
                          store_path=(tmp_path / "events.sqlite") if tmp_path is not None else None,
                          client_id_tag="t0", **cfg)
    return Kernel(settings, config, clock=clock or TestClock(T0), execution=execution)


def publish_book(k: Kernel, venue: str, symbol: str, bids: list[tuple[float, float]], asks: list[tuple[float, float]],
                 ts: int | None = None) -> None:
    ts = ts if ts is not None else k.clock.timestamp_ns()
    k.bus.publish(market_topic("book", venue, symbol),
                  OrderBookDeltas(venue, symbol, tuple(bids), tuple(asks), True, 1, ts_event=ts, ts_init=ts))


def publish_trade(k: Kernel, venue: str, symbol: str, price: float, size: float, ts: int | None = None) -> None:
    ts = ts if ts is not None else k.clock.timestamp_ns()
    k.bus.publish(market_topic("trades", venue, symbol),
                  TradeTick(venue, symbol, price, size, AggressorSide.BUYER, f"t{ts}", ts_event=ts, ts_init=ts))


def publish_quote(k: Kernel, venue: str, symbol: str, bid: float, ask: float, ts: int | None = None) -> None:
    ts = ts if ts is not None else k.clock.timestamp_ns()
    k.bus.publish(market_topic("quotes", venue, symbol),
                  QuoteTick(venue, symbol, bid, 1.0, ask, 1.0, ts_event=ts, ts_init=ts))


def standard_book(k: Kernel, venue: str = "sim", symbol: str = "BTC/USDT", mid: float = 50_000.0) -> None:
    bids = [(mid - 0.5 - i, 1.0) for i in range(20)]
    asks = [(mid + 0.5 + i, 1.0) for i in range(20)]
    publish_book(k, venue, symbol, bids, asks)


class VenueState:
    """What a fake exchange remembers; survives engine restarts (it is the exchange)."""

    def __init__(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.fills: list[FillReport] = []
        self.ledger = Ledger()  # the exchange's own books of the account
        self.ledger.set_balance("fake", "USDT", Decimal("100000"))
        self.submits: list[str] = []  # every client order id it was ever sent, in order
        self.trade_n = 0


class FakeVenue(BaseExecutionClient):
    """An exchange stand-in: accepts orders, fills them when told, can drop replies.

    `drop_rate`: that share of submits is accepted at the venue but neither the reply nor the
    user-stream event gets through (the submit times out: the engine must resolve it by lookup).
    """

    supports_amend = True

    def __init__(self, venue: str, report: Any, clock: Clock, state: VenueState | None = None, *,
                 drop_rate: float = 0.0, lose_rate: float = 0.0, fill_dropped: bool = False, seed: int = 1,
                 submit_timeout_s: float = 0.05, instruments: list[Instrument] | None = None) -> None:
        super().__init__(venue, report, clock, submit_timeout_s=submit_timeout_s, request_timeout_s=1.0)
        self.ex = state or VenueState()
        self.drop_rate = drop_rate
        self.lose_rate = lose_rate
        self.fill_dropped = fill_dropped
        self.dropped: list[str] = []
        self.rng = random.Random(seed)
        self.connected = True
        self.silent = False  # True: the engine is "down": nothing is reported
        self.instruments = {i.symbol: i for i in (instruments or instruments_for(venue))}

    def bind(self, report: Any) -> None:
        self._report = report

    def _out(self, ev: Any) -> None:
        if not self.silent:
            self._report(ev)

    async def _submit(self, order: OrderRequest) -> None:
        st = self.ex
        st.submits.append(order.client_order_id)
        if self.rng.random() < self.lose_rate:
            await asyncio.sleep(3600)  # the request is lost on its way: the venue never sees it
        if order.client_order_id in st.orders:
            raise VenueRejected("duplicate client order id")
        vid = f"V{len(st.orders) + 1}"
        st.orders[order.client_order_id] = {"req": order, "vid": vid, "status": OrderStatus.ACCEPTED,
                                            "filled": Quantity.from_raw(0, order.quantity.precision), "ts": self.clock.timestamp_ns()}
        if self.rng.random() < self.drop_rate:
            self.dropped.append(order.client_order_id)
            if self.fill_dropped and len(self.dropped) % 2:  # it even fills, and that report is lost too
                self.fill(order.client_order_id, order.quantity, order.price or Price("1"), report=False)
            await asyncio.sleep(3600)  # the reply is lost
        now = self.clock.timestamp_ns()
        from quantai_tui.core.events import OrderAccepted

        self._out(OrderAccepted.make(order.client_order_id, self.venue, order.symbol, vid, now, now))

    def fill(self, coid: str, qty: str | Quantity, price: str | Price, report: bool = True) -> FillReport:
        """The exchange fills (part of) an order."""
        st = self.ex
        o = st.orders[coid]
        req: OrderRequest = o["req"]
        q = qty if isinstance(qty, Quantity) else Quantity(qty, req.quantity.precision)
        p = price if isinstance(price, Price) else Price(price)
        st.trade_n += 1
        now = self.clock.timestamp_ns()
        fee = (q.as_decimal() * p.as_decimal() * Decimal("0.001")).quantize(Decimal("0.00000001"))
        f = FillReport(coid, o["vid"], f"T{st.trade_n}", req.symbol, req.side, q, p, fee, "USDT", now)
        st.fills.append(f)
        o["filled"] = o["filled"] + q
        o["status"] = OrderStatus.FILLED if o["filled"] >= req.quantity else OrderStatus.PARTIALLY_FILLED
        signed = q.as_decimal() if req.side is OrderSide.BUY else -q.as_decimal()
        st.ledger.apply_fill("fake", self.instruments[req.symbol], signed, p.as_decimal(), fee, "USDT", now)
        if report and not self.silent:
            self.filled(coid, req.symbol, o["vid"], f.trade_id, req.side, q, p, Money(fee, "USDT"),
                        LiquiditySide.TAKER, now)
        return f

    def cancel_at_venue(self, coid: str, report: bool = True) -> None:
        o = self.ex.orders[coid]
        o["status"] = OrderStatus.CANCELED
        if report and not self.silent:
            self.canceled(coid, o["req"].symbol, o["vid"], "canceled")

    async def _cancel(self, client_order_id: str, symbol: str) -> None:
        o = self.ex.orders.get(client_order_id)
        if o is None or not o["status"].is_open:
            raise VenueRejected(f"order {client_order_id} is not open")
        self.cancel_at_venue(client_order_id)

    async def _cancel_all(self, symbol: str | None) -> bool:
        for coid, o in list(self.ex.orders.items()):
            if o["status"].is_open and (symbol is None or o["req"].symbol == symbol):
                self.cancel_at_venue(coid)
        return True

    async def _modify(self, client_order_id: str, symbol: str, quantity: Quantity | None, price: Price | None) -> None:
        o = self.ex.orders.get(client_order_id)
        if o is None or not o["status"].is_open:
            raise VenueRejected("not open")
        req: OrderRequest = o["req"]
        o["req"] = replace(req, quantity=quantity or req.quantity, price=price or req.price)
        self.updated(client_order_id, symbol, o["req"].quantity, o["req"].price)

    def _report_of(self, coid: str) -> OrderStatusReport:
        o = self.ex.orders[coid]
        req: OrderRequest = o["req"]
        return OrderStatusReport(coid, o["vid"], req.symbol, req.side, req.order_type, o["status"], req.quantity,
                                 o["filled"], req.price, None, o["ts"])

    async def _query_order(self, client_order_id: str, symbol: str) -> OrderStatusReport | None:
        return self._report_of(client_order_id) if client_order_id in self.ex.orders else None

    async def _open_orders(self, symbol: str | None) -> list[OrderStatusReport]:
        return [self._report_of(c) for c, o in self.ex.orders.items()
                if o["status"].is_open and (symbol is None or o["req"].symbol == symbol)]

    async def _fills_since(self, ts_ns: int, symbol: str | None) -> list[FillReport]:
        return [f for f in self.ex.fills if f.ts_event >= ts_ns and (symbol is None or f.symbol == symbol)]

    async def _account(self) -> AccountReport:
        led = self.ex.ledger
        bals = {a: (t, led.free("fake", a)) for a, t in led.balances.get("fake", {}).items()}
        return AccountReport(bals, tuple(PositionReport(p.symbol, p.qty, p.avg_price)
                                         for p in led.positions.values() if p.qty and p.derivative))


class ScriptedVenue(FakeVenue):
    """A FakeVenue whose next submit, cancel, cancel-all or amend raises what it is given
    (`venue.fail["cancel"] = VenueRejected(...)`); `calls` lists every such request."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.fail: dict[str, Exception] = {}
        self.calls: list[str] = []

    def _raise(self, what: str) -> None:
        self.calls.append(what)
        exc = self.fail.pop(what, None)
        if exc is not None:
            raise exc

    async def _submit(self, order: OrderRequest) -> None:
        self._raise("submit")
        await super()._submit(order)

    async def _cancel(self, client_order_id: str, symbol: str) -> None:
        self._raise("cancel")
        await super()._cancel(client_order_id, symbol)

    async def _cancel_all(self, symbol: str | None) -> bool:
        self._raise("cancel_all")
        return await super()._cancel_all(symbol)

    async def _modify(self, client_order_id: str, symbol: str, quantity: Quantity | None, price: Price | None) -> None:
        self._raise("modify")
        await super()._modify(client_order_id, symbol, quantity, price)


def order_types() -> tuple[OrderType, ...]:
    return tuple(OrderType)


async def place_limit(k: Kernel, venue: str = "fake") -> str:
    """One resting limit buy of 1 BTC/USDT at 40,000 through the kernel; its client order id."""
    inst = k.cache.instrument(venue, "BTC/USDT")
    res = await k.execute(SubmitOrder(venue, "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, inst.make_qty("1"),
                                      inst.make_price(40_000)))
    assert res.ok and res.client_order_id
    return res.client_order_id


V = TypeVar("V", bound=FakeVenue)


def kernel_on_venue(tmp_path: Path | None, venue_cls: type[V] = FakeVenue,  # type: ignore[assignment]
                    state: VenueState | None = None, *, clock: Clock | None = None,
                    venue_kw: dict[str, Any] | None = None, **kernel_kw: Any) -> tuple[Kernel, V]:
    """A kernel whose venue "fake" is a scripted `venue_cls` bound to its OMS; not started, so
    a test can set what it needs first. `kernel_kw` goes to make_kernel (venues default to
    ("fake",))."""
    clock = clock or TestClock(T0)
    v = venue_cls("fake", None, clock, state, **(venue_kw or {}))
    kernel_kw.setdefault("venues", ("fake",))
    k = make_kernel(tmp_path, clock=clock, execution={"fake": v}, **kernel_kw)
    v.bind(k.oms.on_report)
    return k, v

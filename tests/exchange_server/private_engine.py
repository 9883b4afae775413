"""The exchange behind the private APIs: accounts, orders, a tiny matching engine and faults.

One `Engine` per venue server. Venue modules (private_binance.py, private_okx.py,
private_bybit.py) translate their wire format to calls here and listen to its events to push
user-stream messages. The engine is deliberately simple and deterministic:

- `set_top(native, bid, ask)`: a marketable order (a market order, or a limit through the top)
  fills at once, in full, as taker at the top (infinite liquidity there).
- resting limit orders fill when the test says the market traded through them:
  `cross(native, price, qty=None)` fills them (maker, at their limit) in time priority.
- IOC / FOK remainders expire; post-only orders that would take are refused (`PostOnlyReject`).
- spot fills move balances (fees in the quote asset); derivative fills move a netting
  position and pay fees and realised P&L in the settle asset.

Every change is announced to listeners as (kind, order, fill): kind is new, trade, canceled,
expired, rejected or amended. Faults live in `PrivateFaults` (see there).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

ZERO = Decimal(0)
FEE_Q = Decimal("0.00000001")


class EngineError(Exception):
    """Refused by the exchange; `kind` is venue-neutral (duplicate, not_found, not_open,
    insufficient, invalid, post_only)."""

    def __init__(self, kind: str, message: str = "") -> None:
        super().__init__(message or kind)
        self.kind = kind


@dataclass
class PrivateFaults:
    """Faults of the private API, on demand.

    drop_rate: share of order placements accepted, then not answered (the reply is lost:
      "abort" cuts the connection, "hang" answers only after the client gave up).
    throttle: replies still to refuse with the venue's rate-limit answer, as (status, retry_after_s).
    echo_key: error messages quote the API key (as some venues do), to prove it is redacted.
    mute_stream: user-stream pushes are dropped (messages lost while the client is not looking).
    """

    drop_rate: float = 0.0
    drop_mode: str = "abort"
    hang_s: float = 2.0
    seed: int = 7
    throttle: list[tuple[int, float]] = field(default_factory=list)
    echo_key: bool = False
    mute_stream: bool = False
    refuse_creates: int = 0  # the next N placements are refused (insufficient balance)
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def reseed(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)

    def should_drop(self) -> bool:
        return self.drop_rate > 0 and self.rng.random() < self.drop_rate


@dataclass
class Market:
    native: str
    base: str
    quote: str
    derivative: bool = False


@dataclass
class PrivOrder:
    oid: str
    coid: str
    native: str
    side: str  # BUY / SELL
    type: str  # LIMIT / MARKET / STOP_MARKET / STOP_LIMIT
    tif: str  # GTC / IOC / FOK / POST_ONLY
    qty: Decimal
    price: Decimal | None
    trigger: Decimal | None = None
    reduce_only: bool = False
    triggered: bool = False  # a stop order whose trigger was reached
    filled: Decimal = ZERO
    quote_filled: Decimal = ZERO
    fees: Decimal = ZERO
    status: str = "NEW"  # NEW PARTIALLY_FILLED FILLED CANCELED EXPIRED REJECTED UNTRIGGERED
    created_ms: int = 0
    updated_ms: int = 0
    seq: int = 0

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED", "UNTRIGGERED")

    @property
    def leaves(self) -> Decimal:
        return self.qty - self.filled

    @property
    def avg(self) -> Decimal:
        return (self.quote_filled / self.filled) if self.filled else ZERO


@dataclass
class PrivFill:
    trade_id: str
    order: PrivOrder
    qty: Decimal
    price: Decimal
    fee: Decimal
    fee_asset: str
    maker: bool
    ts_ms: int
    seq: int
    realized: Decimal = ZERO


Listener = Callable[[str, PrivOrder, PrivFill | None], None]


def now_ms() -> int:
    return int(time.time() * 1000)


class Engine:
    def __init__(self, *, trade_ids: str = "int", maker_fee: str = "0.0002", taker_fee: str = "0.0005") -> None:
        self.markets: dict[str, Market] = {}
        self.balances: dict[str, Decimal] = {}
        self.positions: dict[str, tuple[Decimal, Decimal]] = {}  # native -> (signed qty, avg price)
        self.orders: dict[str, PrivOrder] = {}  # by venue order id
        self.by_coid: dict[str, PrivOrder] = {}
        self.fills: list[PrivFill] = []
        self.tops: dict[str, tuple[Decimal, Decimal]] = {}
        self.listeners: list[Listener] = []
        self.faults = PrivateFaults()
        self.create_attempts: Counter[str] = Counter()  # client order id -> creates received
        self.requests: list[tuple[float, str, str]] = []  # (monotonic time, method, path)
        self.maker_fee = Decimal(maker_fee)
        self.taker_fee = Decimal(taker_fee)
        self._trade_style = trade_ids
        self._oid = itertools.count(100_001)
        self._tid = itertools.count(500_001)
        self._seq = itertools.count(1)
        self.lock = asyncio.Lock()

    # --- setup -------------------------------------------------------------------------------
    def add_market(self, native: str, base: str, quote: str, derivative: bool = False) -> None:
        self.markets[native] = Market(native, base, quote, derivative)

    def fund(self, asset: str, amount: str | Decimal) -> None:
        self.balances[asset] = self.balances.get(asset, ZERO) + Decimal(amount)

    def set_top(self, native: str, bid: str | Decimal, ask: str | Decimal) -> None:
        self.tops[native] = (Decimal(bid), Decimal(ask))

    # --- ids ---------------------------------------------------------------------------------
    def new_oid(self) -> str:
        n = next(self._oid)
        return str(uuid.UUID(int=n)) if self._trade_style == "uuid" else str(n)

    def new_trade_id(self) -> str:
        n = next(self._tid)
        return str(uuid.UUID(int=n)) if self._trade_style == "uuid" else str(n)

    # --- reads ---------------------------------------------------------------------------------
    def find(self, coid: str = "", oid: str = "") -> PrivOrder:
        o = self.by_coid.get(coid) if coid else self.orders.get(oid)
        if o is None:
            raise EngineError("not_found", "order does not exist")
        return o

    def open_orders(self, native: str | None = None) -> list[PrivOrder]:
        return [o for o in self.orders.values() if o.is_open and (native is None or o.native == native)]

    def free(self, asset: str) -> Decimal:
        locked = ZERO
        for o in self.orders.values():
            if not o.is_open:
                continue
            m = self.markets[o.native]
            if m.derivative:
                continue
            if o.side == "BUY" and asset == m.quote and o.price is not None:
                locked += o.leaves * o.price
            elif o.side == "SELL" and asset == m.base:
                locked += o.leaves
        return self.balances.get(asset, ZERO) - locked

    # --- orders --------------------------------------------------------------------------------
    def place(self, *, coid: str, native: str, side: str, type: str, qty: Decimal, price: Decimal | None = None,
              tif: str = "GTC", trigger: Decimal | None = None, reduce_only: bool = False,
              register: Callable[[PrivOrder], Any] | None = None) -> PrivOrder:
        """`register` sees the order before anything is emitted about it (a venue's own ids)."""
        self.create_attempts[coid] += 1
        m = self.markets.get(native)
        if m is None:
            raise EngineError("invalid", f"unknown symbol {native}")
        if coid in self.by_coid:
            raise EngineError("duplicate", "duplicate client order id")
        if self.faults.refuse_creates > 0:
            self.faults.refuse_creates -= 1
            raise EngineError("insufficient", "insufficient balance")
        if qty <= 0 or (type in ("LIMIT", "STOP_LIMIT") and (price is None or price <= 0)):
            raise EngineError("invalid", "bad quantity or price")
        if not m.derivative and type in ("LIMIT", "STOP_LIMIT") and side == "BUY":
            assert price is not None
            if self.free(m.quote) < qty * price:
                raise EngineError("insufficient", "insufficient balance")
        if not m.derivative and side == "SELL" and self.free(m.base) < qty:
            raise EngineError("insufficient", "insufficient balance")
        if reduce_only:
            pos = self.positions.get(native, (ZERO, ZERO))[0]
            if not m.derivative or pos == 0 or (pos > 0) == (side == "BUY") or qty > abs(pos):
                raise EngineError("invalid", "reduce-only order would not reduce the position")
        ts = now_ms()
        o = PrivOrder(self.new_oid(), coid, native, side, type, tif, qty, price, trigger, reduce_only,
                      created_ms=ts, updated_ms=ts, seq=next(self._seq))
        top = self.tops.get(native)
        if tif == "POST_ONLY" and top is not None and price is not None and (
                (side == "BUY" and price >= top[1]) or (side == "SELL" and price <= top[0])):
            raise EngineError("post_only", "post-only order would take")
        self.orders[o.oid] = o
        self.by_coid[coid] = o
        if register is not None:
            register(o)
        if type in ("STOP_MARKET", "STOP_LIMIT"):
            o.status = "UNTRIGGERED"
            self._emit("new", o)
            return o
        self._emit("new", o)
        self._match_new(o)
        return o

    def _marketable(self, o: PrivOrder) -> Decimal | None:
        top = self.tops.get(o.native)
        if top is None:
            return None
        bid, ask = top
        if o.type in ("MARKET", "STOP_MARKET"):
            return ask if o.side == "BUY" else bid
        assert o.price is not None
        if o.side == "BUY" and o.price >= ask:
            return ask
        if o.side == "SELL" and o.price <= bid:
            return bid
        return None

    def _match_new(self, o: PrivOrder) -> None:
        px = self._marketable(o)
        if px is not None:
            self._fill(o, o.leaves, px, maker=False)
        elif o.tif in ("IOC", "FOK") or o.type in ("MARKET", "STOP_MARKET"):
            self._close(o, "EXPIRED")

    def cancel(self, coid: str = "", oid: str = "") -> PrivOrder:
        o = self.find(coid, oid)
        if not o.is_open:
            raise EngineError("not_open", "order is not open")
        self._close(o, "CANCELED")
        return o

    def cancel_all(self, native: str | None = None) -> list[PrivOrder]:
        out = self.open_orders(native)
        for o in out:
            self._close(o, "CANCELED")
        return out

    def amend(self, coid: str = "", oid: str = "", qty: Decimal | None = None, price: Decimal | None = None,
              trigger: Decimal | None = None) -> PrivOrder:
        o = self.find(coid, oid)
        if not o.is_open:
            raise EngineError("not_open", "order is not open")
        if trigger is not None and o.status != "UNTRIGGERED":
            raise EngineError("invalid", "only a stop waiting for its trigger can move it")
        if trigger is not None:
            o.trigger = trigger
        if qty is not None and qty <= o.filled:
            raise EngineError("invalid", "new quantity must exceed the filled quantity")
        if qty is not None:
            o.qty = qty
        if price is not None:
            o.price = price
        o.updated_ms = now_ms()
        self._emit("amended", o)
        px = self._marketable(o) if o.type == "LIMIT" else None
        if px is not None:
            self._fill(o, o.leaves, px, maker=False)
        return o

    def cross(self, native: str, price: str | Decimal, qty: str | Decimal | None = None) -> list[PrivFill]:
        """The market traded at `price`: resting orders it went through fill (maker, at their limit)."""
        px = Decimal(price)
        left = Decimal(qty) if qty is not None else None
        out: list[PrivFill] = []
        for o in sorted(self.open_orders(native), key=lambda o: o.seq):
            if left is not None and left <= 0:
                break
            if o.status == "UNTRIGGERED":
                assert o.trigger is not None
                if (o.side == "BUY" and px >= o.trigger) or (o.side == "SELL" and px <= o.trigger):
                    o.status = "NEW"
                    o.type = "MARKET" if o.type == "STOP_MARKET" else "LIMIT"
                    o.triggered = True
                    self._emit("triggered", o)
                else:
                    continue
            limit = o.price if o.type == "LIMIT" else px
            assert limit is not None
            if (o.side == "BUY" and px > limit) or (o.side == "SELL" and px < limit):
                continue
            q = o.leaves if left is None else min(o.leaves, left)
            out.append(self._fill(o, q, limit, maker=o.type == "LIMIT"))
            if left is not None:
                left -= q
        return out

    def fill_now(self, coid: str, qty: str | Decimal | None = None, price: str | Decimal | None = None) -> PrivFill:
        """Fill one resting order now (maker, at its limit unless `price`)."""
        o = self.find(coid)
        q = o.leaves if qty is None else Decimal(qty)
        px = Decimal(price) if price is not None else o.price
        assert px is not None and o.is_open
        return self._fill(o, q, px, maker=True)

    # --- internals --------------------------------------------------------------------------------
    def _close(self, o: PrivOrder, status: str) -> None:
        o.status = status
        o.updated_ms = now_ms()
        self._emit("canceled" if status == "CANCELED" else "expired", o)

    def _fill(self, o: PrivOrder, qty: Decimal, px: Decimal, *, maker: bool) -> PrivFill:
        m = self.markets[o.native]
        rate = self.maker_fee if maker else self.taker_fee
        fee = (qty * px * rate).quantize(FEE_Q)
        o.filled += qty
        o.quote_filled += qty * px
        o.fees += fee
        o.status = "FILLED" if o.filled >= o.qty else "PARTIALLY_FILLED"
        ts = now_ms()
        o.updated_ms = ts
        realized = ZERO
        signed = qty if o.side == "BUY" else -qty
        if m.derivative:
            realized = self._move_position(o.native, signed, px)
            self.balances[m.quote] = self.balances.get(m.quote, ZERO) + realized - fee
        else:
            self.balances[m.base] = self.balances.get(m.base, ZERO) + signed
            self.balances[m.quote] = self.balances.get(m.quote, ZERO) - signed * px - fee
        f = PrivFill(self.new_trade_id(), o, qty, px, fee, m.quote, maker, ts, next(self._seq), realized)
        self.fills.append(f)
        self._emit("trade", o, f)
        return f

    def _move_position(self, native: str, signed: Decimal, px: Decimal) -> Decimal:
        qty, avg = self.positions.get(native, (ZERO, ZERO))
        realized = ZERO
        if qty == 0 or (qty > 0) == (signed > 0):
            new = qty + signed
            avg = ((abs(qty) * avg + abs(signed) * px) / abs(new)).quantize(FEE_Q)
            qty = new
        else:
            closing = min(abs(signed), abs(qty))
            realized = closing * (px - avg) * (1 if qty > 0 else -1)
            new = qty + signed
            if new == 0:
                avg = ZERO
            elif (new > 0) != (qty > 0):
                avg = px
            qty = new
        self.positions[native] = (qty, avg)
        return realized

    def _emit(self, kind: str, o: PrivOrder, f: PrivFill | None = None) -> None:
        for listener in list(self.listeners):
            listener(kind, o, f)

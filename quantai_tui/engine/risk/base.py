"""What a pre-trade check sees and how it answers.

A check is a small class with a `name` (the one in settings' `disabled_checks` and in every
OrderDenied it causes) and `check(intent, env) -> str | None`: None to pass, or the reason with
its numbers ("notional 12000.00 > max 10000"). `on_pass` runs once every check passed (the
rate limiter counts the order there).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from quantai_tui.core.enums import OrderSide, OrderType, TimeInForce, TradingState
from quantai_tui.core.instruments import Instrument
from quantai_tui.core.values import EXACT, Price, Quantity

_ZERO = Decimal(0)

if TYPE_CHECKING:
    from quantai_tui.core.clock import Clock
    from quantai_tui.core.orders import Order
    from quantai_tui.engine.cache import Cache
    from quantai_tui.engine.portfolio import Portfolio
    from quantai_tui.settings.schema import RiskSettings


@dataclass(slots=True)
class OrderIntent:
    """An order (or an amend) as the checks see it, before it exists."""

    venue: str
    symbol: str
    side: OrderSide
    order_type: OrderType
    quantity: Quantity
    price: Price | None
    trigger_price: Price | None
    time_in_force: TimeInForce
    post_only: bool
    reduce_only: bool
    strategy_id: str
    client_order_id: str
    instrument: Instrument
    ref_price: Decimal | None = None  # what the order is valued at: its price, trigger, else the mark
    amends: Order | None = None  # the open order an amend replaces
    internal: bool = False  # a kill-switch flatten order: allowed while HALTED
    # values several checks read, computed once per order (None: not yet)
    _notional: Decimal | None = None
    _reduces: bool | None = None
    _qty: Decimal | None = None
    _position: Decimal | None = None
    _same_side: Decimal | None = None

    @property
    def sign(self) -> int:
        return 1 if self.side is OrderSide.BUY else -1

    @property
    def qty(self) -> Decimal:
        """The quantity as a Decimal (once per order)."""
        q = self._qty
        if q is None:
            raw = self.quantity
            q = self._qty = EXACT.scaleb(Decimal(raw._raw), -raw._prec)  # noqa: SLF001 - as_decimal, inline
        return q

    @property
    def notional(self) -> Decimal | None:
        """Value at the reference price (computed once: several checks read it)."""
        n = self._notional
        if n is None and self.ref_price is not None:
            # Instrument.notional(ref_price, qty), inline: the same operators, so the same value
            inst = self.instrument
            q = self.qty
            if inst.settle is not None and inst.settle == inst.base:  # inverse
                n = q * inst.contract_size / self.ref_price
            else:
                n = self.ref_price * q * inst.contract_size
            self._notional = n
        return n

    @property
    def signed_qty(self) -> Decimal:
        q = self.qty
        return q if self.side is OrderSide.BUY else -q


class RiskEnv:
    """The state checks read: market, portfolio, open orders, clock, trading state."""

    def __init__(self, settings: RiskSettings, cache: Cache, portfolio: Portfolio, clock: Clock) -> None:
        self.settings = settings
        self.cache = cache
        self.portfolio = portfolio
        self.clock = clock
        self.state = TradingState.ACTIVE
        self.tripped: list[tuple[str, str]] = []  # (check, reason) that ask to stop adding risk
        self._equity: float | None = None  # valued once per order, whichever checks need it

    def equity(self) -> float:
        eq = self._equity
        if eq is None:
            eq = self._equity = self.portfolio.equity()
        return eq

    def begin(self) -> None:
        """A new order is being checked: forget values computed for the last one."""
        self._equity = None

    def open_orders(self, venue: str | None = None, symbol: str | None = None) -> list[Order]:
        return self.cache.open_orders(venue, symbol)

    def open_order_count(self) -> int:
        return len(self.cache.open)

    def position_qty(self, venue: str, symbol: str) -> Decimal:
        return self.portfolio.position_qty(venue, symbol)

    def intent_position(self, intent: OrderIntent) -> Decimal:
        """The signed position the intent trades against (once per order)."""
        pos = intent._position
        if pos is None:
            p = self.portfolio.ledger.positions.get((intent.venue, intent.symbol))
            pos = intent._position = p.qty if p is not None else _ZERO
        return pos

    def mid(self, venue: str, symbol: str) -> float | None:
        return self.cache.mid(venue, symbol)

    def reduces(self, intent: OrderIntent) -> bool:
        """True if the order only shrinks the position it trades against (once per order)."""
        r = intent._reduces
        if r is None:
            pos = self.intent_position(intent)
            if not pos or (pos > 0) == (intent.side is OrderSide.BUY):
                r = False
            else:
                r = intent.qty <= abs(pos)
            intent._reduces = r
        return r

    def same_side_open(self, intent: OrderIntent) -> Decimal:
        """Leaves of open orders on the intent's side and symbol (an amended order excluded),
        summed once per order (several checks read it)."""
        total = intent._same_side
        if total is not None:
            return total
        total = _ZERO
        venue, symbol, side, amends = intent.venue, intent.symbol, intent.side, intent.amends
        for o in self.cache.open.values():  # the open orders, without building a filtered list
            if o.side is side and o.symbol == symbol and o.venue == venue and o is not amends:
                q, f = o.quantity, o.filled_qty
                if q._prec == f._prec:  # noqa: SLF001 - leaves_qty.as_decimal(), in integers
                    leaves = EXACT.scaleb(Decimal(q._raw - f._raw), -q._prec)  # noqa: SLF001
                else:
                    leaves = o.leaves_qty.as_decimal()
                total = EXACT.add(total, leaves)
        intent._same_side = total
        return total

    def trip(self, check: str, reason: str) -> None:
        self.tripped.append((check, reason))


class RiskCheck(Protocol):
    name: str

    def check(self, intent: OrderIntent, env: RiskEnv) -> str | None: ...

    def on_pass(self, intent: OrderIntent, env: RiskEnv) -> None: ...


class Check:
    """Base with a no-op on_pass."""

    name = "check"

    def check(self, intent: OrderIntent, env: RiskEnv) -> str | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def on_pass(self, intent: OrderIntent, env: RiskEnv) -> None:
        return None


def fmt(d: Decimal | float | int | None, places: int = 8) -> str:
    """A number for a denial reason: exact for Decimals, trimmed zeros."""
    if d is None:
        return "n/a"
    if isinstance(d, float):
        d = Decimal(repr(round(d, places)))
    s = f"{d:f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s

"""Netting positions with average-cost accounting, exact (Decimal, 60 digits).

One position per venue and symbol. A fill on the same side adds at its price (the average
entry moves); a fill on the other side closes at the average entry and realises
    linear:   closed * (exit - avg) * contract_size * sign
    inverse:  closed * contract_size * (1/avg - 1/exit) * sign      (P&L in the base currency)
and a fill larger than the position flips it: the rest opens the other way at the fill price.
Fees are kept apart (`fees`); `realized_pnl` is gross trading P&L minus fees paid in the
settlement currency. Pure logic, shared by the engine's portfolio and the paper venue's ledger.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from quantai_tui.core.enums import PositionSide
from quantai_tui.core.values import EXACT

ZERO = Decimal(0)
ONE = Decimal(1)


def product(a: Any, b: Any) -> Decimal:
    """a * b of two fixed-point values (Price, Quantity, FixedPoint) as an exact Decimal, from
    their raw integers: one Decimal made instead of two conversions and a multiplication."""
    return EXACT.scaleb(Decimal(a.raw * b.raw), -(a.precision + b.precision))


def to_raw(d: Decimal, precision: int) -> int:
    """d * 10**precision rounded half-even to an integer: a FixedPoint's raw value, without the
    digit-tuple round trip (which is slow on the 60-digit results of exact divisions)."""
    return int(EXACT.scaleb(d, precision).to_integral_value(ROUND_HALF_EVEN))


class NettingPosition:
    __slots__ = ("venue", "symbol", "qty", "cost", "gross_realized", "fees", "contract_size", "inverse",
                 "settle", "ts_opened", "ts_last", "leverage", "derivative")

    def __init__(self, venue: str, symbol: str, *, contract_size: Decimal = ONE, inverse: bool = False,
                 settle: str = "", leverage: Decimal = ONE, derivative: bool = False) -> None:
        self.venue = venue
        self.symbol = symbol
        self.qty = ZERO  # signed, in base units (contracts for derivatives)
        # linear: signed sum of qty*price at the average entry (avg = cost / qty);
        # inverse: signed sum of qty/price (avg = qty / cost)
        self.cost = ZERO
        self.gross_realized = ZERO
        self.fees = ZERO  # fees in the settlement currency
        self.contract_size = contract_size
        self.inverse = inverse
        self.settle = settle
        self.ts_opened = 0
        self.ts_last = 0
        self.leverage = leverage
        self.derivative = derivative  # margin is held only for derivatives

    # --- reading ------------------------------------------------------------------------------
    @property
    def side(self) -> PositionSide:
        return PositionSide.FLAT if not self.qty else (PositionSide.LONG if self.qty > 0 else PositionSide.SHORT)

    @property
    def is_flat(self) -> bool:
        return not self.qty

    @property
    def avg_price(self) -> Decimal:
        if not self.qty:
            return ZERO
        if self.inverse:
            return EXACT.divide(self.qty, self.cost)
        return EXACT.divide(self.cost, self.qty)

    @property
    def realized_pnl(self) -> Decimal:
        return EXACT.subtract(self.gross_realized, self.fees)

    def notional(self, mark: Decimal | float | None = None) -> Decimal:
        """Absolute value of the position at `mark` (or at the average entry)."""
        if not self.qty:
            return ZERO
        px = self.avg_price if mark is None else Decimal(repr(mark)) if isinstance(mark, float) else mark
        if self.inverse:
            return EXACT.multiply(abs(self.qty), self.contract_size)
        return EXACT.multiply(EXACT.multiply(abs(self.qty), px), self.contract_size)

    def unrealized(self, mark: float) -> float:
        """Unrealised P&L at a float mark (display and risk; the ledger never uses it)."""
        q = self.qty
        if not q or mark <= 0:
            return 0.0
        qf = float(q)
        cs = float(self.contract_size)
        if self.inverse:
            return qf * cs * (float(self.cost / q) - 1.0 / mark) if self.cost else 0.0
        return qf * cs * (mark - float(self.avg_price))

    def margin(self) -> Decimal:
        """Initial margin the position holds at its entry price."""
        if not self.qty:
            return ZERO
        return EXACT.divide(self.notional(), self.leverage)

    # --- changing -----------------------------------------------------------------------------
    def apply_fill(self, signed_qty: Decimal, price: Decimal, fee: Decimal = ZERO, ts: int = 0) -> Decimal:
        """Apply a fill (signed_qty > 0 buys); returns the gross P&L it realised. `fee` is in
        the settlement currency (0 when paid in another asset)."""
        self.fees = EXACT.add(self.fees, fee)
        self.ts_last = ts
        q = self.qty
        if not q:
            self.ts_opened = ts
        inverse = self.inverse
        if not q or (q > 0) == (signed_qty > 0):
            self.qty = EXACT.add(q, signed_qty)
            # self._cost(signed_qty, price), inline
            self.cost = EXACT.add(self.cost, EXACT.divide(signed_qty, price) if inverse
                                  else EXACT.multiply(signed_qty, price))
            return ZERO
        closing = min(abs(signed_qty), abs(q))
        sign = ONE if q > 0 else -ONE
        avg = EXACT.divide(q, self.cost) if inverse else EXACT.divide(self.cost, q)  # self.avg_price (q != 0)
        cs = self.contract_size
        if inverse:
            diff = EXACT.subtract(EXACT.divide(ONE, avg), EXACT.divide(ONE, price))
            pnl = EXACT.multiply(EXACT.multiply(sign * closing, cs), diff)
        else:
            pnl = EXACT.multiply(EXACT.multiply(sign * closing, EXACT.subtract(price, avg)), cs)
        remaining = abs(q) - closing
        if remaining:
            # the open part keeps its average entry
            self.cost = EXACT.multiply(self.cost, EXACT.divide(remaining, abs(q)))
            self.qty = sign * remaining
        else:
            self.cost = ZERO
            self.qty = ZERO
        rest = abs(signed_qty) - closing
        if rest:  # flip: the rest opens the other way at the fill price
            new_q = -sign * rest
            self.qty = new_q
            self.cost = self._cost(new_q, price)
            self.ts_opened = ts
        self.gross_realized = EXACT.add(self.gross_realized, pnl)
        return pnl

    def _cost(self, signed_qty: Decimal, price: Decimal) -> Decimal:
        if self.inverse:
            return EXACT.divide(signed_qty, price)
        return EXACT.multiply(signed_qty, price)

    def set(self, signed_qty: Decimal, avg_price: Decimal) -> None:
        """Set quantity and average entry outright (reconciliation with a venue)."""
        self.qty = signed_qty
        if not signed_qty:
            self.cost = ZERO
        elif self.inverse:
            self.cost = EXACT.divide(signed_qty, avg_price) if avg_price else ZERO
        else:
            self.cost = EXACT.multiply(signed_qty, avg_price)

    def state(self) -> tuple[object, ...]:
        return (self.venue, self.symbol, self.qty, self.cost, self.gross_realized, self.fees)

    def __repr__(self) -> str:
        return (f"NettingPosition({self.venue}:{self.symbol} {self.qty} @ {self.avg_price:.8f} "
                f"realized {self.realized_pnl})")


class Ledger:
    """Balances per venue and asset and positions per venue and symbol, exact.

    A spot fill moves the base and quote balances (and the fee's asset); a derivative fill moves
    the position and books realised P&L and fees to the settlement asset. `free` is the total
    less the margin positions hold (derivatives); open-order reservations are the risk engine's.
    """

    def __init__(self, positions: dict[tuple[str, str], NettingPosition] | None = None) -> None:
        self.balances: dict[str, dict[str, Decimal]] = {}
        self.positions: dict[tuple[str, str], NettingPosition] = positions if positions is not None else {}
        self.leverage: dict[tuple[str, str], Decimal] = {}
        self._infos: dict[int, tuple[Any, ...]] = {}  # id(instrument) -> (instrument, what a fill reads of it)

    def position(self, venue: str, symbol: str, inst: Any) -> NettingPosition:
        key = (venue, symbol)
        p = self.positions.get(key)
        if p is None:
            p = self.positions[key] = NettingPosition(
                venue, symbol, contract_size=inst.contract_size, inverse=inst.is_inverse,
                settle=inst.settle_currency, leverage=self.leverage.get(key, ONE), derivative=inst.is_derivative)
        return p

    def balance(self, venue: str, asset: str) -> Decimal:
        return self.balances.get(venue, {}).get(asset, ZERO)

    def set_balance(self, venue: str, asset: str, total: Decimal) -> None:
        self.balances.setdefault(venue, {})[asset] = total

    def add(self, venue: str, asset: str, amount: Decimal) -> None:
        b = self.balances.setdefault(venue, {})
        b[asset] = EXACT.add(b.get(asset, ZERO), amount)

    def set_leverage(self, venue: str, symbol: str, leverage: Decimal) -> None:
        self.leverage[(venue, symbol)] = leverage
        p = self.positions.get((venue, symbol))
        if p is not None:
            p.leverage = leverage

    def margin_used(self, venue: str, asset: str) -> Decimal:
        total = ZERO
        for (v, _), p in self.positions.items():
            if v == venue and p.derivative and p.qty and p.settle == asset:
                total = EXACT.add(total, p.margin())
        return total

    def free(self, venue: str, asset: str) -> Decimal:
        # balance() and margin_used(), inline (every risk-checked order reads this)
        b = self.balances.get(venue)
        total = b.get(asset, ZERO) if b is not None else ZERO
        used = ZERO
        for (v, _), p in self.positions.items():
            if v == venue and p.derivative and p.qty and p.settle == asset:
                used = EXACT.add(used, p.margin())
        return EXACT.subtract(total, used)

    def apply_fill(self, venue: str, inst: Any, signed_qty: Decimal, price: Decimal, fee: Decimal, fee_asset: str,
                   ts: int = 0) -> tuple[NettingPosition, Decimal, Decimal, tuple[str, ...]]:
        """Book one fill. Returns (position, its quantity before, gross P&L realised, assets
        whose balance changed)."""
        info = self._infos.get(id(inst))
        if info is None or info[0] is not inst:  # what a fill needs of the instrument, read once
            info = self._infos[id(inst)] = (inst, inst.symbol, inst.is_derivative, inst.settle_currency, inst.base,
                                            inst.quote)
        _, symbol, derivative, settle, base, quote = info
        p = self.positions.get((venue, symbol))
        pos = p if p is not None else self.position(venue, symbol, inst)
        before = pos.qty
        if derivative:
            fee_settle = fee if fee_asset == settle else ZERO
            pnl = pos.apply_fill(signed_qty, price, fee_settle, ts)
            self.add(venue, settle, EXACT.subtract(pnl, fee_settle))
            if fee_asset != settle and fee:
                self.add(venue, fee_asset, -fee)
                return pos, before, pnl, (settle, fee_asset)
            return pos, before, pnl, (settle,)
        # spot: the position tracks the traded base amount for P&L; balances move for real
        fee_quote = fee if fee_asset == quote else EXACT.multiply(fee, price) if fee_asset == base else ZERO
        pnl = pos.apply_fill(signed_qty, price, fee_quote, ts)
        b = self.balances.get(venue)
        if b is None:
            b = self.balances[venue] = {}
        # Ledger.add inline, three times per fill (the same operations, in the same order)
        b[base] = EXACT.add(b.get(base, ZERO), signed_qty)
        b[quote] = EXACT.add(b.get(quote, ZERO), -EXACT.multiply(signed_qty, price))
        if fee:
            b[fee_asset] = EXACT.add(b.get(fee_asset, ZERO), -fee)
        assets = (base, quote) if fee_asset in (base, quote) or not fee else (base, quote, fee_asset)
        return pos, before, pnl, assets

"""Instruments: what can be traded on a venue, with the rules prices and sizes must follow."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from quantai_tui.core.enums import InstrumentKind
from quantai_tui.core.errors import PrecisionError, ValidationError
from quantai_tui.core.symbols import parse_symbol
from quantai_tui.core.values import (
    ROUND_DOWN,
    MAX_PRECISION,
    ROUND_NEAREST,
    FixedPoint,
    Price,
    Quantity,
    decimal_places,
    to_decimal,
)


@dataclass(frozen=True, slots=True)
class Instrument:
    """A tradable instrument. `tick_size` and `lot_size` are exact; precisions follow from them.

    For derivatives `contract_size` is the base amount of one contract (1 for most linear
    perpetuals quoted in base units); notional = price * quantity * contract_size.
    """

    venue: str
    symbol: str  # ccxt unified
    kind: InstrumentKind
    base: str
    quote: str
    settle: str | None
    tick_size: Price
    lot_size: Quantity
    min_quantity: Quantity
    min_notional: Decimal = Decimal(0)
    max_quantity: Quantity | None = None
    contract_size: Decimal = Decimal(1)
    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.001")
    expiry_ns: int | None = None
    native_symbol: str = ""  # the venue's own id, e.g. BTCUSDT

    @property
    def price_precision(self) -> int:
        return self.tick_size.precision

    @property
    def size_precision(self) -> int:
        return self.lot_size.precision

    @property
    def is_inverse(self) -> bool:
        return self.settle is not None and self.settle == self.base

    @property
    def is_derivative(self) -> bool:
        return self.kind is not InstrumentKind.SPOT

    @property
    def settle_currency(self) -> str:
        return self.settle or self.quote

    # --- making values that follow the rules ------------------------------------------------
    def make_price(self, value: float | str | Decimal | FixedPoint, rounding: str = ROUND_NEAREST) -> Price:
        """A price snapped to the tick (rounding=nearest|down|up|floor|ceil)."""
        exact = _exact(value)  # one rounding only: to the tick
        return Price.from_raw(exact.raw, exact.precision).quantize(self.tick_size, rounding).with_precision(
            self.price_precision
        )

    def make_qty(self, value: float | str | Decimal | FixedPoint, rounding: str = ROUND_DOWN) -> Quantity:
        """A quantity snapped to the lot (down by default: never more than asked)."""
        exact = _exact(value)
        if exact.is_negative():
            raise ValidationError(f"{self.symbol}: a quantity cannot be negative: {exact}")
        return Quantity.from_raw(exact.raw, exact.precision).quantize(self.lot_size, rounding).with_precision(
            self.size_precision
        )

    def check_price(self, price: Price) -> None:
        """Raise PrecisionError if the price is not a multiple of the tick."""
        if price.quantize(self.tick_size, ROUND_DOWN) != price:
            raise PrecisionError(f"{self.symbol}: price {price} is not a multiple of tick {self.tick_size}")

    def check_qty(self, qty: Quantity) -> None:
        if qty.quantize(self.lot_size, ROUND_DOWN) != qty:
            raise PrecisionError(f"{self.symbol}: quantity {qty} is not a multiple of lot {self.lot_size}")
        if qty < self.min_quantity:
            raise ValidationError(f"{self.symbol}: quantity {qty} is below the minimum {self.min_quantity}")
        if self.max_quantity is not None and qty > self.max_quantity:
            raise ValidationError(f"{self.symbol}: quantity {qty} is above the maximum {self.max_quantity}")

    def notional(self, price: Price | Decimal, qty: Quantity | Decimal) -> Decimal:
        """Exact value in the quote currency (base currency for inverse contracts)."""
        p, q = to_decimal(price), to_decimal(qty)
        if self.is_inverse:
            return q * self.contract_size / p
        return p * q * self.contract_size

    def check_notional(self, price: Price, qty: Quantity) -> None:
        if self.min_notional and self.notional(price, qty) < self.min_notional:
            raise ValidationError(
                f"{self.symbol}: notional {self.notional(price, qty)} is below the minimum {self.min_notional}"
            )


def _exact(value: float | str | Decimal | FixedPoint) -> FixedPoint:
    """The value as written (a float by its shortest repr), without rounding where possible."""
    if isinstance(value, FixedPoint):
        return value
    d = to_decimal(value)
    places = decimal_places(d)
    if places <= MAX_PRECISION:
        return FixedPoint(d, places)
    return FixedPoint.from_decimal(d, MAX_PRECISION, ROUND_NEAREST)


def make_instrument(
    venue: str,
    symbol: str,
    tick_size: str | Decimal,
    lot_size: str | Decimal,
    *,
    min_quantity: str | Decimal | None = None,
    min_notional: str | Decimal = "0",
    max_quantity: str | Decimal | None = None,
    contract_size: str | Decimal = "1",
    maker_fee: str | Decimal = "0.001",
    taker_fee: str | Decimal = "0.001",
    native_symbol: str = "",
) -> Instrument:
    """Build an instrument from a symbol in any accepted spelling and its tick and lot sizes."""
    info = parse_symbol(symbol)
    tick = to_decimal(tick_size)
    lot = to_decimal(lot_size)
    if tick <= 0 or lot <= 0:
        raise ValidationError(f"{symbol}: tick and lot size must be positive")
    tick_p = Price(tick.normalize(), decimal_places(tick.normalize()))
    lot_q = Quantity(lot.normalize(), decimal_places(lot.normalize()))
    expiry_ns = None
    if info.expiry is not None:
        from datetime import UTC, datetime, time

        expiry_ns = int(datetime.combine(info.expiry, time(8), tzinfo=UTC).timestamp()) * 1_000_000_000
    return Instrument(
        venue=venue,
        symbol=info.unified,
        kind=info.kind,
        base=info.base,
        quote=info.quote,
        settle=info.settle,
        tick_size=tick_p,
        lot_size=lot_q,
        min_quantity=Quantity(to_decimal(min_quantity), lot_q.precision) if min_quantity is not None else lot_q,
        min_notional=to_decimal(min_notional),
        max_quantity=Quantity(to_decimal(max_quantity), lot_q.precision) if max_quantity is not None else None,
        contract_size=to_decimal(contract_size),
        maker_fee=to_decimal(maker_fee),
        taker_fee=to_decimal(taker_fee),
        expiry_ns=expiry_ns,
        native_symbol=native_symbol or info.unified.replace("/", "").split(":")[0],
    )

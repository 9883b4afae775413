"""Exact money values: Price, Quantity and Money as fixed-point integers.

A value is an integer `raw` scaled by 10**precision: Price("30012.50") is raw=3001250 with
precision 2. Sums and differences stay integers (no float drift in the ledger); products and
quotients return Decimal computed in a 60-digit context, which is exact for any price times
quantity we meet. Floats enter only through `from_float`, which rounds to the precision: a float
parsed from an exchange's decimal string of <= 15 significant digits comes back exactly.
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Self

from quantai_tui.core.errors import PrecisionError, ValidationError

MAX_PRECISION = 18
_new = object.__new__
_POW10 = tuple(10**i for i in range(MAX_PRECISION + 1))
# Wide enough that a product of two values at MAX_PRECISION never rounds.
EXACT = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_EVEN, traps=[decimal.InvalidOperation])

ROUND_NEAREST = "nearest"
ROUND_DOWN = "down"  # toward zero
ROUND_UP = "up"  # away from zero
ROUND_FLOOR = "floor"
ROUND_CEIL = "ceil"


def _div_round(n: int, d: int, mode: str) -> int:
    """n / d rounded to an integer by `mode`; d > 0."""
    q, r = divmod(n, d)  # floor division
    if r == 0:
        return q
    if mode == ROUND_FLOOR:
        return q
    if mode == ROUND_CEIL:
        return q + 1
    if mode == ROUND_DOWN:
        return q if n >= 0 else q + 1
    if mode == ROUND_UP:
        return q + 1 if n >= 0 else q
    if mode == ROUND_NEAREST:  # half to even, like round()
        twice = 2 * r
        if twice > d or (twice == d and q % 2 == 1):
            return q + 1
        return q
    raise ValueError(f"unknown rounding mode {mode!r}")


def decimal_places(value: Decimal) -> int:
    """Places as written: '30012.50' has 2."""
    exp = value.as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


def to_decimal(value: object) -> Decimal:
    """A Decimal from a str, int, Decimal or fixed value; floats go through their shortest repr."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, FixedPoint):
        return value.as_decimal()
    if isinstance(value, bool):
        raise ValidationError(f"not a number: {value!r}")
    if isinstance(value, (int, str)):
        try:
            d = Decimal(value.strip() if isinstance(value, str) else value)
        except decimal.InvalidOperation:
            raise ValidationError(f"not a number: {value!r}") from None
        if not d.is_finite():
            raise ValidationError(f"not a finite number: {value!r}")
        return d
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValidationError(f"not a finite number: {value!r}")
        return Decimal(repr(value))
    raise ValidationError(f"not a number: {value!r}")


class FixedPoint:
    """An exact decimal with a fixed number of places. Immutable; compare and hash by value."""

    __slots__ = ("_raw", "_prec")
    _raw: int
    _prec: int

    def __init__(self, value: str | int | Decimal | FixedPoint, precision: int | None = None) -> None:
        if isinstance(value, float):
            raise TypeError(f"{type(self).__name__}: use from_float(value, precision) for floats (it rounds)")
        if type(value) is str:
            parsed = _parse_plain(value)
            if parsed is not None:  # fast path for plain decimal text such as "30012.50"
                raw, places = parsed
                prec = places if precision is None else precision
                if not 0 <= prec <= MAX_PRECISION:
                    raise PrecisionError(f"precision must be 0..{MAX_PRECISION}, got {prec}")
                if prec >= places:
                    raw *= _POW10[prec - places]
                else:
                    raw, rest = divmod(raw, _POW10[places - prec])
                    if rest:
                        raise PrecisionError(f"{value} has more than {prec} decimal places")
                self._raw = raw
                self._prec = prec
                self._check()
                return
        d = to_decimal(value)
        prec = decimal_places(d) if precision is None else precision
        if not 0 <= prec <= MAX_PRECISION:
            raise PrecisionError(f"precision must be 0..{MAX_PRECISION}, got {prec}")
        scaled = d.scaleb(prec, EXACT)
        raw = int(scaled)
        if raw != scaled:
            raise PrecisionError(f"{value} has more than {prec} decimal places")
        self._raw = raw
        self._prec = prec
        self._check()

    def _check(self) -> None:
        """Subclasses refuse values they cannot hold."""

    @classmethod
    def from_raw(cls, raw: int, precision: int) -> Self:
        obj = object.__new__(cls)
        obj._raw = raw
        obj._prec = precision
        obj._check()
        return obj

    @classmethod
    def from_float(cls, value: float, precision: int, rounding: str = ROUND_NEAREST) -> Self:
        if value != value or value in (float("inf"), float("-inf")):
            raise ValidationError(f"not a finite number: {value!r}")
        if rounding == ROUND_NEAREST:
            scaled = value * _POW10[precision]
            # below 1e15 the float product is within 0.25 of the exact one, so round() is exact;
            # beyond it (a float has 53 bits) the shortest repr is the value as written
            if -1e15 < scaled < 1e15:
                return cls.from_raw(round(scaled), precision)
        return cls.from_decimal(Decimal(repr(value)), precision, rounding)

    @classmethod
    def from_decimal(cls, value: Decimal | str | int, precision: int, rounding: str = ROUND_NEAREST) -> Self:
        d = to_decimal(value)
        num, exp = _as_fraction(d)
        # value * 10**precision = num * 10**(exp + precision)
        shift = exp + precision
        raw = num * _pow10(shift) if shift >= 0 else _div_round(num, _pow10(-shift), rounding)
        return cls.from_raw(raw, precision)

    @property
    def raw(self) -> int:
        return self._raw

    @property
    def precision(self) -> int:
        return self._prec

    def as_decimal(self) -> Decimal:
        return Decimal(self._raw).scaleb(-self._prec, EXACT)

    def as_double(self) -> float:
        return self._raw / _POW10[self._prec]

    def __float__(self) -> float:
        return self._raw / _POW10[self._prec]

    def __int__(self) -> int:
        # toward zero, like int(Decimal), in integers: a float quotient rounds 0.999...9 up to 1
        if not self._prec:
            return self._raw
        q = abs(self._raw) // _POW10[self._prec]
        return q if self._raw >= 0 else -q

    def __bool__(self) -> bool:
        return self._raw != 0

    def is_zero(self) -> bool:
        return self._raw == 0

    def is_negative(self) -> bool:
        return self._raw < 0

    def is_positive(self) -> bool:
        return self._raw > 0

    def __str__(self) -> str:
        raw, p = self._raw, self._prec
        if p == 0:
            return str(raw)
        if raw < 0:
            t = str(-raw).rjust(p + 1, "0")
            return f"-{t[:-p]}.{t[-p:]}"
        t = str(raw).rjust(p + 1, "0")
        return f"{t[:-p]}.{t[-p:]}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}('{self}')"

    def __format__(self, spec: str) -> str:
        if not spec:
            return str(self)
        return format(self.as_decimal(), spec)

    # --- comparison and hashing, by value --------------------------------------------------
    def _cmp_key(self, other: object) -> tuple[int, int] | None:
        """(self scaled, other scaled) at a common precision, or None if not comparable."""
        if isinstance(other, FixedPoint):
            p = max(self._prec, other._prec)
            return self._raw * _POW10[p - self._prec], other._raw * _POW10[p - other._prec]
        if isinstance(other, int) and not isinstance(other, bool):
            return self._raw, other * _POW10[self._prec]
        if isinstance(other, Decimal):
            num, exp = _as_fraction(other)
            # compare raw/10**p with num*10**exp, all scaled to integers
            if exp >= -self._prec:
                return self._raw, num * _pow10(exp + self._prec)
            return self._raw * _pow10(-exp - self._prec), num
        return None

    def __eq__(self, other: object) -> bool:
        if type(other) is type(self) and other._prec == self._prec:  # type: ignore[attr-defined]
            return self._raw == other._raw  # type: ignore[attr-defined]
        k = self._cmp_key(other)
        return NotImplemented if k is None else k[0] == k[1]

    def __lt__(self, other: object) -> bool:
        k = self._cmp_key(other)
        return NotImplemented if k is None else k[0] < k[1]

    def __le__(self, other: object) -> bool:
        k = self._cmp_key(other)
        return NotImplemented if k is None else k[0] <= k[1]

    def __gt__(self, other: object) -> bool:
        k = self._cmp_key(other)
        return NotImplemented if k is None else k[0] > k[1]

    def __ge__(self, other: object) -> bool:
        k = self._cmp_key(other)
        return NotImplemented if k is None else k[0] >= k[1]

    def __hash__(self) -> int:
        # Equal values hash equal across precisions (and with equal ints/Decimals).
        return hash(self.as_decimal())

    # --- arithmetic -------------------------------------------------------------------------
    def _same(self, other: object) -> tuple[int, int, int] | None:
        if type(other) is type(self):
            p = max(self._prec, other._prec)  # type: ignore[attr-defined]
            return (
                self._raw * _POW10[p - self._prec],
                other._raw * _POW10[p - other._prec],  # type: ignore[attr-defined]
                p,
            )
        if isinstance(other, int) and not isinstance(other, bool):
            return self._raw, other * _POW10[self._prec], self._prec
        return None

    def __add__(self, other: object) -> Self | Decimal:
        s = self._same(other)
        if s is not None:
            return self.from_raw(s[0] + s[1], s[2])
        if isinstance(other, (Decimal, FixedPoint)):
            return EXACT.add(self.as_decimal(), to_decimal(other))
        return NotImplemented

    __radd__ = __add__

    def __sub__(self, other: object) -> Self | Decimal:
        s = self._same(other)
        if s is not None:
            return self.from_raw(s[0] - s[1], s[2])
        if isinstance(other, (Decimal, FixedPoint)):
            return EXACT.subtract(self.as_decimal(), to_decimal(other))
        return NotImplemented

    def __rsub__(self, other: object) -> Self | Decimal:
        s = self._same(other)
        if s is not None:
            return self.from_raw(s[1] - s[0], s[2])
        if isinstance(other, (Decimal, FixedPoint)):
            return EXACT.subtract(to_decimal(other), self.as_decimal())
        return NotImplemented

    def __mul__(self, other: object) -> Self | Decimal:
        if isinstance(other, int) and not isinstance(other, bool):
            return self.from_raw(self._raw * other, self._prec)
        if isinstance(other, (Decimal, FixedPoint)):
            return EXACT.multiply(self.as_decimal(), to_decimal(other))
        return NotImplemented

    __rmul__ = __mul__

    def __truediv__(self, other: object) -> Decimal:
        if isinstance(other, (int, Decimal, FixedPoint)) and not isinstance(other, bool):
            return EXACT.divide(self.as_decimal(), to_decimal(other))
        return NotImplemented

    def __neg__(self) -> Self:
        return self.from_raw(-self._raw, self._prec)

    def __abs__(self) -> Self:
        return self if self._raw >= 0 else self.from_raw(-self._raw, self._prec)

    def quantize(self, increment: FixedPoint | Decimal | str, rounding: str = ROUND_NEAREST) -> Self:
        """This value snapped to a multiple of `increment` (a tick or lot size)."""
        inc = increment if isinstance(increment, FixedPoint) else FixedPoint(to_decimal(increment))
        p = max(self._prec, inc._prec)
        raw = self._raw * _POW10[p - self._prec]
        step = inc._raw * _POW10[p - inc._prec]
        if step <= 0:
            raise PrecisionError(f"increment must be positive, got {inc}")
        snapped = _div_round(raw, step, rounding) * step
        return self.from_raw(snapped, p).with_precision(max(self._prec, inc._prec))

    def with_precision(self, precision: int, rounding: str = ROUND_NEAREST) -> Self:
        if precision == self._prec:
            return self
        if precision > self._prec:
            return self.from_raw(self._raw * _POW10[precision - self._prec], precision)
        return self.from_raw(_div_round(self._raw, _POW10[self._prec - precision], rounding), precision)

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (type(self), (str(self),))


def _parse_plain(text: str) -> tuple[int, int] | None:
    """'-30012.50' -> (-3001250, 2); None for anything not plain digits[.digits]."""
    t = text.strip()
    whole, _, frac = t.partition(".")
    digits = whole[1:] if whole[:1] in ("-", "+") else whole
    if not (digits.isdigit() or (digits == "" and frac)) or not (frac == "" or frac.isdigit()):
        return None
    if not digits.isascii() or not frac.isascii() or len(frac) > MAX_PRECISION:
        return None
    return int((whole if digits else whole + "0") + frac), len(frac)


def _pow10(n: int) -> int:
    return _POW10[n] if n <= MAX_PRECISION else 10**n


def _as_fraction(d: Decimal) -> tuple[int, int]:
    """(num, exp) with d == num * 10**exp exactly."""
    sign, digits, exp = d.as_tuple()
    if not isinstance(exp, int):
        raise ValidationError(f"not a finite number: {d}")
    num = int("".join(map(str, digits)) or "0")
    return (-num if sign else num), exp


class Price(FixedPoint):
    """A price in quote currency. May be negative (spreads, some derivatives)."""

    __slots__ = ()

    @classmethod
    def from_raw(cls, raw: int, precision: int) -> Self:
        # hot path (every fill): a Price holds any value, so no _check call
        obj = _new(cls)
        obj._raw = raw
        obj._prec = precision
        if cls is not Price:
            obj._check()
        return obj


class Quantity(FixedPoint):
    """An order or trade size in base units (or contracts). Never negative."""

    __slots__ = ()

    def _check(self) -> None:
        if self._raw < 0:
            raise ValidationError(f"a quantity cannot be negative: {self}")

    @classmethod
    def from_raw(cls, raw: int, precision: int) -> Self:
        # hot path (every fill): the negative check inline instead of a _check call
        obj = _new(cls)
        obj._raw = raw
        obj._prec = precision
        if raw < 0 or cls is not Quantity:
            obj._check()
        return obj

    def __neg__(self) -> Decimal:  # type: ignore[override]
        return -self.as_decimal()


class Money:
    """An exact amount in a currency. Arithmetic only between the same currency."""

    __slots__ = ("_amount", "_currency")

    def __init__(self, amount: str | int | Decimal | FixedPoint, currency: str, precision: int | None = None) -> None:
        if isinstance(amount, float):
            raise TypeError("Money: use Money.from_float(value, currency, precision) for floats")
        self._amount = FixedPoint(to_decimal(amount), precision)
        self._currency = currency

    @classmethod
    def from_float(cls, amount: float, currency: str, precision: int) -> Money:
        return cls.of(FixedPoint.from_float(amount, precision), currency)

    @classmethod
    def of_raw(cls, raw: int, precision: int, currency: str) -> Money:
        """Money of raw * 10**-precision (the fill model's fees: no intermediate objects)."""
        amount = _new(FixedPoint)
        amount._raw = raw
        amount._prec = precision
        obj = _new(cls)
        obj._amount = amount
        obj._currency = currency
        return obj

    @classmethod
    def of(cls, amount: FixedPoint, currency: str) -> Money:
        obj = object.__new__(cls)
        obj._amount = amount if type(amount) is FixedPoint else FixedPoint.from_raw(amount.raw, amount.precision)
        obj._currency = currency
        return obj

    @classmethod
    def from_decimal(cls, amount: Decimal, currency: str, precision: int, rounding: str = ROUND_NEAREST) -> Money:
        return cls.of(FixedPoint.from_decimal(amount, precision, rounding), currency)

    @property
    def amount(self) -> FixedPoint:
        return self._amount

    @property
    def currency(self) -> str:
        return self._currency

    @property
    def precision(self) -> int:
        return self._amount.precision

    def as_decimal(self) -> Decimal:
        return self._amount.as_decimal()

    def __float__(self) -> float:
        return float(self._amount)

    def _other(self, other: object) -> FixedPoint:
        if isinstance(other, Money):
            if other._currency != self._currency:
                raise ValidationError(f"cannot mix {self._currency} and {other._currency}")
            return other._amount
        raise TypeError(f"Money arithmetic needs Money, got {type(other).__name__}")

    def __add__(self, other: object) -> Money:
        return Money.of(self._amount + self._other(other), self._currency)  # type: ignore[arg-type]

    def __sub__(self, other: object) -> Money:
        return Money.of(self._amount - self._other(other), self._currency)  # type: ignore[arg-type]

    def __neg__(self) -> Money:
        return Money.of(-self._amount, self._currency)

    def __mul__(self, k: int) -> Money:
        if not isinstance(k, int) or isinstance(k, bool):
            return NotImplemented
        return Money.of(self._amount * k, self._currency)  # type: ignore[arg-type]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        return self._currency == other._currency and self._amount == other._amount

    def __lt__(self, other: Money) -> bool:
        return self._amount < self._other(other)

    def __le__(self, other: Money) -> bool:
        return self._amount <= self._other(other)

    def __gt__(self, other: Money) -> bool:
        return self._amount > self._other(other)

    def __ge__(self, other: Money) -> bool:
        return self._amount >= self._other(other)

    def __hash__(self) -> int:
        return hash((self._amount, self._currency))

    def __str__(self) -> str:
        return self._amount.__str__() + " " + self._currency

    def __repr__(self) -> str:
        return f"Money('{self._amount}', '{self._currency}')"

    @classmethod
    def parse(cls, text: str) -> Money:
        """The inverse of str(): '123.45 USDT'."""
        try:
            amount, currency = text.rsplit(" ", 1)
        except ValueError:
            raise ValidationError(f"not a money value: {text!r}") from None
        return cls(amount, currency)

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (Money.parse, (str(self),))


#: the zero Quantity of each precision (immutable, so shared: an order's filled quantity at birth)
ZERO_QUANTITIES: tuple[Quantity, ...] = tuple(Quantity.from_raw(0, p) for p in range(MAX_PRECISION + 1))

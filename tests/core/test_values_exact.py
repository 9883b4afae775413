"""Exact values beyond the basics: conversions that must not go through a lossy float (int(),
from_float at large magnitudes), mixed arithmetic and what it refuses (floats never sneak into
exact sums), formatting, pickling, and Money's full surface."""

from __future__ import annotations

import pickle
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantai_tui.core.errors import PrecisionError, ValidationError
from quantai_tui.core.values import ROUND_DOWN, ROUND_UP, FixedPoint, Money, Price, Quantity, to_decimal


# --- conversions that must stay exact ------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("0.999999999999999999", 0),  # 18 places (token amounts): not rounded up to 1
    ("-0.999999999999999999", 0),
    ("99999999.999999999", 99_999_999),
    ("12345678901234567.89", 12_345_678_901_234_567),  # beyond a float's 53 bits
    ("-2.7", -2),
    ("7", 7),
])
def test_int_truncates_toward_zero_exactly(text: str, expected: int) -> None:
    assert int(Price(text)) == expected == int(Decimal(text))


@given(st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1), st.integers(min_value=0, max_value=15),
       st.integers(min_value=0, max_value=3))
def test_floats_of_up_to_15_significant_digits_come_back_exactly_at_any_magnitude(digits: int, places: int,
                                                                                  extra: int) -> None:
    d = Decimal(digits).scaleb(-places)  # <= 15 significant digits, as an exchange writes them
    precision = min(18, places + extra)
    assert Price.from_float(float(str(d)), precision).as_decimal() == d


def test_a_15_digit_price_at_eight_places_is_not_disturbed_by_the_float_product() -> None:
    assert Price.from_float(123456789012.345, 8) == Price("123456789012.345")
    assert str(Price.from_float(100000000000000.5, 3)) == "100000000000000.500"


def test_from_float_rounds_as_asked() -> None:
    assert Price.from_float(1.29, 1, ROUND_DOWN) == Price("1.2")
    assert Price.from_float(-1.21, 1, ROUND_UP) == Price("-1.3")
    with pytest.raises(ValidationError, match="not a finite number"):
        Price.from_float(float("nan"), 2)


# --- arithmetic across types ---------------------------------------------------------------------------------
def test_mixed_arithmetic_keeps_exactness() -> None:
    p = Price("1.5")
    assert p + Decimal("0.25") == Decimal("1.75") and isinstance(p + Decimal("0.25"), Decimal)
    assert p + 1 == Price("2.5") and 1 + p == Price("2.5")
    assert 3 - p == Price("1.5") and isinstance(3 - p, Price)
    assert Decimal("3") - p == Decimal("1.5")
    assert p - Decimal("0.5") == Decimal("1.0")
    assert p * 2 == Price("3.0") and isinstance(p * 2, Price)
    assert p * Decimal("2") == Decimal("3.0")
    assert p / 3 == Decimal("0.5") and p / Price("0.5") == Decimal("3")
    assert -p == Price("-1.5") and abs(-p) == p and abs(p) is p
    assert -Quantity("1.5") == Decimal("-1.5")  # a negative quantity does not exist: a Decimal
    assert Price("1.5") + Quantity("1") == Decimal("2.5")  # different kinds: a Decimal, not one of them


@pytest.mark.parametrize("other", [1.5, "1", None, True])
def test_floats_strings_and_bools_are_refused_in_arithmetic(other: object) -> None:
    p = Price("1.5")
    for op in (lambda: p + other, lambda: p - other, lambda: other - p, lambda: p * other, lambda: p / other):
        with pytest.raises(TypeError):
            op()


def test_comparisons_with_things_that_are_not_numbers() -> None:
    p = Price("1.5")
    assert (p == "1.5") is False and p != "1.5"
    for op in (lambda: p < "2", lambda: p <= 2.0, lambda: p > None, lambda: p >= "x"):
        with pytest.raises(TypeError):
            op()
    assert Price("1.5") < Decimal("1.51") and Price("1.5") >= Decimal("1.5") and Price("2") > 1 and Price("1") <= 1
    assert Price("1.5") > Decimal("1.4999999999999999999999")  # more places than the price has


def test_predicates_conversions_and_formatting() -> None:
    assert Price("0").is_zero() and not Price("0") and Price("0.01")
    assert Price("-1").is_negative() and Price("1").is_positive() and not Price("0").is_positive()
    assert float(Price("1.25")) == 1.25 == Price("1.25").as_double()
    assert f"{Price('1.5')}" == "1.5" and f"{Price('1.5'):.3f}" == "1.500" and f"{Price('1234.5'):,}" == "1,234.5"
    assert repr(Quantity("0.010")) == "Quantity('0.010')"
    assert str(Price("-0.05")) == "-0.05" and str(Price("7")) == "7"


@pytest.mark.parametrize("value", [Price("30012.50"), Quantity("0.00100"), Money("0.30", "USDT")])
def test_values_pickle_with_their_precision(value: object) -> None:
    back = pickle.loads(pickle.dumps(value))
    assert back == value and str(back) == str(value) and type(back) is type(value)


def test_parsing_spellings_and_precision_limits() -> None:
    assert Price("+1.5") == Price("1.5") and Price(".5") == Price("0.5") and Price("-.5") == Price("-0.5")
    assert Price("1e3") == Price("1000") and Price(" 2.50 ").precision == 2
    assert Price(Decimal("1.5"), 3).precision == 3 and Price(Price("1.5")).precision == 1
    with pytest.raises(PrecisionError, match="precision must be 0..18, got 19"):
        Price("1", 19)
    with pytest.raises(PrecisionError, match="precision must be 0..18"):
        Price(Decimal("1"), 19)
    with pytest.raises(PrecisionError, match="more than 2 decimal places"):
        Price(Decimal("1.234"), 2)
    with pytest.raises(ValidationError, match="not a number"):
        to_decimal(object())
    with pytest.raises(ValidationError, match="not a finite number"):
        to_decimal(float("inf"))


def test_quantize_and_precision_changes() -> None:
    assert Price("2.74").quantize(Decimal("0.5")) == Price("2.5")
    assert Price("2.76").quantize(Price("0.5")) == Price("3.0")
    with pytest.raises(PrecisionError, match="increment must be positive"):
        Price("1").quantize("0")
    with pytest.raises(ValueError, match="unknown rounding mode 'sideways'"):
        Price("1.25").with_precision(1, "sideways")
    p = Price("1.5")
    assert p.with_precision(1) is p and str(p.with_precision(3)) == "1.500"


# --- Money ---------------------------------------------------------------------------------------------------
def test_money_constructors() -> None:
    assert Money.of_raw(150, 2, "USDT") == Money("1.50", "USDT")
    assert Money.from_decimal(Decimal("1.255"), "USDT", 2) == Money("1.26", "USDT")  # half to even
    assert Money.from_float(0.1 + 0.2, "USDT", 2) == Money("0.30", "USDT")
    assert Money.of(Price("2.5"), "BTC").amount == Decimal("2.5")
    assert Money("1", "USDT", 4).precision == 4 and Money("1", "USDT").currency == "USDT"
    with pytest.raises(TypeError, match="Money.from_float"):
        Money(1.5, "USDT")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="not a money value: '12'"):
        Money.parse("12")


def test_money_arithmetic_and_ordering_stay_in_one_currency() -> None:
    a, b = Money("10.10", "USDT"), Money("0.2", "USDT")
    assert a - b == Money("9.90", "USDT") and -b == Money("-0.2", "USDT") and b * 3 == Money("0.6", "USDT")
    assert b < a and b <= a and a > b and a >= a and float(a) == 10.1 and a.as_decimal() == Decimal("10.10")
    assert Money("1.0", "USDT") == Money("1.00", "USDT") and hash(Money("1.0", "USDT")) == hash(Money("1.00", "USDT"))
    assert Money("1", "USDT") != Money("1", "BTC") and (Money("1", "USDT") == 1) is False
    assert repr(a) == "Money('10.10', 'USDT')"
    with pytest.raises(ValidationError, match="cannot mix USDT and BTC"):
        a < Money("1", "BTC")  # noqa: B015
    with pytest.raises(TypeError, match="Money arithmetic needs Money, got int"):
        a + 1
    with pytest.raises(TypeError):
        a * 1.5  # type: ignore[operator]
    with pytest.raises(TypeError):
        a * True  # type: ignore[operator]
    assert isinstance(Money("1", "USDT").amount, FixedPoint)

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantai_tui.core.errors import PrecisionError, ValidationError
from quantai_tui.core.values import (
    ROUND_CEIL,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_NEAREST,
    ROUND_UP,
    FixedPoint,
    Money,
    Price,
    Quantity,
)

precisions = st.integers(min_value=0, max_value=12)
raws = st.integers(min_value=-(10**15), max_value=10**15)


@st.composite
def prices(draw: st.DrawFn) -> Price:
    return Price.from_raw(draw(raws), draw(precisions))


@given(prices(), prices())
def test_sum_and_difference_are_exact(a: Price, b: Price) -> None:
    assert (a + b).as_decimal() == a.as_decimal() + b.as_decimal()
    assert (a - b).as_decimal() == a.as_decimal() - b.as_decimal()
    assert (a + b).precision == max(a.precision, b.precision)


@given(prices(), prices())
def test_product_is_exact(a: Price, b: Price) -> None:
    # compared as fractions: Decimal's default 28-digit context would itself round
    assert Fraction(a * b) == Fraction(a.as_decimal()) * Fraction(b.as_decimal())


@given(prices())
def test_str_round_trips(a: Price) -> None:
    b = Price(str(a))
    assert b == a and b.precision == a.precision and b.raw == a.raw


@given(prices(), prices())
def test_ordering_and_hash_follow_the_decimal_value(a: Price, b: Price) -> None:
    da, db = a.as_decimal(), b.as_decimal()
    assert (a < b) == (da < db)
    assert (a == b) == (da == db)
    if a == b:
        assert hash(a) == hash(b)


@given(st.decimals(min_value=Decimal("-9999999.99999999"), max_value=Decimal("9999999.99999999"), places=8, allow_nan=False, allow_infinity=False))
def test_floats_from_decimal_strings_come_back_exactly(d: Decimal) -> None:
    # <= 15 significant digits: the float parsed from the exchange's text converts back exactly
    assert Price.from_float(float(str(d)), 8).as_decimal() == d


def test_equal_values_at_different_precisions() -> None:
    assert Price("1.50") == Price("1.5") == Decimal("1.5")
    assert hash(Price("1.50")) == hash(Price("1.5")) == hash(Decimal("1.5"))
    assert Price("2") == 2
    assert Price("30012.50").precision == 2
    assert str(Price("30012.50")) == "30012.50"


def test_too_many_places_for_the_precision_is_an_error() -> None:
    with pytest.raises(PrecisionError):
        Price("1.234", 2)


def test_floats_need_an_explicit_conversion() -> None:
    with pytest.raises(TypeError):
        Price(1.5)  # type: ignore[arg-type]
    assert Price.from_float(0.1 + 0.2, 2) == Price("0.30")


def test_quantity_is_never_negative() -> None:
    with pytest.raises(ValidationError):
        Quantity("-1")
    with pytest.raises(ValidationError):
        Quantity("1") - Quantity("2")


@pytest.mark.parametrize(
    ("value", "mode", "expected"),
    [
        ("1.25", ROUND_NEAREST, "1.2"),  # half to even
        ("1.35", ROUND_NEAREST, "1.4"),
        ("1.29", ROUND_DOWN, "1.2"),
        ("-1.29", ROUND_DOWN, "-1.2"),
        ("1.21", ROUND_UP, "1.3"),
        ("-1.21", ROUND_UP, "-1.3"),
        ("-1.21", ROUND_FLOOR, "-1.3"),
        ("-1.29", ROUND_CEIL, "-1.2"),
    ],
)
def test_rounding_modes(value: str, mode: str, expected: str) -> None:
    assert str(Price(value).with_precision(1, mode)) == expected


def test_quantize_to_a_tick_that_is_not_a_power_of_ten() -> None:
    assert Price("30012.74").quantize("0.5") == Price("30012.5")
    assert Price("30012.76").quantize("0.5") == Price("30013.0")
    assert Price("30012.76").quantize("0.5", ROUND_FLOOR) == Price("30012.5")


def test_money_is_exact_and_refuses_mixed_currencies() -> None:
    m = Money("10.10", "USDT") + Money("0.20", "USDT")
    assert m == Money("10.30", "USDT")
    assert str(m) == "10.30 USDT"
    assert Money.parse(str(m)) == m
    with pytest.raises(ValidationError):
        Money("1", "USDT") + Money("1", "BTC")


def test_non_numbers_are_clear_errors() -> None:
    for bad in ("abc", "nan", "inf", True):
        with pytest.raises(ValidationError):
            FixedPoint(bad)  # type: ignore[arg-type]

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantai_tui.core.errors import PrecisionError, ValidationError
from quantai_tui.core.instruments import make_instrument
from quantai_tui.core.values import Price, Quantity

BTC = make_instrument("binance", "BTC/USDT", "0.01", "0.00001", min_notional="5")
PERP = make_instrument("bybit", "BTC/USDT:PERP", "0.5", "0.001")


def test_precisions_follow_tick_and_lot() -> None:
    assert BTC.price_precision == 2 and BTC.size_precision == 5
    assert PERP.symbol == "BTC/USDT:USDT" and PERP.price_precision == 1


@given(st.floats(min_value=1, max_value=1e6, allow_nan=False))
def test_make_price_lands_on_the_tick(x: float) -> None:
    p = BTC.make_price(x)
    BTC.check_price(p)
    assert abs(p.as_decimal() - Decimal(repr(x))) <= Decimal("0.005")


@given(st.floats(min_value=0, max_value=1000, allow_nan=False))
def test_make_qty_never_exceeds_what_was_asked(x: float) -> None:
    q = BTC.make_qty(x)
    assert q.as_decimal() <= Decimal(repr(x))
    assert Decimal(repr(x)) - q.as_decimal() < Decimal("0.00001")


def test_rounding_happens_once() -> None:
    # 30012.01499 rounds to 30012.01, not 30012.02 (no double rounding through extra places)
    assert BTC.make_price(30012.01499) == Price("30012.01")
    assert PERP.make_price(30012.74) == Price("30012.5")
    assert PERP.make_price(30012.76) == Price("30013.0")


def test_checks_name_the_rule() -> None:
    with pytest.raises(PrecisionError, match="tick"):
        BTC.check_price(Price("1.005"))
    with pytest.raises(PrecisionError, match="lot"):
        BTC.check_qty(Quantity("0.000001"))
    with pytest.raises(ValidationError, match="notional"):
        BTC.check_notional(Price("100"), Quantity("0.01"))


def test_inverse_notional_is_in_base() -> None:
    inv = make_instrument("x", "BTC/USD:BTC", "0.5", "1", contract_size="100")
    assert inv.is_inverse
    assert inv.notional(Price("50000"), Quantity("10")) == Decimal("0.02")

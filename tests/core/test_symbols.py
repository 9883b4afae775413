from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantai_tui.core.enums import InstrumentKind
from quantai_tui.core.errors import SymbolError
from quantai_tui.core.symbols import file_token, normalize_symbol, parse_symbol

codes = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=8)
expiries = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))


@pytest.mark.parametrize(
    ("text", "unified", "kind"),
    [
        ("BTC/USDT", "BTC/USDT", InstrumentKind.SPOT),
        ("btc/usdt", "BTC/USDT", InstrumentKind.SPOT),
        ("BTC/USDT:USDT", "BTC/USDT:USDT", InstrumentKind.PERPETUAL),
        ("BTC/USDT:PERP", "BTC/USDT:USDT", InstrumentKind.PERPETUAL),
        ("BTC/USD:BTC", "BTC/USD:BTC", InstrumentKind.PERPETUAL),
        ("BTC/USDT:USDT-251227", "BTC/USDT:USDT-251227", InstrumentKind.FUTURE),
        ("BTC-USDT-20251227", "BTC/USDT:USDT-251227", InstrumentKind.FUTURE),
    ],
)
def test_accepted_spellings(text: str, unified: str, kind: InstrumentKind) -> None:
    info = parse_symbol(text)
    assert info.unified == unified
    assert info.kind is kind


@pytest.mark.parametrize(
    "bad", ["BTCUSDT", "BTC/", "/USDT", "BTC/USDT/ETH", "BTC-USDT", "BTC/USDT:USDT-2512", "BTC-USDT-20251340", "", "BTC USDT"]
)
def test_anything_else_is_a_clear_error(bad: str) -> None:
    with pytest.raises(SymbolError, match="symbol") as err:
        parse_symbol(bad)
    assert repr(bad) in str(err.value) and "\n" not in str(err.value)


@given(codes, codes)
def test_spot_round_trip(base: str, quote: str) -> None:
    s = f"{base}/{quote}"
    assert normalize_symbol(s) == s
    assert normalize_symbol(s.lower()) == s


@given(codes, codes, expiries)
def test_dated_future_spellings_agree(base: str, quote: str, expiry: date) -> None:
    dashed = f"{base}-{quote}-{expiry:%Y%m%d}"
    unified = f"{base}/{quote}:{quote}-{expiry:%y%m%d}"
    assert normalize_symbol(dashed) == unified
    assert normalize_symbol(unified) == unified
    assert parse_symbol(unified).expiry == expiry


@given(codes, codes)
def test_perp_alias_is_settled_in_quote(base: str, quote: str) -> None:
    assert normalize_symbol(f"{base}/{quote}:PERP") == f"{base}/{quote}:{quote}"


def test_file_token_has_no_path_characters() -> None:
    assert file_token("BTC/USDT:USDT-251227") == "BTC-USDT-USDT-251227"

"""Symbols in ccxt's unified spelling, the one spelling used inside the program.

    BTC/USDT               spot
    BTC/USDT:USDT          linear perpetual (settled in USDT); BTC/USD:BTC is inverse
    BTC/USDT:USDT-251227   dated future, expiry YYMMDD

Accepted on input and normalised: `BTC/USDT:PERP` (a perpetual settled in the quote currency),
`BTC-USDT-20251227` (a dated future), and lower case. Anything else is a SymbolError that
shows the accepted spellings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from quantai_tui.core.enums import InstrumentKind
from quantai_tui.core.errors import SymbolError

_CODE = r"[A-Z0-9]{1,20}"
_UNIFIED = re.compile(rf"^({_CODE})/({_CODE})(?::({_CODE})(?:-(\d{{6}}))?)?$")
_DASHED_FUTURE = re.compile(rf"^({_CODE})-({_CODE})-(\d{{8}})$")
_HELP = "expected BASE/QUOTE, BASE/QUOTE:SETTLE, BASE/QUOTE:SETTLE-YYMMDD, BASE/QUOTE:PERP or BASE-QUOTE-YYYYMMDD"


@dataclass(frozen=True, slots=True)
class SymbolInfo:
    base: str
    quote: str
    settle: str | None = None
    expiry: date | None = None

    @property
    def kind(self) -> InstrumentKind:
        if self.settle is None:
            return InstrumentKind.SPOT
        return InstrumentKind.FUTURE if self.expiry else InstrumentKind.PERPETUAL

    @property
    def is_inverse(self) -> bool:
        return self.settle is not None and self.settle == self.base

    @property
    def unified(self) -> str:
        s = f"{self.base}/{self.quote}"
        if self.settle is not None:
            s += f":{self.settle}"
            if self.expiry is not None:
                s += "-" + self.expiry.strftime("%y%m%d")
        return s

    def __str__(self) -> str:
        return self.unified


def _expiry(text: str, fmt_len: int, original: str) -> date:
    try:
        if fmt_len == 6:
            return date(2000 + int(text[:2]), int(text[2:4]), int(text[4:6]))
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        raise SymbolError(f"bad expiry date in symbol {original!r}") from None


@lru_cache(maxsize=4096)
def parse_symbol(text: str) -> SymbolInfo:
    """Parse any accepted spelling; raise SymbolError (one line) otherwise."""
    if not isinstance(text, str):
        raise SymbolError(f"a symbol must be text, got {type(text).__name__}")
    s = text.strip().upper()
    m = _UNIFIED.match(s)
    if m:
        base, quote, settle, exp = m.groups()
        if settle == "PERP":
            if exp:
                raise SymbolError(f"unknown symbol {text!r}: a PERP has no expiry; {_HELP}")
            settle = quote
        return SymbolInfo(base, quote, settle, _expiry(exp, 6, text) if exp else None)
    m = _DASHED_FUTURE.match(s)
    if m:
        base, quote, exp = m.groups()
        return SymbolInfo(base, quote, quote, _expiry(exp, 8, text))
    raise SymbolError(f"unknown symbol {text!r}: {_HELP}")


def normalize_symbol(text: str) -> str:
    """The unified spelling of any accepted symbol."""
    return parse_symbol(text).unified


def file_token(symbol: str) -> str:
    """A symbol as it appears in file names: BTC/USDT:USDT -> BTC-USDT-USDT (no / or :)."""
    return symbol.replace("/", "-").replace(":", "-")

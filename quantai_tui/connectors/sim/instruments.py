"""The sim exchange's instruments and the parameters of their synthetic markets.

Tick and lot sizes follow Binance's spot and USD-M rules for the same pairs, so sizes and
prices look like the real thing and the ledger sees the same precisions it would live.
"""

from __future__ import annotations

from dataclasses import dataclass

from quantai_tui.core.errors import SymbolError
from quantai_tui.core.instruments import Instrument, make_instrument
from quantai_tui.core.symbols import normalize_symbol

VENUE = "sim"


@dataclass(frozen=True, slots=True)
class SimSpec:
    """How one symbol's synthetic market behaves."""

    symbol: str
    tick: str  # tick size, exact
    lot: str  # lot size, exact
    min_notional: str
    price: float  # typical price; the seed moves the start by up to +-10%
    vol_per_day: float  # daily volatility of the log price in the normal regime
    level_size: float  # median size of a book level near the touch, in base units
    trade_size: float  # median trade size, in base units
    level_gap_ticks: int  # mean distance between populated book levels, in ticks


SPECS: dict[str, SimSpec] = {
    s.symbol: s
    for s in (
        SimSpec("BTC/USDT", "0.01", "0.00001", "5", 67_000.0, 0.030, 0.35, 0.004, 12),
        SimSpec("ETH/USDT", "0.01", "0.0001", "5", 3_300.0, 0.040, 4.0, 0.05, 3),
        SimSpec("SOL/USDT", "0.01", "0.001", "5", 160.0, 0.055, 60.0, 1.5, 1),
        SimSpec("BTC/USDT:USDT", "0.1", "0.001", "100", 67_050.0, 0.030, 1.2, 0.02, 2),
        SimSpec("ETH/USDT:USDT", "0.01", "0.001", "20", 3_302.0, 0.040, 15.0, 0.2, 3),
    )
}


def _instrument(spec: SimSpec) -> Instrument:
    return make_instrument(
        VENUE,
        spec.symbol,
        spec.tick,
        spec.lot,
        min_notional=spec.min_notional,
        maker_fee="0.001" if ":" not in spec.symbol else "0.0002",
        taker_fee="0.001" if ":" not in spec.symbol else "0.0005",
    )


INSTRUMENTS: dict[str, Instrument] = {sym: _instrument(spec) for sym, spec in SPECS.items()}


def sim_spec(symbol: str) -> SimSpec:
    """The spec of a sim symbol in any accepted spelling; SymbolError names the choices."""
    unified = normalize_symbol(symbol)
    spec = SPECS.get(unified)
    if spec is None:
        raise SymbolError(f"the sim exchange has no {unified}; it lists {', '.join(SPECS)}")
    return spec


def sim_instruments() -> dict[str, Instrument]:
    return dict(INSTRUMENTS)

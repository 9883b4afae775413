"""Binance instruments through ccxt `load_markets` (spot or USD-M only), cached on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from quantai_tui.connectors.binance.config import BinanceMarket
from quantai_tui.connectors.market_cache import load_markets_cached, markets_to_instruments, new_exchange, read_cache
from quantai_tui.core.instruments import Instrument

# One exchangeInfo call instead of three (spot, linear, inverse): FACTS.md.
FETCH_TYPES = {"binance": ["spot"], "binanceusdm": ["linear"]}


def ccxt_options(market: BinanceMarket) -> dict[str, Any]:
    return {"fetchMarkets": {"types": FETCH_TYPES[market.venue]}}


async def load_instruments(
    market: BinanceMarket, cache_path: Path | None, max_age_s: float = 24 * 3600.0, *, rest_url: str = "",
    testnet: bool = False,
) -> dict[str, Instrument]:
    markets = await load_markets_cached(
        market.venue, cache_path, max_age_s, rest_url=rest_url, testnet=testnet, options=ccxt_options(market)
    )
    return markets_to_instruments(market.venue, markets)


def make_exchange(
    market: BinanceMarket, *, rest_url: str = "", testnet: bool = False, cache_path: Path | None = None,
    config: dict[str, Any] | None = None,
) -> Any:
    """A ccxt exchange for this market, markets preloaded from the cache when there is one."""
    cached = read_cache(cache_path) if cache_path is not None else None
    return new_exchange(
        market.venue, rest_url=rest_url, testnet=testnet, options=ccxt_options(market),
        markets=cached[1] if cached else None, config=config,
    )

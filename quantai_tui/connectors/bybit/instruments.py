"""Bybit instruments through ccxt `load_markets` (spot, linear, inverse; no options), cached on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from quantai_tui.connectors.bybit.config import VENUE
from quantai_tui.connectors.market_cache import load_markets_cached, markets_to_instruments, new_exchange, read_cache
from quantai_tui.core.instruments import Instrument

CCXT_OPTIONS: dict[str, Any] = {"fetchMarkets": {"types": ["spot", "linear", "inverse"]}}


async def load_instruments(
    cache_path: Path | None, max_age_s: float = 24 * 3600.0, *, rest_url: str = "", testnet: bool = False
) -> dict[str, Instrument]:
    markets = await load_markets_cached(
        VENUE, cache_path, max_age_s, rest_url=rest_url, testnet=testnet, options=CCXT_OPTIONS
    )
    return markets_to_instruments(VENUE, markets)


def make_exchange(
    *, rest_url: str = "", testnet: bool = False, cache_path: Path | None = None, config: dict[str, Any] | None = None
) -> Any:
    """A ccxt bybit exchange, markets preloaded from the cache when there is one."""
    cached = read_cache(cache_path) if cache_path is not None else None
    return new_exchange(
        VENUE, rest_url=rest_url, testnet=testnet, options=CCXT_OPTIONS, markets=cached[1] if cached else None,
        config=config,
    )

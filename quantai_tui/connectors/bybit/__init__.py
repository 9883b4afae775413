"""Bybit v5 ("bybit"): native WebSocket market data, spot and linear/inverse by symbol.

config.py endpoints (incl. testnet) · parsing.py frame -> event · book_sync.py the book
rules (u continuity) · data.py the client · instruments.py ccxt markets, cached.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quantai_tui.connectors.base import Publish
    from quantai_tui.connectors.bybit.data import BybitMarketDataClient
    from quantai_tui.core.clock import Clock
    from quantai_tui.settings.schema import ExchangeSettings


def create_market_data_client(
    venue: str, settings: ExchangeSettings, publish: Publish, clock: Clock, cache_dir: Path | None, **options: Any
) -> BybitMarketDataClient:
    from quantai_tui.connectors.bybit.data import BybitMarketDataClient

    return BybitMarketDataClient(
        publish, clock, rest_url=settings.rest_url, ws_url=settings.ws_url, testnet=settings.testnet,
        cache_dir=cache_dir, **options,
    )

"""Binance spot ("binance") and USD-M futures ("binanceusdm"): native WebSocket market data.

config.py endpoints (incl. testnet) · parsing.py frame -> event · book_sync.py the book rules ·
data.py the client · instruments.py ccxt markets, cached. Nothing heavy is imported here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quantai_tui.connectors.base import Publish
    from quantai_tui.connectors.binance.data import BinanceMarketDataClient
    from quantai_tui.core.clock import Clock
    from quantai_tui.settings.schema import ExchangeSettings


def create_market_data_client(
    venue: str, settings: ExchangeSettings, publish: Publish, clock: Clock, cache_dir: Path | None, **options: Any
) -> BinanceMarketDataClient:
    from quantai_tui.connectors.binance.config import MARKETS
    from quantai_tui.connectors.binance.data import BinanceMarketDataClient

    return BinanceMarketDataClient(
        publish, clock, market=MARKETS[venue], rest_url=settings.rest_url, ws_url=settings.ws_url,
        testnet=settings.testnet, cache_dir=cache_dir, **options,
    )

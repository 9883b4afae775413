"""The long tail: any ccxt exchange with WebSocket support, through ccxt.pro's watch_* methods
(client.py). Nothing heavy at import: ccxt loads when a client starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from quantai_tui.connectors.ccxt.client import CcxtMarketDataClient


def create_market_data_client(venue: str, settings: Any, publish: Any, clock: Any, cache_dir: Path | None,
                              **options: Any) -> CcxtMarketDataClient:
    """The registry's factory: `settings` is the venue's ExchangeSettings."""
    return CcxtMarketDataClient(
        venue, publish, clock, rest_url=settings.rest_url, ws_url=settings.ws_url, testnet=settings.testnet,
        market_type=settings.market_type, cache_dir=cache_dir, **options,
    )


__all__ = ["CcxtMarketDataClient", "create_market_data_client"]

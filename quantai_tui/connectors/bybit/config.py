"""Bybit v5 endpoints. Public streams are per category: `/v5/public/spot`, `/v5/public/linear`
(USDT/USDC perpetuals and futures), `/v5/public/inverse`. The category follows from the symbol:
`BTC/USDT` spot, `BTC/USDT:USDT` linear, `BTC/USD:BTC` inverse.

A WebSocket override may be a bare `ws://host:port` (the category paths are appended) or a URL
ending in a category (the last segment is swapped per category).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from quantai_tui.connectors.base import endpoint_url
from quantai_tui.core.enums import InstrumentKind
from quantai_tui.core.symbols import parse_symbol

VENUE = "bybit"
REST_URL = "https://api.bybit.com"
WS_URL = "wss://stream.bybit.com"
TESTNET_REST_URL = "https://api-testnet.bybit.com"
TESTNET_WS_URL = "wss://stream-testnet.bybit.com"
CATEGORIES = ("spot", "linear", "inverse")

# Our timeframes -> Bybit kline intervals.
INTERVALS = {
    "1m": "1", "3m": "3", "5m": "5", "15m": "15", "30m": "30", "1h": "60", "2h": "120", "4h": "240",
    "6h": "360", "12h": "720", "1d": "D", "1w": "W", "1M": "M",
}
TIMEFRAMES = {v: k for k, v in INTERVALS.items()}


def category(symbol: str) -> str:
    info = parse_symbol(symbol)
    if info.kind is InstrumentKind.SPOT:
        return "spot"
    return "inverse" if info.is_inverse else "linear"


def native_symbol(symbol: str) -> str:
    """BTC/USDT and BTC/USDT:USDT -> BTCUSDT; BTC/USD:BTC -> BTCUSD; dated: BTCUSDT-27DEC24 style
    ids differ by contract, so dated futures need loaded instruments (native_symbol)."""
    info = parse_symbol(symbol)
    if info.expiry is not None:
        raise ValueError(f"{symbol}: load instruments first for Bybit dated futures")
    return info.base + info.quote


def ws_url_for(override: str, testnet: bool, cat: str) -> str:
    if override and urlsplit(override).path not in ("", "/"):
        head, _, last = override.rstrip("/").rpartition("/")
        return f"{head}/{cat}" if last in CATEGORIES else override
    return endpoint_url(override, WS_URL, TESTNET_WS_URL, testnet, f"/v5/public/{cat}")


def rest_url_for(override: str, testnet: bool) -> str:
    return endpoint_url(override, REST_URL, TESTNET_REST_URL, testnet)

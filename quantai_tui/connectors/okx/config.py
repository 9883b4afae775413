"""OKX v5 endpoints. Public market data (books, trades, bbo-tbt) and candles live on two
WebSocket URLs: `/ws/v5/public` and `/ws/v5/business` (candles moved there in 2023).

A WebSocket override may be a bare `ws://host:port` (the paths are appended) or a full URL
ending in `/public` or `/business` (the other one is derived by swapping the last segment).
`testnet` selects OKX's demo-trading hosts.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from quantai_tui.connectors.base import endpoint_url
from quantai_tui.core.enums import InstrumentKind
from quantai_tui.core.symbols import parse_symbol

VENUE = "okx"
REST_URL = "https://www.okx.com"
WS_URL = "wss://ws.okx.com:8443"
TESTNET_REST_URL = "https://www.okx.com"  # demo trading: same host, header x-simulated-trading: 1
TESTNET_WS_URL = "wss://wspap.okx.com:8443"
PATHS = {"public": "/ws/v5/public", "business": "/ws/v5/business"}

# Our timeframes -> OKX candle channels (UTC-aligned from 6h up: OKX's plain 1D closes at 16:00 UTC).
CANDLES = {
    "1s": "candle1s", "1m": "candle1m", "3m": "candle3m", "5m": "candle5m", "15m": "candle15m",
    "30m": "candle30m", "1h": "candle1H", "2h": "candle2H", "4h": "candle4H", "6h": "candle6Hutc",
    "12h": "candle12Hutc", "1d": "candle1Dutc", "1w": "candle1Wutc", "1M": "candle1Mutc",
}


@dataclass(frozen=True, slots=True)
class Endpoints:
    rest: str
    public: str
    business: str


def endpoints(rest_url: str = "", ws_url: str = "", testnet: bool = False) -> Endpoints:
    rest = endpoint_url(rest_url, REST_URL, TESTNET_REST_URL, testnet)
    if ws_url and urlsplit(ws_url).path not in ("", "/"):
        base = ws_url.rstrip("/")
        head, _, last = base.rpartition("/")
        if last in PATHS:
            return Endpoints(rest, f"{head}/public", f"{head}/business")
        return Endpoints(rest, base, base)
    public = endpoint_url(ws_url, WS_URL, TESTNET_WS_URL, testnet, PATHS["public"])
    business = endpoint_url(ws_url, WS_URL, TESTNET_WS_URL, testnet, PATHS["business"])
    return Endpoints(rest, public, business)


def inst_id(symbol: str) -> str:
    """Unified symbol -> OKX instId: BTC/USDT -> BTC-USDT, BTC/USDT:USDT -> BTC-USDT-SWAP,
    BTC/USD:BTC-220527 -> BTC-USD-220527."""
    info = parse_symbol(symbol)
    if info.kind is InstrumentKind.SPOT:
        return f"{info.base}-{info.quote}"
    if info.expiry is None:
        return f"{info.base}-{info.quote}-SWAP"
    return f"{info.base}-{info.quote}-{info.expiry.strftime('%y%m%d')}"

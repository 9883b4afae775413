"""Binance endpoints: spot and USD-M futures, production and testnet.

USD-M market data is routed (Binance's notice of 2026-03-06; the unrouted URLs were retired on
2026-04-23): depth and bookTicker on `/public`, trades and klines on `/market`, user data on
`/private`; a stream sent to the wrong route is acknowledged and never delivered. So a USD-M
client keeps two market-data connections, `public` and `market`; spot keeps one.

A WebSocket override may be a bare `ws://host:port` (the venue's paths are appended) or a full
URL (used as given, for every route). A REST override is a base URL (`http://host:port`); the
depth path is appended to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from quantai_tui.connectors.base import endpoint_url


@dataclass(frozen=True, slots=True)
class BinanceMarket:
    venue: str  # our venue name, also the ccxt id
    rest_url: str
    ws_url: str
    testnet_rest_url: str
    testnet_ws_url: str
    depth_path: str  # REST order book snapshot
    futures: bool  # USD-M: `pu` chains diffs; spot: U/u continuity
    snapshot_limit: int  # levels asked of the REST snapshot (spot allows 5000, USD-M 1000)
    max_connection_age_s: float  # Binance cuts a connection at 24 h: rotate before that
    user_ws_api_url: str = ""  # spot: the user data stream is a WebSocket API subscription
    testnet_user_ws_api_url: str = ""
    routed: bool = False  # USD-M: /public, /market and /private routes (see the module docstring)


SPOT = BinanceMarket(
    venue="binance",
    rest_url="https://api.binance.com",
    ws_url="wss://stream.binance.com:9443",
    testnet_rest_url="https://testnet.binance.vision",
    testnet_ws_url="wss://stream.testnet.binance.vision",
    depth_path="/api/v3/depth",
    futures=False,
    snapshot_limit=1000,
    max_connection_age_s=23.5 * 3600,
    # the listenKey flow for spot was retired on 2026-02-20: userDataStream.subscribe.signature
    user_ws_api_url="wss://ws-api.binance.com:443/ws-api/v3",
    testnet_user_ws_api_url="wss://ws-api.testnet.binance.vision/ws-api/v3",
)

USDM = BinanceMarket(
    venue="binanceusdm",
    rest_url="https://fapi.binance.com",
    ws_url="wss://fstream.binance.com",
    testnet_rest_url="https://testnet.binancefuture.com",
    testnet_ws_url="wss://fstream.binancefuture.com",
    depth_path="/fapi/v1/depth",
    futures=True,
    snapshot_limit=1000,
    max_connection_age_s=23.5 * 3600,
    routed=True,
)

MARKETS = {SPOT.venue: SPOT, USDM.venue: USDM}
WS_PATH = "/stream"  # the combined stream: frames are {"stream": name, "data": {...}}
ROUTE_OF_KIND = {"book": "public", "quotes": "public", "trades": "market", "bars": "market"}  # USD-M


@dataclass(frozen=True, slots=True)
class Endpoints:
    rest: str  # base URL, e.g. https://api.binance.com
    ws: str  # the combined-stream URL of the `market` connection, e.g. wss://stream.binance.com:9443/stream
    depth: str  # full URL of the REST depth snapshot
    ws_routes: dict[str, str]  # connection name -> combined-stream URL: {"market"} or {"public", "market"}


def endpoints(market: BinanceMarket, rest_url: str = "", ws_url: str = "", testnet: bool = False) -> Endpoints:
    rest = endpoint_url(rest_url, market.rest_url, market.testnet_rest_url, testnet)
    if market.routed:
        base = endpoint_url(ws_url, market.ws_url, market.testnet_ws_url, testnet)
        given = urlsplit(base).path not in ("", "/")  # an override with a path: as given
        routes = {r: base if given else f"{base}/{r}{WS_PATH}" for r in ("public", "market")}
    else:
        routes = {"market": endpoint_url(ws_url, market.ws_url, market.testnet_ws_url, testnet, WS_PATH)}
    return Endpoints(rest=rest, ws=routes["market"], depth=rest + market.depth_path, ws_routes=routes)

"""Binance endpoints: spot and USD-M futures, production and testnet.

A WebSocket override may be a bare `ws://host:port` (the combined-stream path `/stream` is
appended) or a full URL (used as given). A REST override is a base URL (`http://host:port`);
the depth path is appended to it.
"""

from __future__ import annotations

from dataclasses import dataclass

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
)

MARKETS = {SPOT.venue: SPOT, USDM.venue: USDM}
WS_PATH = "/stream"  # the combined stream: frames are {"stream": name, "data": {...}}


@dataclass(frozen=True, slots=True)
class Endpoints:
    rest: str  # base URL, e.g. https://api.binance.com
    ws: str  # the combined-stream URL, e.g. wss://stream.binance.com:9443/stream
    depth: str  # full URL of the REST depth snapshot


def endpoints(market: BinanceMarket, rest_url: str = "", ws_url: str = "", testnet: bool = False) -> Endpoints:
    rest = endpoint_url(rest_url, market.rest_url, market.testnet_rest_url, testnet)
    ws = endpoint_url(ws_url, market.ws_url, market.testnet_ws_url, testnet, WS_PATH)
    return Endpoints(rest=rest, ws=ws, depth=rest + market.depth_path)

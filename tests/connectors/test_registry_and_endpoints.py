"""The venue factory, and where each connector connects: production, testnet or an override."""

from __future__ import annotations

import subprocess
import sys

import pytest

from quantai_tui.connectors import registry
from quantai_tui.connectors.binance.config import SPOT, USDM, endpoints as binance_endpoints
from quantai_tui.connectors.bybit.config import category, ws_url_for
from quantai_tui.connectors.okx.config import endpoints as okx_endpoints, inst_id
from quantai_tui.core.clock import TestClock
from quantai_tui.core.errors import ConfigError
from quantai_tui.settings.schema import ExchangeSettings


def test_the_registry_builds_each_native_venue() -> None:
    from quantai_tui.engine.ports import MarketDataClient

    for venue in registry.NATIVE_VENUES:
        client = registry.make_market_data_client(venue, ExchangeSettings(), lambda t, e: None, TestClock(), None)
        assert client.venue == venue
        assert isinstance(client, MarketDataClient)  # the engine's port, structurally
    bybit = registry.make_market_data_client("BYBIT", None, lambda t, e: None, TestClock(), None, book_depth=200)
    assert bybit.book_depth == 200


def test_other_venues_go_to_registered_factories_then_to_the_ccxt_fallback() -> None:
    made = []
    registry.register_market_data("fakeex", lambda *a, **k: made.append(a) or "client")
    try:
        assert registry.make_market_data_client("fakeex", None, lambda t, e: None, TestClock(), "/tmp") == "client"
        assert made[0][0] == "fakeex"
    finally:
        del registry.FACTORIES["fakeex"]
    saved = registry.FALLBACK
    registry.FALLBACK = "quantai_tui.connectors.nowhere:create_market_data_client"
    try:
        with pytest.raises(ConfigError, match="not available"):
            registry.make_market_data_client("kraken", None, lambda t, e: None, TestClock(), None)
    finally:
        registry.FALLBACK = saved


def test_importing_connectors_stays_light() -> None:
    code = ("import sys, quantai_tui.connectors.registry, quantai_tui.connectors.binance, "
            "quantai_tui.connectors.okx, quantai_tui.connectors.bybit; "
            "print(sorted(m for m in ('ccxt', 'aiohttp', 'websockets', 'textual', 'rich', 'quantai_tui.engine') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_binance_endpoints() -> None:
    e = binance_endpoints(SPOT)
    assert (e.ws, e.depth) == ("wss://stream.binance.com:9443/stream", "https://api.binance.com/api/v3/depth")
    assert e.ws_routes == {"market": e.ws}  # spot: one connection carries every stream
    # USD-M is routed: depth and bookTicker on /public, trades and klines on /market
    assert binance_endpoints(USDM).ws_routes == {"public": "wss://fstream.binance.com/public/stream",
                                                 "market": "wss://fstream.binance.com/market/stream"}
    e = binance_endpoints(USDM, testnet=True)
    assert (e.ws_routes["public"], e.depth) == ("wss://fstream.binancefuture.com/public/stream",
                                                "https://testnet.binancefuture.com/fapi/v1/depth")
    e = binance_endpoints(SPOT, "http://127.0.0.1:9000", "ws://127.0.0.1:9000", testnet=True)  # overrides win
    assert (e.ws, e.depth) == ("ws://127.0.0.1:9000/stream", "http://127.0.0.1:9000/api/v3/depth")
    assert binance_endpoints(USDM, ws_url="ws://127.0.0.1:9000").ws_routes["market"] == "ws://127.0.0.1:9000/market/stream"
    assert binance_endpoints(SPOT, ws_url="wss://x.test/stream").ws == "wss://x.test/stream"
    assert set(binance_endpoints(USDM, ws_url="wss://x.test/s").ws_routes.values()) == {"wss://x.test/s"}  # as given


def test_okx_endpoints_and_ids() -> None:
    e = okx_endpoints()
    assert (e.public, e.business) == ("wss://ws.okx.com:8443/ws/v5/public", "wss://ws.okx.com:8443/ws/v5/business")
    assert okx_endpoints(testnet=True).public == "wss://wspap.okx.com:8443/ws/v5/public"
    e = okx_endpoints(ws_url="wss://proxy.test/ws/v5/public")
    assert e.business == "wss://proxy.test/ws/v5/business"
    assert [inst_id(s) for s in ("BTC/USDT", "BTC/USDT:USDT", "BTC/USD:BTC-220527", "ETH/USDT:PERP")] == [
        "BTC-USDT", "BTC-USDT-SWAP", "BTC-USD-220527", "ETH-USDT-SWAP"]


def test_bybit_endpoints_and_categories() -> None:
    assert [category(s) for s in ("BTC/USDT", "BTC/USDT:USDT", "BTC/USD:BTC")] == ["spot", "linear", "inverse"]
    assert ws_url_for("", False, "linear") == "wss://stream.bybit.com/v5/public/linear"
    assert ws_url_for("", True, "spot") == "wss://stream-testnet.bybit.com/v5/public/spot"
    assert ws_url_for("ws://127.0.0.1:1", False, "spot") == "ws://127.0.0.1:1/v5/public/spot"
    assert ws_url_for("wss://p.test/v5/public/linear", False, "spot") == "wss://p.test/v5/public/spot"

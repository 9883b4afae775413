"""Instruments through ccxt's load_markets, against the local server (captured exchangeInfo /
instruments responses), cached on disk and preloaded into ccxt with set_markets()."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from quantai_tui.connectors.market_cache import read_cache
from quantai_tui.connectors.registry import make_market_data_client
from quantai_tui.core.clock import LiveClock
from quantai_tui.core.enums import InstrumentKind
from quantai_tui.core.errors import VenueUnavailable
from quantai_tui.settings.schema import ExchangeSettings
from tests.connectors.harness import Recorder
from tests.exchange_server import ExchangeServer, data_available
from tests.exchange_server.binance import BinanceVenue
from tests.exchange_server.bybit import BybitVenue
from tests.exchange_server.okx import OkxVenue

pytestmark = pytest.mark.skipif(not data_available(), reason="../shared/data/exchanges is not available")


def client_for(venue: str, server: ExchangeServer, cache: Path, **kw: object) -> object:
    settings = ExchangeSettings(rest_url=server.rest_url, ws_url=server.ws_url)
    return make_market_data_client(venue, settings, Recorder(), LiveClock(), cache, **kw)


async def test_binance_instruments_come_from_exchange_info_and_are_cached(tmp_path: Path) -> None:
    server = ExchangeServer("binance")
    BinanceVenue(server, "spot")
    async with server:
        client = client_for("binance", server, tmp_path)
        inst = await client.load_instruments()  # type: ignore[attr-defined]
        nkn = inst["NKN/USDT"]
        assert (nkn.kind, nkn.native_symbol, nkn.tick_size.as_decimal(), nkn.lot_size.as_decimal()) == (
            InstrumentKind.SPOT, "NKNUSDT", Decimal("0.0001"), Decimal("1"))
        assert nkn.min_notional == Decimal("10")
        assert server.hits["/api/v3/exchangeInfo"] == 1
        cache = tmp_path / "markets_binance.json"
        assert cache.exists() and "NKN/USDT" in read_cache(cache)[1]  # type: ignore[index]

        again = client_for("binance", server, tmp_path)
        assert (await again.load_instruments())["NKN/USDT"] == nkn  # type: ignore[attr-defined]
        assert server.hits["/api/v3/exchangeInfo"] == 1  # fresh cache: no REST call

        stale = client_for("binance", server, tmp_path, markets_max_age_s=0.0)
        await stale.load_instruments()  # type: ignore[attr-defined]
        assert server.hits["/api/v3/exchangeInfo"] == 2  # too old: refreshed

        # ccxt preloaded from the cache: markets without any REST call
        from quantai_tui.connectors.binance.config import SPOT
        from quantai_tui.connectors.binance.instruments import make_exchange

        ex = make_exchange(SPOT, rest_url=server.rest_url, cache_path=cache)
        try:
            assert ex.markets["NKN/USDT"]["id"] == "NKNUSDT"
        finally:
            await ex.close()
        assert server.hits["/api/v3/exchangeInfo"] == 2


async def test_a_stale_cache_is_used_when_the_venue_is_unreachable(tmp_path: Path) -> None:
    server = ExchangeServer("binanceusdm")
    BinanceVenue(server, "usdm")
    async with server:
        fresh = await client_for("binanceusdm", server, tmp_path).load_instruments()  # type: ignore[attr-defined]
        assert fresh["SUSHI/USDT:USDT"].kind is InstrumentKind.PERPETUAL
    # the server is gone now
    stale = client_for("binanceusdm", server, tmp_path, markets_max_age_s=0.0)
    assert (await stale.load_instruments())["SUSHI/USDT:USDT"] == fresh["SUSHI/USDT:USDT"]  # type: ignore[attr-defined]
    with pytest.raises(VenueUnavailable):
        await client_for("binanceusdm", server, tmp_path / "empty").load_instruments()  # type: ignore[attr-defined]


async def test_okx_and_bybit_instruments(tmp_path: Path) -> None:
    server = ExchangeServer("okx")
    OkxVenue(server)
    async with server:
        inst = await client_for("okx", server, tmp_path).load_instruments()  # type: ignore[attr-defined]
    uni = inst["UNI/USD:UNI"]
    assert (uni.kind, uni.native_symbol, uni.tick_size.as_decimal(), uni.is_inverse) == (
        InstrumentKind.PERPETUAL, "UNI-USD-SWAP", Decimal("0.001"), True)
    assert inst["BTC/USDT"].native_symbol == "BTC-USDT"

    server = ExchangeServer("bybit")
    BybitVenue(server)
    async with server:
        inst = await client_for("bybit", server, tmp_path).load_instruments()  # type: ignore[attr-defined]
    assert inst["BTC/USDT"].kind is InstrumentKind.SPOT and inst["BTC/USDT:USDT"].kind is InstrumentKind.PERPETUAL
    assert inst["BTC/USDT"].native_symbol == inst["BTC/USDT:USDT"].native_symbol == "BTCUSDT"

"""The generic ccxt connector, driven through ccxt's own binance implementation against the
local exchange server (tests/exchange_server) replaying Binance's captured spot stream: trades,
an exact book, quotes and closed 1m bars; a dropped connection is reconnected and resynced."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from quantai_tui.connectors.ccxt import CcxtMarketDataClient, create_market_data_client
from quantai_tui.connectors.ccxt.urls import rewrite_ws_urls
from quantai_tui.core.clock import LiveClock
from quantai_tui.core.enums import AggressorSide, ConnectionState
from quantai_tui.core.errors import SymbolError
from quantai_tui.core.events import (
    Bar,
    BookResynced,
    Event,
    QuoteTick,
    TradeTick,
    VenueConnected,
    VenueDisconnected,
    VenueReconnecting,
)
from quantai_tui.engine.bus import MessageBus
from quantai_tui.settings.schema import ExchangeSettings
from tests.exchange_server.binance import BinanceVenue
from tests.exchange_server.core import ExchangeServer
from tests.exchange_server.feed import data_available

pytestmark = pytest.mark.skipif(not data_available(), reason="../shared/data is missing")
SYMBOL, NATIVE = "NKN/USDT", "NKNUSDT"


async def _until(cond: Callable[[], bool], what: str, limit_s: float = 20.0) -> None:
    await ExchangeServer.wait_until(cond, limit_s, what)


@pytest.fixture
async def venue() -> AsyncIterator[BinanceVenue]:
    server = ExchangeServer("binance")
    v = BinanceVenue(server, "spot")
    # ccxt's binance connects to <ws url>/<stream index>; the server speaks combined streams there
    server.websocket("/stream/{tail:.*}", v.on_message, on_open=v.on_open)
    async with server:
        yield v


def _client(v: BinanceVenue, bus: MessageBus, tmp_path: Path, **kw: Any) -> CcxtMarketDataClient:
    s = v.server
    settings = ExchangeSettings(rest_url=s.rest_url, ws_url=s.ws_url + "/stream")
    return create_market_data_client("binance", settings, bus.publish, LiveClock(), tmp_path,
                                     options={"watchTrades": {"name": "aggTrade"}}, backoff_s=(0.05, 0.5), **kw)


def _book_matches(client: CcxtMarketDataClient, v: BinanceVenue, n: int = 100) -> bool:
    book = client.book(SYMBOL)
    truth = v.truth[NATIVE]
    if book is None:
        return False
    want_b = [(float(p), float(q)) for p, q in truth.sorted_bids(n)]
    want_a = [(float(p), float(q)) for p, q in truth.sorted_asks(n)]
    return book.bids.top(n) == want_b and book.asks.top(n) == want_a


def _released(v: BinanceVenue, kind: str, since: int = 0) -> list[dict[str, Any]]:
    return [i.msg["data"] for i in v.items[since:v.cursor] if i.symbol == NATIVE and i.kind == kind]


async def _subscribed(v: BinanceVenue, n: int = 4) -> None:
    await _until(lambda: sum(len(s.subscriptions) for s in v.server.sessions) >= n, "ccxt to subscribe")


async def test_trades_book_quotes_and_bars_from_the_captured_stream(venue: BinanceVenue, tmp_path: Path) -> None:
    bus = MessageBus()
    got: list[Event] = []
    bus.subscribe(">", got.append)
    client = _client(venue, bus, tmp_path)
    try:
        await _stream_checks(client, venue, got)
    finally:
        await client.stop()
    assert client.exchange is None and isinstance(got[-1], VenueDisconnected)


async def _stream_checks(client: CcxtMarketDataClient, venue: BinanceVenue, got: list[Event]) -> None:
    await client.start()
    await client.subscribe(SYMBOL)
    with pytest.raises(SymbolError, match="binance has no market DOGE/XYZ"):
        await client.subscribe("DOGE/XYZ")
    await _subscribed(venue)
    channels = {c for s in venue.server.sessions for c in s.subscriptions}
    assert channels == {"nknusdt@aggTrade", "nknusdt@depth@100ms", "nknusdt@bookTicker", "nknusdt@kline_1m"}
    await venue.release(symbol=NATIVE)
    await venue.barrier(NATIVE, 1)
    barrier = str(BinanceVenue.BARRIER_ID + 1)
    await _until(lambda: any(isinstance(e, TradeTick) and e.trade_id == barrier for e in got), "the barrier trade")
    await _until(lambda: _book_matches(client, venue), "the book to equal the venue's")
    agg = _released(venue, "trades")
    trades = [e for e in got if isinstance(e, TradeTick) and e.trade_id != barrier]
    assert [t.trade_id for t in trades] == [str(a["a"]) for a in agg]
    for t, a in zip(trades, agg, strict=True):
        assert (t.price, t.size, t.ts_event) == (float(a["p"]), float(a["q"]), a["T"] * 1_000_000)
        assert t.aggressor is (AggressorSide.SELLER if a["m"] else AggressorSide.BUYER)
        assert t.venue == "binance" and t.symbol == SYMBOL
    quotes = [e for e in got if isinstance(e, QuoteTick)]
    last = _released(venue, "quotes")[-1]
    await _until(lambda: [e for e in got if isinstance(e, QuoteTick)][-1].bid == float(last["b"]), "the last quote")
    q = [e for e in got if isinstance(e, QuoteTick)][-1]
    assert (q.bid, q.bid_size, q.ask, q.ask_size) == tuple(float(last[k]) for k in ("b", "B", "a", "A"))
    assert quotes and all(x.bid < x.ask for x in quotes)
    # 1m bars: the capture holds one forming candle; a bar goes out when the next one opens
    assert not [e for e in got if isinstance(e, Bar)]
    last_k = _released(venue, "bars")[-1]
    k = last_k["k"]
    nxt = {**last_k, "E": last_k["E"] + 60_000,
           "k": {**k, "t": k["t"] + 60_000, "T": k["T"] + 60_000, "o": k["c"], "h": k["c"], "l": k["c"], "v": "1"}}
    await venue.server.broadcast_raw([orjson.dumps({"stream": "nknusdt@kline_1m", "data": nxt}).decode()],
                                     "nknusdt@kline_1m")
    await _until(lambda: any(isinstance(e, Bar) for e in got), "a closed bar")
    bars = [e for e in got if isinstance(e, Bar)]
    assert len(bars) == 1
    b = bars[0]
    assert (b.open, b.high, b.low, b.close, b.volume) == tuple(float(k[x]) for x in "ohlcv")
    assert b.closed and b.timeframe == "1m" and b.ts_event == (k["t"] + 60_000) * 1_000_000
    assert isinstance(got[0], VenueConnected) and client.state is ConnectionState.CONNECTED
    instruments = await client.load_instruments()
    assert str(instruments[SYMBOL].tick_size) == "0.0001"


async def test_reconnects_after_a_drop_and_resyncs_the_book(venue: BinanceVenue, tmp_path: Path) -> None:
    bus = MessageBus()
    got: list[Event] = []
    bus.subscribe(">", got.append)
    client = _client(venue, bus, tmp_path)
    try:
        await _reconnect_checks(client, venue, got)
    finally:
        await client.stop()


async def _reconnect_checks(client: CcxtMarketDataClient, venue: BinanceVenue, got: list[Event]) -> None:
    await client.start()
    await client.subscribe(SYMBOL, ["trades", "book"])
    await _subscribed(venue, 2)
    await venue.release(150, symbol=NATIVE)
    await _until(lambda: _book_matches(client, venue), "the first book")
    sessions_before = venue.server.connections_total
    assert await venue.server.drop_connections() == 2
    await _until(lambda: any(isinstance(e, VenueReconnecting) for e in got), "a reconnecting event")
    await _until(lambda: venue.server.connections_total >= sessions_before + 2
                 and sum(len(s.subscriptions) for s in venue.server.sessions) >= 2, "ccxt to come back")
    mark = venue.cursor
    await venue.release(symbol=NATIVE)
    await venue.barrier(NATIVE, 2)
    barrier = str(BinanceVenue.BARRIER_ID + 2)
    await _until(lambda: any(isinstance(e, TradeTick) and e.trade_id == barrier for e in got), "the barrier trade")
    await _until(lambda: _book_matches(client, venue), "the book after the reconnect")
    kinds = [type(e) for e in got if not isinstance(e, (TradeTick,)) and type(e).__name__ != "OrderBookDeltas"]
    assert kinds[0] is VenueConnected and VenueDisconnected in kinds and kinds.count(VenueConnected) >= 2
    assert any(isinstance(e, BookResynced) and e.symbol == SYMBOL for e in got)
    # every trade released after the reconnect arrived, once
    after = [str(a["a"]) for a in _released(venue, "trades", mark)]
    ids = [e.trade_id for e in got if isinstance(e, TradeTick)]
    assert all(ids.count(i) == 1 for i in after) and set(after) <= set(ids)
    assert client.stats()["reconnects"] >= 1


def test_ws_urls_are_rewritten_like_the_rest_ones() -> None:
    urls = {"ws": {"spot": "wss://stream.binance.com:9443/ws", "ws-api": {"spot": "wss://ws-api.binance.com:443/ws-api/v3"}},
            "public": "https://api.binance.com/api/v3"}
    out = rewrite_ws_urls(urls, "ws://127.0.0.1:9000/stream")
    assert out["ws"]["spot"] == "ws://127.0.0.1:9000/stream/ws"
    assert out["ws"]["ws-api"]["spot"] == "ws://127.0.0.1:9000/stream/ws-api/v3"
    assert out["public"] == "https://api.binance.com/api/v3"
    assert orjson.dumps(urls)  # the input is left as it was
    assert urls["ws"]["spot"] == "wss://stream.binance.com:9443/ws"


async def test_any_other_venue_name_goes_to_the_generic_connector(tmp_path: Path) -> None:
    from quantai_tui.connectors.registry import make_market_data_client

    client = make_market_data_client("kraken", ExchangeSettings(rest_url="http://127.0.0.1:9"), lambda t, e: None,
                                     LiveClock(), tmp_path)
    assert isinstance(client, CcxtMarketDataClient) and client.venue == "kraken"
    sim = make_market_data_client("sim", None, lambda t, e: None, LiveClock(), tmp_path, seed=3, rate=10)
    assert sim.venue == "sim" and sim.market.seed == 3
    await asyncio.sleep(0)


async def test_a_kind_the_venue_does_not_stream_is_skipped_not_fatal(tmp_path: Path) -> None:
    """coinbase has no candles over WebSocket in ccxt: bars are skipped, the rest runs."""
    markets = {"BTC/USD": {"id": "BTC-USD", "symbol": "BTC/USD", "base": "BTC", "quote": "USD", "baseId": "BTC",
                           "quoteId": "USD", "type": "spot", "spot": True, "active": True,
                           "precision": {"price": 0.01, "amount": 1e-08}, "limits": {}}}
    got: list[Event] = []
    client = CcxtMarketDataClient("coinbase", lambda t, e: got.append(e), LiveClock(), markets=markets,
                                  rest_url="http://127.0.0.1:9", ws_url="ws://127.0.0.1:9", backoff_s=(5.0, 5.0))
    await client.subscribe("BTC/USD", ["trades", "bars"])
    await client.start()
    try:
        assert client.unsupported == {"bars"} and client.stats()["tasks"] == 1
        instruments = await client.load_instruments()
        assert str(instruments["BTC/USD"].tick_size) == "0.01"
    finally:
        await client.stop()
    assert client.exchange is None

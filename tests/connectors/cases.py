"""The venues of the shared suite: Binance spot and USD-M, OKX (as captured in 2022: CRC32
checksums, no seq ids; and as OKX sends since 2026: seq chain, checksum 0), Bybit."""

from __future__ import annotations

import json
from typing import Any

from quantai_tui.connectors.binance.config import SPOT, USDM
from quantai_tui.connectors.binance.data import BinanceMarketDataClient
from quantai_tui.connectors.bybit.data import BybitMarketDataClient
from quantai_tui.connectors.okx.data import OkxMarketDataClient
from quantai_tui.core.clock import LiveClock
from quantai_tui.core.enums import AggressorSide
from tests.connectors import reference
from tests.connectors.harness import Recorder, Scenario, VenueCase, fast_options
from tests.exchange_server import ExchangeServer
from tests.exchange_server.binance import BinanceVenue
from tests.exchange_server.bybit import BybitVenue
from tests.exchange_server.okx import OkxVenue

Trade = tuple[float, float, AggressorSide, str, int]  # price, size, aggressor, id, ts_event (ns)


class BinanceSpotCase(VenueCase):
    name = "binance"
    market = "spot"
    symbol = "NKN/USDT"
    native = "NKNUSDT"

    def make_venue(self, server: ExchangeServer) -> BinanceVenue:
        return BinanceVenue(server, self.market)

    def make_client(self, server: ExchangeServer, publish: Recorder, **kw: Any) -> BinanceMarketDataClient:
        kw.setdefault("options", fast_options())
        return BinanceMarketDataClient(
            publish, LiveClock(), market=SPOT if self.market == "spot" else USDM, rest_url=server.rest_url,
            ws_url=server.ws_url, snapshot_limit=5000, snapshot_wait_s=0.2, **kw,
        )

    def book_channel(self) -> str:
        return f"{self.native.lower()}@depth@100ms"

    def reference(self, n: int | None) -> reference.Book:
        return reference.binance(self.market, self.native, n)

    def truth_seq(self, venue: BinanceVenue) -> int:
        return venue.truth[self.native].seq

    async def initial_sync(self, sc: Scenario) -> None:
        # As captured: the diffs that came before the REST snapshot, then the snapshot, then the rest.
        await sc.subscribed()
        await sc.venue.release(sc.venue.items_before_snapshot(self.native))
        await sc.wait(lambda: sc.client.is_synced(self.symbol), "the REST snapshot to be bridged")

    def captured_trades(self, venue: BinanceVenue) -> list[Trade]:
        out = []
        for item in venue.items[: venue.cursor]:
            d = item.msg["data"]
            if item.kind == "trades" and d["s"] == self.native:
                side = AggressorSide.SELLER if d["m"] else AggressorSide.BUYER
                out.append((float(d["p"]), float(d["q"]), side, str(d["a"]), d["T"] * 1_000_000))
        return out

    def captured_quotes(self, venue: BinanceVenue) -> list[tuple[float, float, float, float]] | None:
        return [
            (float(d["b"]), float(d["B"]), float(d["a"]), float(d["A"]))
            for item in venue.items[: venue.cursor]
            if item.kind == "quotes" and (d := item.msg["data"])["s"] == self.native
        ]

    def malformed_frames(self, venue: BinanceVenue) -> list[str]:
        book = next(i for i in venue.items if i.kind == "book" and i.symbol == self.native)
        text = book.text
        bad_price = json.loads(text)
        (bad_price["data"]["b"] or bad_price["data"]["a"])[0][0] = "abc"
        nan = json.loads(text)
        nan["data"]["a"] = [["NaN", "1.0"]]
        no_ids = json.loads(text)
        del no_ids["data"]["u"]
        trade = {"stream": f"{self.native.lower()}@aggTrade", "data": {"e": "aggTrade", "s": self.native, "a": 1}}
        return ["not json at all", "[1, 2, 3]", "{}", text[: len(text) // 2], json.dumps(bad_price), json.dumps(nan),
                json.dumps(no_ids), json.dumps(trade)]


class BinanceUsdmCase(BinanceSpotCase):
    name = "binanceusdm"
    market = "usdm"
    symbol = "SUSHI/USDT:USDT"
    native = "SUSHIUSDT"


class OkxCase(VenueCase):
    """OKX as captured in 2022: real CRC32 checksums, no seq ids."""

    name = "okx"
    symbol = "BTC/USDT"
    native = "BTC-USDT"
    seq_mode = False
    has_seq = False
    client_options = {"bar_timeframe": "1d"}

    def make_venue(self, server: ExchangeServer) -> OkxVenue:
        return OkxVenue(server, seq_mode=self.seq_mode)

    def make_client(self, server: ExchangeServer, publish: Recorder, **kw: Any) -> OkxMarketDataClient:
        kw.setdefault("options", fast_options())
        return OkxMarketDataClient(publish, LiveClock(), rest_url=server.rest_url, ws_url=server.ws_url, **kw)

    def book_channel(self) -> str:
        return f"books:{self.native}"

    def reference(self, n: int | None) -> reference.Book:
        return reference.okx(self.native, n)

    def truth_seq(self, venue: OkxVenue) -> int:
        return venue.truth[self.native].seq

    def captured_trades(self, venue: OkxVenue) -> list[Trade]:
        out = []
        for item in venue.items[: venue.cursor]:
            if item.kind == "trades" and item.symbol == self.native:
                for d in item.msg["data"]:
                    side = AggressorSide.BUYER if d["side"] == "buy" else AggressorSide.SELLER
                    out.append((float(d["px"]), float(d["sz"]), side, d["tradeId"], int(d["ts"]) * 1_000_000))
        return out

    def captured_quotes(self, venue: OkxVenue) -> None:
        return None  # bbo-tbt is derived from the true book by the server: checked against the book

    def malformed_frames(self, venue: OkxVenue) -> list[str]:
        book = next(i for i in venue.items if i.kind == "book" and i.symbol == self.native)
        bad_price = json.loads(book.text)
        (bad_price["data"][0]["bids"] or bad_price["data"][0]["asks"])[0][0] = "abc"
        nan = json.loads(book.text)
        nan["data"][0]["asks"] = [["NaN", "1", "0", "1"]]
        no_data = {"arg": {"channel": "books", "instId": self.native}, "action": "update"}
        trade = {"arg": {"channel": "trades", "instId": self.native}, "data": [{"px": "1"}]}
        return ["not json at all", "[1, 2, 3]", "{}", book.text[: len(book.text) // 2], json.dumps(bad_price),
                json.dumps(nan), json.dumps(no_data), json.dumps(trade)]


class OkxSeqCase(OkxCase):
    """The same market the way OKX sends it since 2026: seqId/prevSeqId, checksum 0."""

    name = "okx"
    seq_mode = True
    has_seq = True


class BybitCase(VenueCase):
    name = "bybit"
    symbol = "XRP/USDT:USDT"
    native = "XRPUSDT"
    client_options = {"book_depth": 500, "bar_timeframe": "5m"}  # the kline fixture is kline.5

    def make_venue(self, server: ExchangeServer) -> BybitVenue:
        return BybitVenue(server)

    def make_client(self, server: ExchangeServer, publish: Recorder, **kw: Any) -> BybitMarketDataClient:
        kw.setdefault("options", fast_options())
        return BybitMarketDataClient(publish, LiveClock(), rest_url=server.rest_url, ws_url=server.ws_url, **kw)

    def book_channel(self) -> str:
        return f"orderbook.500.{self.native}"

    def reference(self, n: int | None) -> reference.Book:
        return reference.bybit(n)

    def truth_seq(self, venue: BybitVenue) -> int:
        return venue.truth.seq

    def captured_trades(self, venue: BybitVenue) -> list[Trade]:
        return []  # the archive has no trades for XRPUSDT (trades are checked in test_parsing)

    def captured_quotes(self, venue: BybitVenue) -> None:
        return None  # orderbook.1 is derived from the true book: checked against the book

    def malformed_frames(self, venue: BybitVenue) -> list[str]:
        book = next(i for i in venue.items if i.kind == "book")
        bad_price = json.loads(book.text)
        bad_price["data"]["b"][0][0] = "abc"
        nan = json.loads(book.text)
        nan["data"]["a"] = [["NaN", "1"]]
        bad_type = json.loads(book.text)
        bad_type["type"] = "weird"
        no_u = json.loads(book.text)
        del no_u["data"]["u"]
        return ["not json at all", "[1, 2, 3]", "{}", book.text[: len(book.text) // 2], json.dumps(bad_price),
                json.dumps(nan), json.dumps(bad_type), json.dumps(no_u)]

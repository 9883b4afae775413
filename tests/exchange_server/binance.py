"""Binance spot (`/api/v3`) and USD-M (`/fapi/v1`) public market data, from the cryptofeed
captures in ../shared/data/exchanges/binance/cryptofeed_capture/.

WebSocket: `/stream` (combined frames `{"stream", "data"}`) and `/ws` (raw frames), streams
given in the URL (`?streams=a/b`) or by `{"method": "SUBSCRIBE", "params": [...], "id": n}`.
USD-M is routed as Binance routes it since 2026-04-23: `/public/stream|ws` deliver depth and
bookTicker, `/market/stream|ws` trades and klines; a stream subscribed on the wrong route (or on
the retired unrouted paths) is acknowledged and never delivered.
REST: `GET <prefix>/depth` (the true book at this moment; `limit` honoured),
`<prefix>/exchangeInfo` (captured), `<prefix>/ping`, `<prefix>/time`.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from tests.exchange_server.core import ExchangeServer, WsSession
from tests.exchange_server.feed import EXCHANGES, FeedItem, StrBook, VenueFeed, dumps, read_capture_http, read_capture_ws

CAPTURES = {
    "spot": ("BINANCE.ws.1.0.txt", "BINANCE.http.0.0.txt", "BINANCE.0.txt", "/api/v3"),
    "usdm": ("BINANCE_FUTURES.ws.1.0.txt", "BINANCE_FUTURES.http.0.0.txt", "BINANCE_FUTURES.0.txt", "/fapi/v1"),
}
KINDS = {"depth@100ms": "book", "aggTrade": "trades", "bookTicker": "quotes", "kline_1m": "bars"}


def load_items(market: str) -> list[FeedItem]:
    ws_file = EXCHANGES / "binance" / "cryptofeed_capture" / CAPTURES[market][0]
    items = []
    for ts, text in read_capture_ws(ws_file):
        msg = orjson.loads(text)
        name = msg["stream"]
        items.append(FeedItem(name, msg["data"]["s"], KINDS[name.split("@", 1)[1]], text, msg, ts))
    return items


def load_snapshots(market: str) -> dict[str, tuple[float, dict[str, Any]]]:
    """symbol -> (capture time, REST depth body) as captured right after the stream opened."""
    http_file = EXCHANGES / "binance" / "cryptofeed_capture" / CAPTURES[market][1]
    out = {}
    for url, ts, body in read_capture_http(http_file):
        symbol = url.split("symbol=")[1].split("&")[0]
        out[symbol] = (ts, orjson.loads(body))
    return out


class BinanceVenue(VenueFeed):
    def __init__(self, server: ExchangeServer, market: str = "spot") -> None:
        super().__init__(server, load_items(market))
        self.market = market
        self.futures = market == "usdm"
        self.prefix = CAPTURES[market][3]
        self.snapshots = load_snapshots(market)
        self.truth: dict[str, StrBook] = {}
        self.first_truth: dict[str, StrBook] = {}
        self.last_times: dict[str, tuple[int, int]] = {}
        for symbol, (_, body) in self.snapshots.items():
            b = StrBook()
            b.update(b.bids, body["bids"])
            b.update(b.asks, body["asks"])
            b.seq = body["lastUpdateId"]
            self.truth[symbol] = b
            self.first_truth[symbol] = b.copy()
            self.last_times[symbol] = (body.get("E", 0), body.get("T", 0))
        server.rest("GET", f"{self.prefix}/depth", self.depth)
        server.rest("GET", f"{self.prefix}/exchangeInfo", self.exchange_info)
        server.rest("GET", f"{self.prefix}/ping", self.ping)
        server.rest("GET", f"{self.prefix}/time", self.time)
        for route in ("/public", "/market") if self.futures else ("",):
            server.websocket(f"{route}/stream", self.on_message, on_open=self.on_open)
            server.websocket(f"{route}/ws", self.on_message, on_open=self.on_open)
        if self.futures:  # retired: connections open, subscriptions are acknowledged, nothing comes
            server.websocket("/stream", self.on_message, on_open=self.on_open)

    # --- what tests need ------------------------------------------------------------------------
    def items_before_snapshot(self, symbol: str) -> int:
        """How many items were captured before the REST snapshot of `symbol` was taken."""
        ts = self.snapshots[symbol][0]
        return sum(1 for i in self.items if i.ts < ts)

    BARRIER_ID = 9_000_000_000_000_000  # aggregate trade ids of barrier trades start here

    def barrier_frame(self, symbol: str, n: int) -> tuple[str, str]:
        channel = f"{symbol.lower()}@aggTrade"
        d = {"e": "aggTrade", "E": 0, "s": symbol, "a": self.BARRIER_ID + n, "p": "1", "q": "0", "f": 0, "l": 0,
             "T": 0, "m": False, "M": True}
        return channel, dumps({"stream": channel, "data": d})

    # --- market ---------------------------------------------------------------------------------
    def on_book(self, item: FeedItem) -> None:
        d = item.msg["data"]
        book = self.truth[d["s"]]
        if d["u"] > book.seq:
            book.update(book.bids, d["b"])
            book.update(book.asks, d["a"])
            book.seq = d["u"]
            self.last_times[d["s"]] = (d.get("E", 0), d.get("T", 0))

    def delivers(self, session: WsSession, channel: str) -> bool:
        """USD-M: whether the session's route carries this stream."""
        if not self.futures:
            return True
        kind = channel.split("@", 1)[1]
        route = "/public" if kind.startswith(("depth", "bookTicker")) else "/market"
        return session.path.startswith(route)

    def carries(self, session: WsSession, symbol: str, channel: str) -> bool:
        prefix = symbol.lower() + "@"  # every route the symbol is on (USD-M: book and trades apart)
        return any(s.startswith(prefix) for s in session.subscriptions)

    async def send_item(self, session: WsSession, channel: str, text: str) -> None:
        if not self.delivers(session, channel):
            return
        if session.path.endswith("/ws"):  # raw streams carry only the payload
            await session.send(dumps(orjson.loads(text)["data"]))
        else:
            await session.send(text)

    # --- WebSocket --------------------------------------------------------------------------------
    async def on_open(self, session: WsSession) -> None:
        streams = session.query.get("streams", "")
        session.subscriptions.update(s for s in streams.split("/") if s)

    async def on_message(self, session: WsSession, text: str) -> None:
        try:
            msg = orjson.loads(text)
            method, rid = msg["method"], msg.get("id")
        except (ValueError, KeyError, TypeError):
            await session.send({"error": {"code": 3, "msg": "Invalid JSON"}})
            return
        params = msg.get("params") or []
        if method == "SUBSCRIBE":
            session.subscriptions.update(params)
            await session.send({"result": None, "id": rid})
        elif method == "UNSUBSCRIBE":
            session.subscriptions.difference_update(params)
            await session.send({"result": None, "id": rid})
        elif method == "LIST_SUBSCRIPTIONS":
            await session.send({"result": sorted(session.subscriptions), "id": rid})
        else:
            await session.send({"error": {"code": 1, "msg": f"Unknown method {method}"}, "id": rid})

    # --- REST -------------------------------------------------------------------------------------
    async def depth(self, request: web.Request) -> web.Response:
        symbol = request.query.get("symbol", "")
        if symbol not in self.truth:
            return self.server.json({"code": -1121, "msg": "Invalid symbol."}, status=400)
        if self.server.faults.throttle_snapshots:  # Binance's answer to too many requests
            wait = self.server.faults.throttle_snapshots.pop(0)
            return self.server.json({"code": -1003, "msg": "Too many requests; please use the websocket."}, 429,
                                    {"Retry-After": str(int(wait))})
        limit = int(request.query.get("limit", "100"))
        book = self.truth[symbol]
        if self.server.faults.stale_snapshots > 0:
            self.server.faults.stale_snapshots -= 1
            book = self.first_truth[symbol]
        body: dict[str, Any] = {
            "lastUpdateId": book.seq,
            "bids": [list(lv) for lv in book.sorted_bids(limit)],
            "asks": [list(lv) for lv in book.sorted_asks(limit)],
        }
        if self.futures:
            e, t = self.last_times[symbol]
            body = {"lastUpdateId": book.seq, "E": e, "T": t, "bids": body["bids"], "asks": body["asks"]}
        await self.server.rest_delay()  # a slow reply: the book is taken now, it arrives later
        return self.server.json(body)

    async def exchange_info(self, request: web.Request) -> web.Response:
        path = EXCHANGES / "binance" / "cryptofeed_capture" / CAPTURES[self.market][2]
        line = path.read_text().splitlines()[0]
        return web.Response(text=line.split(": ", 1)[1], content_type="application/json")

    async def ping(self, request: web.Request) -> web.Response:
        return self.server.json({})

    async def time(self, request: web.Request) -> web.Response:
        import time

        return self.server.json({"serverTime": int(time.time() * 1000)})

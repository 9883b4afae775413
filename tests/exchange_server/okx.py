"""OKX v5 public market data, from the cryptofeed capture
../shared/data/exchanges/okx/cryptofeed_capture/OKX.ws.1.0.txt (2022-05-13: `books` with real
CRC32 checksums and no seq ids, `trades`, `tickers` for BTC-USDT, UNI-USD-SWAP, BTC-USD-220527)
and the nautilus `ws_candle.json` fixture (BTC-USDT candle1D).

WebSocket: `/ws/v5/public` and `/ws/v5/business`; `{"op": "subscribe"|"unsubscribe", "args":
[{"channel", "instId"}]}`; the text `ping` is answered `pong`. Subscribing to `books` pushes a
snapshot of the true book; `bbo-tbt` frames are derived from the true book after each update
(the capture has none). Candle channels match with or without the `utc` suffix.

`seq_mode=True` replays the same updates the way OKX sends them since 2026: with
seqId/prevSeqId (ids jump, not +1) and checksum 0.
REST: `/api/v5/public/instruments?instType=SPOT|SWAP|FUTURES` (captured), `/api/v5/public/time`.
"""

from __future__ import annotations

import time
from typing import Any
from zlib import crc32

import orjson
from aiohttp import web

from tests.exchange_server.core import ExchangeServer, WsSession
from tests.exchange_server.feed import EXCHANGES, FeedItem, StrBook, VenueFeed, dumps, read_capture_http, read_capture_ws

CAPTURE = EXCHANGES / "okx" / "cryptofeed_capture"
KINDS = {"books": "book", "trades": "trades", "tickers": "tickers"}


def channel_key(channel: str, inst: str) -> str:
    if channel.startswith("candle"):
        channel = channel.removesuffix("utc")
    return f"{channel}:{inst}"


def load_items() -> list[FeedItem]:
    items = []
    for ts, text in read_capture_ws(CAPTURE / "OKX.ws.1.0.txt"):
        msg = orjson.loads(text)
        if "event" in msg or "data" not in msg:
            continue
        arg = msg["arg"]
        items.append(FeedItem(channel_key(arg["channel"], arg["instId"]), arg["instId"], KINDS[arg["channel"]],
                              text, msg, ts))
    candle = orjson.loads((EXCHANGES / "okx" / "nautilus_crate" / "ws_candle.json").read_bytes())
    arg = candle["arg"]
    items.append(FeedItem(channel_key(arg["channel"], arg["instId"]), arg["instId"], "bars", dumps(candle), candle,
                          items[-1].ts))
    return items


def okx_checksum(book: StrBook) -> int:
    bids, asks = book.sorted_bids(25), book.sorted_asks(25)
    parts = []
    for i in range(25):
        if i < len(bids):
            parts.append(f"{bids[i][0]}:{bids[i][1]}")
        if i < len(asks):
            parts.append(f"{asks[i][0]}:{asks[i][1]}")
    v = crc32(":".join(parts).encode())
    return v - (1 << 32) if v >= 1 << 31 else v


class OkxVenue(VenueFeed):
    def __init__(self, server: ExchangeServer, seq_mode: bool = False) -> None:
        items = load_items()
        self.seq_mode = seq_mode
        # The true book starts at each instrument's captured snapshot, which is then not replayed:
        # a subscriber gets the snapshot of the moment it subscribes, like on OKX.
        self.truth: dict[str, StrBook] = {}
        self.book_ts: dict[str, str] = {}
        kept = []
        for item in items:
            if item.kind == "book" and item.msg["action"] == "snapshot":
                d = item.msg["data"][0]
                book = StrBook()
                book.update(book.bids, d["bids"])
                book.update(book.asks, d["asks"])
                book.seq = 1_000_000 + 7 * len(self.truth)
                self.truth[item.symbol] = book
                self.book_ts[item.symbol] = d["ts"]
            else:
                kept.append(item)
        super().__init__(server, kept)
        self.first_truth = {k: v.copy() for k, v in self.truth.items()}
        self._next_jump = 0
        for path in ("/ws/v5/public", "/ws/v5/business"):
            server.websocket(path, self.on_message)
        server.rest("GET", "/api/v5/public/instruments", self.instruments)
        server.rest("GET", "/api/v5/public/time", self.time)

    # --- market ---------------------------------------------------------------------------------
    def on_book(self, item: FeedItem) -> None:
        d = item.msg["data"][0]
        book = self.truth[item.symbol]
        book.update(book.bids, d["bids"])
        book.update(book.asks, d["asks"])
        self.book_ts[item.symbol] = d["ts"]
        if self.seq_mode:  # as OKX sends it since 2026: a jumping seq chain, no checksum
            prev = book.seq
            self._next_jump = (self._next_jump + 1) % 5
            book.seq = prev + 3 + self._next_jump
            d2 = {**d, "checksum": 0, "prevSeqId": prev, "seqId": book.seq}
            item.text = dumps({"arg": item.msg["arg"], "action": "update", "data": [d2]})

    def snapshot_frame(self, inst: str) -> str:
        book = self.truth[inst]
        d: dict[str, Any] = {
            "asks": [[p, s, "0", "1"] for p, s in book.sorted_asks()],
            "bids": [[p, s, "0", "1"] for p, s in book.sorted_bids()],
            "ts": self.book_ts[inst],
        }
        if self.seq_mode:
            d.update(checksum=0, prevSeqId=-1, seqId=book.seq)
        else:
            d["checksum"] = okx_checksum(book)
        return dumps({"arg": {"channel": "books", "instId": inst}, "action": "snapshot", "data": [d]})

    def bbo_frame(self, inst: str) -> str | None:
        book = self.truth[inst]
        bids, asks = book.sorted_bids(1), book.sorted_asks(1)
        if not bids or not asks:
            return None
        d = {"asks": [[asks[0][0], asks[0][1], "0", "1"]], "bids": [[bids[0][0], bids[0][1], "0", "1"]],
             "ts": self.book_ts[inst], "seqId": book.seq}
        return dumps({"arg": {"channel": "bbo-tbt", "instId": inst}, "data": [d]})

    def derived(self, item: FeedItem) -> list[tuple[str, str]]:
        frame = self.bbo_frame(item.symbol)
        return [(channel_key("bbo-tbt", item.symbol), frame)] if frame else []

    def barrier_frame(self, symbol: str, n: int) -> tuple[str, str]:
        d = {"instId": symbol, "tradeId": f"barrier-{n}", "px": "1", "sz": "0", "side": "buy", "ts": "0"}
        return channel_key("trades", symbol), dumps({"arg": {"channel": "trades", "instId": symbol}, "data": [d]})

    # --- WebSocket --------------------------------------------------------------------------------
    async def on_message(self, session: WsSession, text: str) -> None:
        if text == "ping":
            await session.send("pong")
            return
        try:
            msg = orjson.loads(text)
            op, args = msg["op"], msg["args"]
        except (ValueError, KeyError, TypeError):
            await session.send({"event": "error", "code": "60012", "msg": f"Invalid request: {text[:100]}"})
            return
        for arg in args:
            inst, channel = arg.get("instId", ""), arg.get("channel", "")
            if op == "unsubscribe":
                session.subscriptions.discard(channel_key(channel, inst))
                await session.send({"event": "unsubscribe", "arg": arg, "connId": str(session.id)})
                continue
            if op != "subscribe" or inst not in self.truth:
                await session.send({"event": "error", "code": "60018",
                                    "msg": f"Wrong URL or channel:{channel},instId:{inst} doesn't exist"})
                continue
            session.subscriptions.add(channel_key(channel, inst))
            await session.send({"event": "subscribe", "arg": arg, "connId": str(session.id)})
            if channel == "books":
                await session.send(self.snapshot_frame(inst))
            elif channel == "bbo-tbt":
                frame = self.bbo_frame(inst)
                if frame:
                    await session.send(frame)

    # --- REST -------------------------------------------------------------------------------------
    async def instruments(self, request: web.Request) -> web.Response:
        await self.server.rest_delay()
        inst_type = request.query.get("instType", "")
        for url, _, body in read_capture_http(CAPTURE / "OKX.0.txt"):
            if url.endswith(f"instType={inst_type}"):
                return web.Response(text=body, content_type="application/json")
        return self.server.json({"code": "0", "msg": "", "data": []})

    async def time(self, request: web.Request) -> web.Response:
        return self.server.json({"code": "0", "msg": "", "data": [{"ts": str(int(time.time() * 1000))}]})

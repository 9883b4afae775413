"""Bybit v5 public market data, from Bybit's own history archive
../shared/data/exchanges/bybit/bybit_history_ob500/2024-12-01_XRPUSDT_ob500.data (orderbook.500,
linear XRPUSDT: 1 snapshot + 49 deltas) and the nautilus v5 fixtures (publicTrade and kline
for BTCUSDT).

WebSocket: `/v5/public/{spot,linear,inverse}`; `{"op": "subscribe"|"unsubscribe", "args":
[topics], "req_id"}`; `{"op": "ping"}` is answered with a pong. Subscribing to
`orderbook.N.SYM` pushes a snapshot of the true book. Depth 500 replays the captured deltas;
other depths (1, 50, 200 ...) are derived from the true book the way Bybit builds them (the
top N after each change, with their own continuous `u`); `orderbook.1` is pushed as snapshots.
REST: `/v5/market/instruments-info?category=` (fixtures), `/v5/market/time`.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from tests.exchange_server.core import ExchangeServer, WsSession
from tests.exchange_server.feed import EXCHANGES, FeedItem, StrBook, VenueFeed, dumps

OB500 = EXCHANGES / "bybit" / "bybit_history_ob500" / "2024-12-01_XRPUSDT_ob500.data"
FIXTURES = EXCHANGES / "bybit" / "nautilus_py_2025"
CAPTURED_DEPTH = 500
INSTRUMENTS = {
    "spot": FIXTURES / "http_responses" / "spot" / "instruments.json",
    "linear": FIXTURES / "http_responses" / "linear" / "instruments.json",
    "inverse": EXCHANGES / "bybit" / "nautilus_crate" / "http_get_instruments_inverse.json",
}


def load() -> tuple[dict[str, Any], list[FeedItem]]:
    """(the captured snapshot message, the items after it)."""
    lines = OB500.read_text().splitlines()
    snapshot = orjson.loads(lines[0])
    items = []
    for text in lines[1:]:
        msg = orjson.loads(text)
        items.append(FeedItem(msg["topic"], msg["data"]["s"], "book", text, msg, msg["ts"] / 1000))
    for name, kind in (("ws_trade.json", "trades"), ("ws_kline.json", "bars")):
        msg = orjson.loads((FIXTURES / "ws_messages" / "public" / name).read_bytes())
        symbol = msg["topic"].rsplit(".", 1)[1]
        items.append(FeedItem(msg["topic"], symbol, kind, dumps(msg), msg, items[-1].ts))
    return snapshot, items


class _Derived:
    """A depth-N stream built from the true book: its top N, its own u."""

    def __init__(self, top: tuple[dict[float, tuple[str, str]], dict[float, tuple[str, str]]]) -> None:
        self.top = top
        self.u = 100


class BybitVenue(VenueFeed):
    def __init__(self, server: ExchangeServer) -> None:
        snapshot, items = load()
        super().__init__(server, items)
        d = snapshot["data"]
        self.symbol = d["s"]
        self.truth = StrBook()
        self.truth.update(self.truth.bids, d["b"])
        self.truth.update(self.truth.asks, d["a"])
        self.truth.seq = d["u"]
        self.ts = snapshot["ts"]
        self.derived_streams: dict[int, _Derived] = {}
        for cat in ("spot", "linear", "inverse"):
            server.websocket(f"/v5/public/{cat}", self.on_message)
        server.rest("GET", "/v5/market/instruments-info", self.instruments)
        server.rest("GET", "/v5/market/time", self.time)

    # --- market ---------------------------------------------------------------------------------
    def on_book(self, item: FeedItem) -> None:
        d = item.msg["data"]
        self.truth.update(self.truth.bids, d["b"])
        self.truth.update(self.truth.asks, d["a"])
        self.truth.seq = d["u"]
        self.ts = item.msg["ts"]

    def _top(self, n: int) -> tuple[dict[float, tuple[str, str]], dict[float, tuple[str, str]]]:
        b, a = self.truth.bids, self.truth.asks
        return ({p: b[p] for p in sorted(b, reverse=True)[:n]}, {p: a[p] for p in sorted(a)[:n]})

    def derived(self, item: FeedItem) -> list[tuple[str, str]]:
        out = []
        for n, stream in self.derived_streams.items():
            top = self._top(n)
            changes = []
            for old, new in zip(stream.top, top, strict=True):
                side = [list(v) for p, v in new.items() if old.get(p) != v]
                side += [[v[0], "0"] for p, v in old.items() if p not in new]
                changes.append(side)
            stream.top = top
            if not changes[0] and not changes[1]:
                continue
            stream.u += 1
            if n == 1:  # level 1 goes out as snapshots
                out.append((f"orderbook.1.{self.symbol}", self.book_frame(1, "snapshot")))
            else:
                data = {"s": self.symbol, "b": changes[0], "a": changes[1], "u": stream.u, "seq": stream.u}
                out.append((f"orderbook.{n}.{self.symbol}",
                            dumps({"topic": f"orderbook.{n}.{self.symbol}", "type": "delta", "ts": self.ts,
                                   "data": data, "cts": self.ts})))
        return out

    def book_frame(self, depth: int, kind: str = "snapshot") -> str:
        if depth == CAPTURED_DEPTH:
            bids, asks, u = self.truth.sorted_bids(), self.truth.sorted_asks(), self.truth.seq
        else:
            stream = self.derived_streams[depth]
            bids = [stream.top[0][p] for p in sorted(stream.top[0], reverse=True)]
            asks = [stream.top[1][p] for p in sorted(stream.top[1])]
            u = stream.u
        data = {"s": self.symbol, "b": [list(v) for v in bids], "a": [list(v) for v in asks], "u": u, "seq": u}
        return dumps({"topic": f"orderbook.{depth}.{self.symbol}", "type": kind, "ts": self.ts, "data": data,
                      "cts": self.ts})

    def barrier_frame(self, symbol: str, n: int) -> tuple[str, str]:
        topic = f"publicTrade.{symbol}"
        d = {"T": 0, "s": symbol, "S": "Buy", "v": "0", "p": "1", "L": "PlusTick", "i": f"barrier-{n}", "BT": False}
        return topic, dumps({"topic": topic, "type": "snapshot", "ts": 0, "data": [d]})

    # --- WebSocket --------------------------------------------------------------------------------
    async def on_message(self, session: WsSession, text: str) -> None:
        try:
            msg = orjson.loads(text)
            op = msg["op"]
        except (ValueError, KeyError, TypeError):
            await session.send({"success": False, "ret_msg": "Invalid request", "op": ""})
            return
        rid = msg.get("req_id", "")
        if op == "ping":
            await session.send({"success": True, "ret_msg": "pong", "conn_id": str(session.id), "req_id": rid,
                                "op": "ping"})
            return
        topics = msg.get("args") or []
        if op == "unsubscribe":
            session.subscriptions.difference_update(topics)
            await session.send({"success": True, "ret_msg": "", "conn_id": str(session.id), "req_id": rid,
                                "op": "unsubscribe"})
            return
        bad = [t for t in topics if not self._known(t)]
        if op != "subscribe" or bad:
            await session.send({"success": False, "ret_msg": f"error:handler not found,topic:{bad}",
                                "conn_id": str(session.id), "req_id": rid, "op": op})
            return
        session.subscriptions.update(topics)
        await session.send({"success": True, "ret_msg": "", "conn_id": str(session.id), "req_id": rid,
                            "op": "subscribe"})
        for topic in topics:
            if topic.startswith("orderbook."):
                depth = int(topic.split(".")[1])
                if depth != CAPTURED_DEPTH and depth not in self.derived_streams:
                    self.derived_streams[depth] = _Derived(self._top(depth))
                await session.send(self.book_frame(depth))

    def _known(self, topic: str) -> bool:
        parts = topic.split(".")
        if parts[0] == "orderbook":
            return len(parts) == 3 and parts[1].isdigit() and parts[2] == self.symbol
        return parts[0] in ("publicTrade", "kline", "tickers")

    # --- REST -------------------------------------------------------------------------------------
    async def instruments(self, request: web.Request) -> web.Response:
        await self.server.rest_delay()
        path = INSTRUMENTS.get(request.query.get("category", ""))
        if path is None:
            return self.server.json({"retCode": 10001, "retMsg": "params error", "result": {}})
        return web.Response(body=path.read_bytes(), content_type="application/json")

    async def time(self, request: web.Request) -> web.Response:
        return web.Response(body=(FIXTURES / "http_responses" / "server_time.json").read_bytes(),
                            content_type="application/json")

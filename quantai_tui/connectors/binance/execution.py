"""Binance live execution: spot ("binance", /api/v3) and USD-M futures ("binanceusdm", /fapi).

REST through ccxt's implicit methods (signed by ccxt, raw JSON parsed exactly); order, fill and
cancel updates from the user data stream. Spot: Binance retired the spot listenKey on
2026-02-20, so the stream is a WebSocket API subscription: connect to `/ws-api/v3`, send
`userDataStream.subscribe.signature` (apiKey, timestamp, HMAC-SHA256 of `apiKey=..&timestamp=..`),
then `executionReport` events arrive as `{"subscriptionId", "event"}`; `eventStreamTerminated`
means subscribe again on a new connection. USD-M: a listenKey (POST, kept alive with PUT every
`keepalive_s`, renewed when Binance says it expired) and the routed
`wss://fstream.binance.com/private/ws?listenKey=<key>`, carrying `ORDER_TRADE_UPDATE`. Client order ids go out as `newClientOrderId` (lookups:
`origClientOrderId`).

Amend: USD-M `PUT /fapi/v1/order` (price and quantity); spot only `order/amend/keepPriority`,
which can lower the quantity and nothing else (a price change is refused). Rate limits: 429
and 418 come with Retry-After (RateLimited); our limiter pauses for it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from typing import Any
from urllib.parse import urlsplit

import orjson

from quantai_tui.connectors.binance.config import MARKETS
from quantai_tui.connectors.stream import Conn
from quantai_tui.connectors.live_execution import (
    LiveExecutionClient,
    OrderMissing,
    dec,
    make_factory,
    ms_to_ns,
    plain,
    price,
    qty,
    retry_after_s,
    split_native,
    text,
)
from quantai_tui.core.enums import OrderSide, OrderStatus, OrderType
from quantai_tui.core.errors import QuantAIError, RateLimited, VenueRejected, VenueUnavailable
from quantai_tui.core.execution import AccountReport, FillReport, OrderRequest, OrderStatusReport, PositionReport
from quantai_tui.core.symbols import parse_symbol
from quantai_tui.core.values import Price, Quantity

STATUS = {"NEW": OrderStatus.ACCEPTED, "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
          "FILLED": OrderStatus.FILLED, "CANCELED": OrderStatus.CANCELED, "PENDING_CANCEL": OrderStatus.ACCEPTED,
          "REJECTED": OrderStatus.REJECTED, "EXPIRED": OrderStatus.EXPIRED, "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,
          "PENDING_NEW": OrderStatus.ACCEPTED}
TYPES = {"LIMIT": OrderType.LIMIT, "LIMIT_MAKER": OrderType.LIMIT, "MARKET": OrderType.MARKET,
         "STOP_LOSS": OrderType.STOP_MARKET, "STOP_MARKET": OrderType.STOP_MARKET,
         "STOP_LOSS_LIMIT": OrderType.STOP_LIMIT, "STOP": OrderType.STOP_LIMIT}
MISSING = {-2013, -2011}  # order does not exist / unknown order sent
EXPIRED_LISTEN_KEY = -1125
WS_API_PATH = "/ws-api/v3"


class BinanceExecutionClient(LiveExecutionClient):
    supports_amend = True

    def __init__(self, venue: str, settings: Any, report: Any, clock: Any, credentials: Any, *,
                 keepalive_s: float = 30 * 60.0, **options: Any) -> None:
        self.market = MARKETS[venue]
        self.futures = self.market.futures
        self.exchange_id = venue
        self.default_rate = (20.0, 100) if self.futures else (10.0, 50)  # ~ 300 / 100 orders per 10 s
        self.ccxt_options = {"maxRetriesOnFailure": 0, "disableFuturesSandboxWarning": True,
                             "recvWindow": 10_000}
        super().__init__(venue, settings, report, clock, credentials, **options)
        self.keepalive_s = keepalive_s
        self.listen_key: str | None = None
        self.keepalives = 0
        self._ep = "fapiprivate" if self.futures else "private"

    # --- REST plumbing ---------------------------------------------------------------------------
    def api(self, method: str, path: str) -> Any:
        return getattr(self.ex, f"{self._ep}_{method}_{path}")

    def _classify(self, status: int, headers: dict[str, Any], body: str, parsed: Any) -> QuantAIError | None:
        if status in (418, 429):  # 418: banned for ignoring 429s; both say how long in Retry-After
            return RateLimited(f"{self.venue}: HTTP {status} rate limited: {str(body)[:200]}",
                               retry_after_s(headers, 60.0 if status == 418 else 1.0))
        if not isinstance(parsed, dict) or "code" not in parsed or status < 400:
            return VenueUnavailable(f"{self.venue}: HTTP {status}") if status >= 500 else None
        code, msg = int(parsed.get("code", 0)), str(parsed.get("msg", ""))
        if code == -1003:
            return RateLimited(f"{self.venue}: {code} {msg}", retry_after_s(headers, 1.0))
        if code in MISSING:
            return OrderMissing(f"{self.venue}: {code} {msg}")
        if status >= 500 or code in (-1001, -1006, -1007):  # disconnected / unexpected / timeout
            return VenueUnavailable(f"{self.venue}: {code} {msg}")
        return VenueRejected(f"{self.venue}: {code} {msg}")

    # --- symbols -------------------------------------------------------------------------------------
    def _native_of(self, symbol: str) -> str:
        info = parse_symbol(symbol)
        return f"{info.base}{info.quote}"

    def symbol_of(self, native: str, hint: str = "") -> str:
        known = self._names.get(native)
        if known:
            return known
        pair = split_native(native)
        if pair is None:
            return hint or native
        b, q = pair
        return f"{b}/{q}:{q}" if self.futures else f"{b}/{q}"

    # --- orders -------------------------------------------------------------------------------------------
    async def _submit(self, order: OrderRequest) -> None:
        sym = order.symbol
        p: dict[str, Any] = {"symbol": self.native(sym), "side": order.side.value, "quantity": text(order.quantity),
                             "newClientOrderId": order.client_order_id,
                             "newOrderRespType": "RESULT" if self.futures else "FULL"}
        t, tif = order.order_type, order.time_in_force.value
        if t in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            assert order.price is not None
            p["price"] = text(order.price)
        if t in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT):
            assert order.trigger_price is not None
            p["stopPrice"] = text(order.trigger_price)
        if self.futures:
            p["type"] = {OrderType.LIMIT: "LIMIT", OrderType.MARKET: "MARKET", OrderType.STOP_MARKET: "STOP_MARKET",
                         OrderType.STOP_LIMIT: "STOP"}[t]
            if t in (OrderType.LIMIT, OrderType.STOP_LIMIT):
                p["timeInForce"] = "GTX" if order.post_only else tif
            if order.reduce_only:
                p["reduceOnly"] = "true"
        else:
            if order.reduce_only:
                raise VenueRejected(f"{self.venue}: spot orders cannot be reduce-only")
            if t is OrderType.LIMIT and order.post_only:
                p["type"] = "LIMIT_MAKER"
            else:
                p["type"] = {OrderType.LIMIT: "LIMIT", OrderType.MARKET: "MARKET", OrderType.STOP_MARKET: "STOP_LOSS",
                             OrderType.STOP_LIMIT: "STOP_LOSS_LIMIT"}[t]
                if t in (OrderType.LIMIT, OrderType.STOP_LIMIT):
                    p["timeInForce"] = tif
        self.traded.add(sym)
        resp = await self.call(self.api("post", "order"), p, create=True)
        self._apply_rest_order(resp, order.client_order_id, sym)

    def _apply_rest_order(self, d: dict[str, Any], coid: str, sym: str) -> None:
        """What a REST reply says about an order: its id, spot FULL fills, a terminal status."""
        vid = str(d.get("orderId", ""))
        self.remember(vid, coid)
        status = d.get("status", "")
        ts = d.get("transactTime") or d.get("updateTime")
        if status in ("NEW", "PARTIALLY_FILLED", "FILLED", "EXPIRED", "CANCELED", "EXPIRED_IN_MATCH"):
            self.accepted(coid, sym, vid, ms_to_ns(ts) or None)
        side = OrderSide(d.get("side", "BUY"))
        quote = parse_symbol(sym).quote
        for f in d.get("fills") or []:
            self.fill_once(coid, sym, vid, str(f["tradeId"]), side, f["qty"], f["price"], f["commission"],
                           f.get("commissionAsset") or quote, False, ts)
        if status == "CANCELED":
            self.canceled(coid, sym, vid, "", ms_to_ns(ts) or None)
        elif status in ("EXPIRED", "EXPIRED_IN_MATCH"):  # an IOC remainder; fills still apply after it
            self.expired(coid, sym, vid, ms_to_ns(ts) or None)
        elif status == "REJECTED":
            self.rejected(coid, sym, "rejected by the venue", ms_to_ns(ts) or None)

    async def _cancel(self, client_order_id: str, symbol: str) -> None:
        resp = await self.call(self.api("delete", "order"),
                               {"symbol": self.native(symbol), "origClientOrderId": client_order_id})
        if resp.get("status") == "CANCELED":
            self.canceled(client_order_id, symbol, str(resp.get("orderId", "")), "",
                          ms_to_ns(resp.get("transactTime") or resp.get("updateTime")) or None)

    async def _cancel_all(self, symbol: str | None) -> bool:
        symbols = [symbol] if symbol else sorted({o.symbol for o in await self._open_orders(None)})
        path = "allopenorders" if self.futures else "openorders"
        for sym in symbols:
            try:
                resp = await self.call(self.api("delete", path), {"symbol": self.native(sym)})
            except OrderMissing:  # spot: nothing was open
                continue
            for d in resp if isinstance(resp, list) else []:
                coid = d.get("origClientOrderId", "")
                if coid and d.get("status") == "CANCELED":
                    self.canceled(coid, sym, str(d.get("orderId", "")), "cancel all")
        return True

    async def _modify(self, client_order_id: str, symbol: str, quantity: Quantity | None, px: Price | None) -> None:
        native = self.native(symbol)
        if not self.futures:
            if px is not None or quantity is None:
                raise VenueRejected(f"{self.venue}: spot orders can only have their quantity lowered (keepPriority)")
            resp = await self.call(self.raw("order/amend/keepPriority", "private", "PUT"),
                                   {"symbol": native, "origClientOrderId": client_order_id,
                                    "newClientOrderId": client_order_id, "newQty": text(quantity)})
            d = resp.get("amendedOrder") or {}
            self.updated(client_order_id, symbol, qty(d.get("qty", text(quantity))), price(d.get("price")))
            return
        cur = await self._query_order(client_order_id, symbol)
        if cur is None:
            raise OrderMissing(f"{self.venue}: order {client_order_id} does not exist")
        p = {"symbol": native, "origClientOrderId": client_order_id, "side": cur.side.value,
             "quantity": text(quantity or cur.quantity), "price": text(px or cur.price or Price("0"))}
        d = await self.call(self.api("put", "order"), p)
        self.updated(client_order_id, symbol, qty(d.get("origQty")), price(d.get("price")))

    # --- reads --------------------------------------------------------------------------------------------
    def _status_report(self, d: dict[str, Any], hint: str = "") -> OrderStatusReport:
        sym = self.symbol_of(d["symbol"], hint)
        vid, coid = str(d["orderId"]), d.get("clientOrderId", "")
        self.remember(vid, coid)
        filled = dec(d.get("executedQty"))
        if self.futures:
            avg = price(d.get("avgPrice"))
        else:
            cum = dec(d.get("cummulativeQuoteQty"))
            avg = price(plain(cum / filled)) if filled and cum else None
        return OrderStatusReport(coid, vid, sym, OrderSide(d["side"]), TYPES.get(d.get("type", ""), OrderType.LIMIT),
                                 STATUS.get(d.get("status", ""), OrderStatus.ACCEPTED), qty(d.get("origQty")),
                                 qty(d.get("executedQty")), price(d.get("price")), avg,
                                 ms_to_ns(d.get("updateTime") or d.get("time")))

    async def _query_order(self, client_order_id: str, symbol: str) -> OrderStatusReport | None:
        self.traded.add(symbol)
        try:
            d = await self.call(self.api("get", "order"),
                                {"symbol": self.native(symbol), "origClientOrderId": client_order_id})
        except OrderMissing:
            return None
        return self._status_report(d, symbol)

    async def _open_orders(self, symbol: str | None) -> list[OrderStatusReport]:
        params = {"symbol": self.native(symbol)} if symbol else {}
        rows = await self.call(self.api("get", "openorders"), params)
        out = [self._status_report(d, symbol or "") for d in rows]
        self.traded.update(r.symbol for r in out)
        return out

    async def _coid_of(self, vid: str, native: str) -> str:
        coid = self.coids.get(vid)
        if coid is None:
            try:
                d = await self.call(self.api("get", "order"), {"symbol": native, "orderId": vid})
                coid = d.get("clientOrderId", "")
            except OrderMissing:
                coid = ""
            self.remember(vid, coid)
        return coid or ""

    async def _fills_since(self, ts_ns: int, symbol: str | None) -> list[FillReport]:
        out: list[FillReport] = []
        path = "usertrades" if self.futures else "mytrades"
        for sym in ([symbol] if symbol else sorted(self.traded)):
            native = self.native(sym)
            params: dict[str, Any] = {"symbol": native, "startTime": max(0, ts_ns // 1_000_000), "limit": 1000}
            while True:
                rows = await self.call(self.api("get", path), params)
                for t in rows:
                    vid = str(t["orderId"])
                    side = OrderSide(t["side"]) if "side" in t else (OrderSide.BUY if t.get("isBuyer") else OrderSide.SELL)
                    px = price(t["price"])
                    if px is None:
                        continue
                    out.append(FillReport(await self._coid_of(vid, native), vid, str(t["id"]), sym, side, qty(t["qty"]),
                                          px, dec(t.get("commission")), t.get("commissionAsset") or "",
                                          ms_to_ns(t.get("time"))))
                if len(rows) < params["limit"]:
                    break
                params = {"symbol": native, "fromId": int(rows[-1]["id"]) + 1, "limit": 1000}
        return sorted(out, key=lambda f: f.ts_event)

    async def _account(self) -> AccountReport:
        if not self.futures:
            d = await self.call(self.api("get", "account"), {})
            bals = {b["asset"]: (dec(b["free"]) + dec(b["locked"]), dec(b["free"])) for b in d.get("balances", [])}
            return AccountReport(bals)
        d = await self.call(self.ex.fapiprivatev2_get_account, {})
        bals = {a["asset"]: (dec(a["walletBalance"]), dec(a.get("availableBalance"))) for a in d.get("assets", [])}
        pos = tuple(PositionReport(self.symbol_of(p["symbol"]), dec(p["positionAmt"]), dec(p.get("entryPrice")),
                                   dec(p.get("leverage") or 1))
                    for p in d.get("positions", []) if dec(p.get("positionAmt")))
        return AccountReport(bals, pos)

    # --- user data stream ---------------------------------------------------------------------------------
    def _ws_url(self) -> str:
        o = self.settings.ws_url
        m = self.market
        if o:
            u = urlsplit(o)
            return f"{u.scheme}://{u.netloc}" + ("" if self.futures else WS_API_PATH)
        if not self.futures:
            return m.testnet_user_ws_api_url if self.settings.testnet else m.user_ws_api_url
        return (m.testnet_ws_url if self.settings.testnet else m.ws_url).rstrip("/")

    async def _new_listen_key(self) -> str:
        d = await self.call(self.ex.fapiprivate_post_listenkey, {})
        return str(d["listenKey"])

    async def _dial(self, url: str) -> Any:
        if not self.futures:
            return await super()._dial(url)  # the WebSocket API: the subscription is a request on it
        if self.listen_key is None:  # a fresh (or the still valid) key for every connection
            self.listen_key = await self._new_listen_key()
        return await super()._dial(f"{url}/private/ws?listenKey={self.listen_key}")  # the routed user path

    async def _ws_login(self, conn: Conn) -> None:
        if self.futures:
            return  # the listenKey in the URL is the subscription
        key = self.creds.api_key.reveal()
        ts = int(time.time() * 1000)
        sig = hmac.new(self.creds.api_secret.reveal().encode(), f"apiKey={key}&timestamp={ts}".encode(),
                       hashlib.sha256).hexdigest()
        req_id = f"subscribe-{ts}"
        await self.send_json(conn, {"id": req_id, "method": "userDataStream.subscribe.signature",
                                    "params": {"apiKey": key, "timestamp": ts, "signature": sig}})
        while True:
            msg = await self.recv_json(conn)
            if msg.get("id") != req_id:
                continue
            if msg.get("status") == 200:
                return
            err = msg.get("error") or {}
            raise VenueRejected(self.redact(f"{self.venue}: user data subscription refused: "
                                            f"{err.get('code')} {err.get('msg')}"))

    async def _after_connect(self) -> None:
        if self.futures:
            self.create_task(self._keepalive(), "listenkey-keepalive")

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(self.keepalive_s)
            key = self.listen_key
            if key is None:
                continue
            try:
                await self.call(self.api("put", "listenkey"), {"listenKey": key})
                self.keepalives += 1
            except VenueRejected as exc:  # -1125: it expired: take a new one on a new connection
                self.log.warning("listenKey keepalive refused (%s): renewing the user stream", exc)
                self.listen_key = None
                self.abort_stream("listenKey expired")
            except Exception as exc:
                self.log.warning("listenKey keepalive failed: %r", exc)

    def _on_user_frame(self, raw: bytes) -> None:
        msg = orjson.loads(raw)
        if "data" in msg and "stream" in msg:  # a combined-stream wrapper
            msg = msg["data"]
        elif "event" in msg and "subscriptionId" in msg:  # the WebSocket API's user data wrapper
            msg = msg["event"]
        elif "id" in msg and "status" in msg:  # a WebSocket API response (the subscription's)
            return
        e = msg.get("e")
        if e == "executionReport":
            self._on_execution_report(msg)
        elif e == "ORDER_TRADE_UPDATE":
            self._on_order_trade_update(msg["o"])
        elif e == "listenKeyExpired":
            self.log.warning("listenKey expired: renewing the user stream")
            self.listen_key = None
            self.abort_stream("listenKey expired")
        elif e == "eventStreamTerminated":  # the WebSocket API session ended the subscription
            self.log.warning("user data stream terminated by the venue: subscribing again")
            self.abort_stream("user data stream terminated")

    def _on_execution_report(self, d: dict[str, Any]) -> None:
        x = d["x"]
        coid = d.get("C") or d["c"]  # a cancel carries the original id in C
        self._on_update(x, coid, d["s"], str(d["i"]), d, d["T"])

    def _on_order_trade_update(self, d: dict[str, Any]) -> None:
        self._on_update(d["x"], d["c"], d["s"], str(d["i"]), d, d["T"])

    def _on_update(self, x: str, coid: str, native: str, vid: str, d: dict[str, Any], ts_ms: Any) -> None:
        if not coid:
            return
        sym = self.symbol_of(native)
        self.remember(vid, coid)
        ts = ms_to_ns(ts_ms) or None
        if x == "NEW":
            self.accepted(coid, sym, vid, ts)
        elif x in ("TRADE", "CALCULATED") and dec(d.get("l")):
            quote = parse_symbol(sym).quote
            self.fill_once(coid, sym, vid, str(d["t"]), OrderSide(d["S"]), d["l"], d["L"], d.get("n") or "0",
                           d.get("N") or quote, bool(d.get("m")), ts_ms)
        elif x == "CANCELED":
            self.canceled(coid, sym, vid, "", ts)
        elif x in ("EXPIRED", "TRADE_PREVENTION"):
            self.expired(coid, sym, vid, ts)
        elif x == "REJECTED":
            self.rejected(coid, sym, str(d.get("r") or "rejected"), ts)
        elif x in ("REPLACED", "AMENDMENT"):
            self.updated(coid, sym, qty(d["q"]), price(d.get("p")), ts)


create_execution_client = make_factory(BinanceExecutionClient)

"""Bybit v5's private API on the local exchange server.

Shapes follow ../shared/data/exchanges/bybit/ (nautilus_crate http_get_orders_realtime,
http_get_executions, http_get_wallet_balance, http_get_positions, ws_auth_*,
ws_subscription_ack; nautilus_py_2025 ws_messages/private ws_order, ws_execution):
`/v5/order/create|cancel|amend|cancel-all|realtime|history`, `/v5/execution/list`,
`/v5/account/wallet-balance`, `/v5/position/list`.

Requests are checked the way Bybit does: X-BAPI-SIGN = hex(HMAC-SHA256(secret, timestamp +
api key + recv window + (query string | JSON body))). Refusals come back with HTTP 200 and a
retCode (10003 key, 10004 sign, 10002 time); a sign error quotes the origin string, key
included, exactly as Bybit does (clients must redact it). Rate limits: retCode 10006 with the
X-Bapi-Limit-Reset-Timestamp header. The private WebSocket `/v5/private` takes `auth`
(sign of "GET/realtime" + expires) then `subscribe` to `order` / `execution`.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import orjson
from aiohttp import web

from tests.exchange_server.core import ExchangeServer, WsSession
from tests.exchange_server.private_base import ACCEPTED, PrivateVenue, hmac_sha256
from tests.exchange_server.private_engine import Engine, EngineError, PrivFill, PrivOrder, now_ms

RET = {"duplicate": (110072, "OrderLinkedID is duplicate"),
       "insufficient": (110007, "ab not enough for new order"),
       "invalid": (10001, "params error: qty invalid"),
       "post_only": (110061, "Post only order will be cancelled"),
       "not_found": (110001, "order not exists or too late to cancel"),
       "not_open": (110001, "order not exists or too late to cancel")}
TIF = {"GTC": "GTC", "IOC": "IOC", "FOK": "FOK", "PostOnly": "POST_ONLY"}


def s(d: Decimal | None) -> str:
    return "0" if d is None else format(d, "f")


class BybitPrivate(PrivateVenue):
    _push_id = itertools.count(1)

    def __init__(self, server: ExchangeServer, engine: Engine, *, api_key: str, secret: str) -> None:
        super().__init__(server, engine, api_key=api_key, secret=secret)
        self.category: dict[str, str] = {}  # native -> spot / linear
        p = "/v5"
        self.route("POST", p + "/order/create", self.create, create=True)
        self.route("POST", p + "/order/cancel", self.cancel)
        self.route("POST", p + "/order/amend", self.amend)
        self.route("POST", p + "/order/cancel-all", self.cancel_all)
        self.route("GET", p + "/order/realtime", self.realtime)
        self.route("GET", p + "/order/history", self.history)
        self.route("GET", p + "/execution/list", self.executions)
        self.route("GET", p + "/account/wallet-balance", self.wallet)
        self.route("GET", p + "/position/list", self.position_list)
        server.websocket("/v5/private", self.on_ws_message, on_close=self.on_close)

    # --- auth ---------------------------------------------------------------------------------
    def ret(self, code: int, msg: str, result: Any = None, headers: dict[str, str] | None = None) -> web.Response:
        return self.json({"retCode": code, "retMsg": msg, "result": result if result is not None else {},
                          "retExtInfo": {}, "time": now_ms()}, headers=headers)

    def throttled(self, status: int, retry_after: float) -> web.Response:
        reset = now_ms() + int(retry_after * 1000)
        return self.ret(10006, "Too many visits!", headers={"X-Bapi-Limit-Status": "0", "X-Bapi-Limit": "10",
                                                           "X-Bapi-Limit-Reset-Timestamp": str(reset)})

    def verify(self, request: web.Request, body: str) -> web.Response | None:
        h = request.headers
        key, ts, recv = h.get("X-BAPI-API-KEY", ""), h.get("X-BAPI-TIMESTAMP", "0"), h.get("X-BAPI-RECV-WINDOW", "5000")
        if key != self.api_key:
            return self.ret(10003, "API key is invalid." + self.key_echo())
        if abs(now_ms() - int(ts)) > int(recv):
            return self.ret(10002, f"invalid request, please check your server timestamp or recv_window param. "
                                   f"req_timestamp[{ts}],server_timestamp[{now_ms()}],recv_window[{recv}]")
        origin = ts + key + recv + (body if request.method == "POST" else request.query_string)
        if hmac_sha256(self.secret, origin).hex() != h.get("X-BAPI-SIGN"):
            return self.ret(10004, f"error sign! origin_string[{origin}]")  # Bybit quotes it, key and all
        return None

    def refused(self, kind: str) -> web.Response:
        code, msg = RET[kind]
        return self.ret(code, msg + self.key_echo())

    # --- WebSocket ------------------------------------------------------------------------------
    async def on_ws_message(self, session: WsSession, text: str) -> None:
        try:
            msg = orjson.loads(text)
            op = msg["op"]
        except (ValueError, KeyError, TypeError):
            await session.send({"success": False, "ret_msg": "Invalid request", "op": ""})
            return
        conn = f"cejreaspqfm9se7usbrg-{session.id}"
        if op == "ping":
            await session.send({"req_id": msg.get("req_id", ""), "op": "pong", "args": [str(now_ms())],
                                "conn_id": conn})
        elif op == "auth":
            key, expires, sig = (msg.get("args") or ["", "0", ""])[:3]
            good = (key == self.api_key and int(expires) > now_ms()
                    and hmac_sha256(self.secret, f"GET/realtime{expires}").hex() == sig)
            if good:
                session.state["auth"] = True
                await session.send({"op": "auth", "success": True, "retCode": 0, "retMsg": "", "connId": conn})
            else:
                await session.send({"op": "auth", "success": False, "retCode": 10003, "retMsg": "Invalid apikey",
                                    "connId": conn})
        elif op == "subscribe":
            if not session.state.get("auth"):
                await session.send({"success": False, "ret_msg": "Request not authorized", "conn_id": conn,
                                    "req_id": msg.get("req_id", ""), "op": "subscribe"})
                return
            session.subscriptions.update(msg.get("args") or [])
            await session.send({"success": True, "ret_msg": "", "conn_id": conn, "req_id": msg.get("req_id", ""),
                                "op": "subscribe"})
            if session not in self.sessions:
                self.sessions.append(session)

    # --- REST -------------------------------------------------------------------------------------
    async def create(self, request: web.Request, body: str) -> web.Response:
        b = orjson.loads(body)
        native, typ = b.get("symbol", ""), b.get("orderType", "")
        self.category.setdefault(native, b.get("category", "linear"))
        trigger = Decimal(b["triggerPrice"]) if b.get("triggerPrice") else None
        etype = ("STOP_" if trigger else "") + ("MARKET" if typ == "Market" else "LIMIT")
        try:
            o = self.engine.place(coid=b.get("orderLinkId", ""), native=native, side=b.get("side", "").upper(),
                                  type=etype, tif=TIF.get(b.get("timeInForce", "GTC"), "GTC"),
                                  qty=Decimal(b.get("qty", "0")), price=Decimal(b["price"]) if b.get("price") else None,
                                  trigger=trigger, reduce_only=bool(b.get("reduceOnly")))
        except EngineError as exc:
            return self.refused(exc.kind)
        request[ACCEPTED] = True
        return self.ret(0, "OK", {"orderId": o.oid, "orderLinkId": o.coid})

    async def cancel(self, request: web.Request, body: str) -> web.Response:
        b = orjson.loads(body)
        try:
            o = self.engine.cancel(b.get("orderLinkId", ""), b.get("orderId", ""))
        except EngineError:
            return self.refused("not_open")
        return self.ret(0, "OK", {"orderId": o.oid, "orderLinkId": o.coid})

    async def amend(self, request: web.Request, body: str) -> web.Response:
        b = orjson.loads(body)
        try:
            o = self.engine.amend(b.get("orderLinkId", ""), b.get("orderId", ""),
                                  qty=Decimal(b["qty"]) if b.get("qty") else None,
                                  price=Decimal(b["price"]) if b.get("price") else None,
                                  trigger=Decimal(b["triggerPrice"]) if b.get("triggerPrice") else None)
        except EngineError as exc:
            return self.refused("not_found" if exc.kind in ("not_found", "not_open") else "invalid")
        return self.ret(0, "OK", {"orderId": o.oid, "orderLinkId": o.coid})

    async def cancel_all(self, request: web.Request, body: str) -> web.Response:
        b = orjson.loads(body)
        orders = [o for o in self.engine.cancel_all(b.get("symbol") or None)]
        return self.ret(0, "OK", {"list": [{"orderId": o.oid, "orderLinkId": o.coid} for o in orders],
                                  "success": "1"})

    def _select(self, q: dict[str, str], open_only: bool) -> list[PrivOrder]:
        out = []
        for o in sorted(self.engine.orders.values(), key=lambda o: -o.seq):
            if open_only and not o.is_open:
                continue
            if q.get("symbol") and o.native != q["symbol"]:
                continue
            if q.get("orderLinkId") and o.coid != q["orderLinkId"]:
                continue
            if q.get("orderId") and o.oid != q["orderId"]:
                continue
            if self.category.get(o.native, "linear") != q.get("category", "linear"):
                continue
            out.append(o)
        return out

    async def realtime(self, request: web.Request, body: str) -> web.Response:
        q = dict(request.query)
        by_id = bool(q.get("orderLinkId") or q.get("orderId"))
        return self.ret(0, "OK", {"list": [self.order(o) for o in self._select(q, not by_id)],
                                  "nextPageCursor": "", "category": q.get("category", "linear")})

    async def history(self, request: web.Request, body: str) -> web.Response:
        q = dict(request.query)
        rows = [o for o in self._select(q, False) if not o.is_open]
        return self.ret(0, "OK", {"list": [self.order(o) for o in rows], "nextPageCursor": "",
                                  "category": q.get("category", "linear")})

    async def executions(self, request: web.Request, body: str) -> web.Response:
        q = dict(request.query)
        start, limit = int(q.get("startTime", "0")), min(int(q.get("limit", "50")), 100)
        offset = int(q.get("cursor") or 0)
        cat = q.get("category", "linear")
        rows = [f for f in reversed(self.engine.fills)
                if f.ts_ms >= start and self.category.get(f.order.native, "linear") == cat
                and (not q.get("symbol") or f.order.native == q["symbol"])]
        page = rows[offset:offset + limit]
        nxt = str(offset + limit) if offset + limit < len(rows) else ""
        return self.ret(0, "OK", {"nextPageCursor": nxt, "category": cat, "list": [self.execution(f) for f in page]})

    async def wallet(self, request: web.Request, body: str) -> web.Response:
        e = self.engine
        coins = [{"coin": a, "equity": s(t), "walletBalance": s(t), "availableToWithdraw": s(e.free(a)),
                  "locked": s(t - e.free(a)), "unrealisedPnl": "0", "cumRealisedPnl": "0", "usdValue": s(t),
                  "borrowAmount": "0", "accruedInterest": "0", "totalOrderIM": "0", "totalPositionIM": "0",
                  "totalPositionMM": "0", "bonus": "0", "collateralSwitch": True, "marginCollateral": True,
                  "spotBorrow": "0"} for a, t in sorted(e.balances.items())]
        return self.ret(0, "OK", {"list": [{"accountType": "UNIFIED", "totalEquity": "0", "totalWalletBalance": "0",
                                            "totalAvailableBalance": "0", "coin": coins}]})

    async def position_list(self, request: web.Request, body: str) -> web.Response:
        rows = [{"positionIdx": 0, "symbol": n, "side": "Buy" if q > 0 else ("Sell" if q < 0 else ""),
                 "size": s(abs(q)), "avgPrice": s(avg), "leverage": "10", "positionValue": s(abs(q) * avg),
                 "tradeMode": 0, "positionStatus": "Normal", "unrealisedPnl": "0", "markPrice": s(avg),
                 "createdTime": str(now_ms()), "updatedTime": str(now_ms()), "seq": 1}
                for n, (q, avg) in sorted(self.engine.positions.items())]
        return self.ret(0, "OK", {"list": rows, "nextPageCursor": "", "category": "linear"})

    # --- shapes ---------------------------------------------------------------------------------------
    def status(self, o: PrivOrder) -> str:
        if o.status == "CANCELED" or o.status == "EXPIRED":
            return "PartiallyFilledCanceled" if o.filled else "Cancelled"
        return {"NEW": "New", "PARTIALLY_FILLED": "PartiallyFilled", "FILLED": "Filled",
                "UNTRIGGERED": "Untriggered"}.get(o.status, "Rejected")

    def order(self, o: PrivOrder) -> dict[str, Any]:
        tif = {"POST_ONLY": "PostOnly"}.get(o.tif, o.tif)
        return {"orderId": o.oid, "orderLinkId": o.coid, "blockTradeId": "", "symbol": o.native,
                "price": s(o.price), "qty": s(o.qty), "side": o.side.capitalize(), "isLeverage": "0",
                "positionIdx": 0, "orderStatus": self.status(o), "cancelType": "CancelByUser" if o.status == "CANCELED"
                else "UNKNOWN", "rejectReason": "EC_NoError", "avgPrice": s(o.avg) if o.filled else "",
                "leavesQty": s(o.leaves if o.is_open else Decimal(0)), "leavesValue": "0", "cumExecQty": s(o.filled),
                "cumExecValue": s(o.quote_filled), "cumExecFee": s(o.fees), "timeInForce": tif,
                "orderType": "Market" if "MARKET" in o.type else "Limit",
                "stopOrderType": "Stop" if o.trigger else "", "triggerPrice": s(o.trigger), "reduceOnly": o.reduce_only,
                "closeOnTrigger": False, "smpType": "None", "category": self.category.get(o.native, "linear"),
                "createdTime": str(o.created_ms), "updatedTime": str(o.updated_ms), "feeCurrency": ""}

    def execution(self, f: PrivFill) -> dict[str, Any]:
        o = f.order
        return {"category": self.category.get(o.native, "linear"), "symbol": o.native, "orderId": o.oid,
                "orderLinkId": o.coid, "side": o.side.capitalize(), "orderPrice": s(o.price), "orderQty": s(o.qty),
                "leavesQty": s(o.leaves), "createType": "CreateByUser",
                "orderType": "Market" if "MARKET" in o.type else "Limit", "stopOrderType": "", "execFee": s(f.fee),
                "execId": f.trade_id, "execPrice": s(f.price), "execQty": s(f.qty), "execType": "Trade",
                "execValue": s(f.qty * f.price), "execTime": str(f.ts_ms), "feeCurrency": f.fee_asset,
                "isMaker": f.maker, "feeRate": s(self.engine.maker_fee if f.maker else self.engine.taker_fee),
                "tradeIv": "", "markIv": "", "markPrice": s(f.price), "indexPrice": "", "underlyingPrice": "",
                "blockTradeId": "", "closedSize": "0", "seq": f.seq}

    # --- user stream --------------------------------------------------------------------------------
    def stream_messages(self, kind: str, o: PrivOrder, f: PrivFill | None) -> list[Any]:
        out: list[Any] = []
        if f is not None:
            out.append({"id": f"exec-{next(self._push_id)}", "topic": "execution", "creationTime": now_ms(),
                        "data": [self.execution(f)]})
        out.append({"id": f"order-{next(self._push_id)}", "topic": "order", "creationTime": now_ms(),
                    "data": [self.order(o)]})
        return out


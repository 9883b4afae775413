"""OKX v5's private API on the local exchange server.

Shapes follow ../shared/data/exchanges/okx/nautilus_crate/ (http_place_order_response,
http_get_orders_pending, http_transaction_detail, http_get_account_balance,
http_get_positions, ws_orders, http_place_algo_order_response, http_get_orders_algo_pending,
http_get_orders_algo_history, ws_orders_algo): `/api/v5/trade/order|cancel-order|amend-order|
cancel-batch-orders|orders-pending|fills`, `/api/v5/account/balance|positions`, and stop
orders as OKX's trigger algos: `/api/v5/trade/order-algo` (place, look up),
`cancel-algos`, `amend-algos`, `orders-algo-pending`. An algo has its own algoId; when its trigger is reached
OKX places a regular order (its own ordId, no clOrdId of ours: `algoClOrdId` links it), pushed
on `orders`, while the algo's state goes to `effective` on `orders-algo`.

Requests are checked the way OKX does: OK-ACCESS-KEY / -PASSPHRASE, and OK-ACCESS-SIGN =
base64(HMAC-SHA256(secret, timestamp + method + path?query + body)); refusals are HTTP 401
with OKX's codes (50111 key, 50113 sign, 50105 passphrase, 50102 time). Rate limits: HTTP 429,
code 50011. The private WebSocket `/ws/v5/private` takes `login` (sign of timestamp + GET +
/users/self/verify) then `subscribe` to `orders`; `ping` is answered `pong`.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from aiohttp import web

from tests.exchange_server.core import ExchangeServer, WsSession
from tests.exchange_server.private_base import ACCEPTED, PrivateVenue, hmac_sha256
from tests.exchange_server.private_engine import Engine, EngineError, PrivFill, PrivOrder, now_ms

ORD_TYPES = {"limit": ("LIMIT", "GTC"), "market": ("MARKET", "IOC"), "post_only": ("LIMIT", "POST_ONLY"),
             "ioc": ("LIMIT", "IOC"), "fok": ("LIMIT", "FOK")}
S_CODES = {"duplicate": ("51016", "Duplicated clOrdId"),
           "insufficient": ("51008", "Order failed. Insufficient USDT balance in account."),
           "invalid": ("51000", "Parameter sz error"),
           "post_only": ("51006", "Order price is not within the price limit"),
           "not_found": ("51603", "Order does not exist"),
           "not_open": ("51400", "Order cancellation failed as the order has been filled, canceled or does not exist")}


def s(d: Decimal | None) -> str:
    return "" if d is None else format(d, "f")


def inst_type(inst: str) -> str:
    return "SWAP" if inst.endswith("-SWAP") else ("SPOT" if inst.count("-") == 1 else "FUTURES")


class OkxPrivate(PrivateVenue):
    def __init__(self, server: ExchangeServer, engine: Engine, *, api_key: str, secret: str, passphrase: str) -> None:
        super().__init__(server, engine, api_key=api_key, secret=secret, passphrase=passphrase)
        self.logins = 0
        p = "/api/v5"
        self.route("POST", p + "/trade/order", self.place, create=True)
        self.route("POST", p + "/trade/cancel-order", self.cancel)
        self.route("POST", p + "/trade/cancel-batch-orders", self.cancel_batch)
        self.route("POST", p + "/trade/amend-order", self.amend)
        self.route("GET", p + "/trade/order", self.get_order)
        self.route("GET", p + "/trade/orders-pending", self.pending)
        self.route("GET", p + "/trade/fills", self.fills)
        self.route("GET", p + "/account/balance", self.balance)
        self.route("GET", p + "/account/positions", self.positions)
        self.route("POST", p + "/trade/order-algo", self.place_algo, create=True)
        self.route("POST", p + "/trade/cancel-algos", self.cancel_algos)
        self.route("POST", p + "/trade/amend-algos", self.amend_algo)
        self.route("GET", p + "/trade/order-algo", self.get_algo)
        self.route("GET", p + "/trade/orders-algo-pending", self.algos_pending)
        self.algo_ids: dict[str, str] = {}  # client order id of a trigger algo -> algoId
        self._next_algo = 900_000_000_000_000_000
        server.websocket("/ws/v5/private", self.on_ws_message, on_close=self.on_close)

    # --- auth -----------------------------------------------------------------------------------
    def throttled(self, status: int, retry_after: float) -> web.Response:
        return self.json({"msg": "Too Many Requests", "code": "50011"}, 429, {"Retry-After": str(int(retry_after))})

    def refuse(self, code: str, msg: str) -> web.Response:
        return self.json({"msg": msg + self.key_echo(), "code": code}, 401)

    def verify(self, request: web.Request, body: str) -> web.Response | None:
        h = request.headers
        if h.get("OK-ACCESS-KEY") != self.api_key:
            return self.refuse("50111", "Invalid OK-ACCESS-KEY")
        if h.get("OK-ACCESS-PASSPHRASE") != self.passphrase:
            return self.refuse("50105", "OK-ACCESS-PASSPHRASE incorrect.")
        ts = h.get("OK-ACCESS-TIMESTAMP", "")
        try:
            t = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp() * 1000
        except ValueError:
            return self.refuse("50112", "Invalid OK-ACCESS-TIMESTAMP")
        if abs(now_ms() - t) > 30_000:
            return self.refuse("50102", "Timestamp request expired")
        path = request.path + (f"?{request.query_string}" if request.query_string else "")
        want = base64.b64encode(hmac_sha256(self.secret, ts + request.method + path + body)).decode()
        if h.get("OK-ACCESS-SIGN") != want:
            return self.refuse("50113", "Invalid Sign")
        return None

    def ok(self, data: list[Any]) -> web.Response:
        return self.json({"code": "0", "msg": "", "data": data})

    def failed(self, kind: str, coid: str = "", oid: str = "") -> web.Response:
        code, msg = S_CODES[kind]
        return self.json({"code": "1", "msg": "All operations failed", "inTime": str(now_ms() * 1000),
                          "outTime": str(now_ms() * 1000),
                          "data": [{"clOrdId": coid, "ordId": oid, "tag": "", "ts": str(now_ms()), "sCode": code,
                                    "sMsg": msg + self.key_echo()}]})

    # --- WebSocket ---------------------------------------------------------------------------------
    async def on_ws_message(self, session: WsSession, text: str) -> None:
        if text == "ping":
            await session.send("pong")
            return
        try:
            msg = orjson.loads(text)
            op, args = msg["op"], msg["args"]
        except (ValueError, KeyError, TypeError):
            await session.send({"event": "error", "code": "60012", "msg": f"Invalid request: {text[:100]}"})
            return
        if op == "login":
            a = args[0]
            want = base64.b64encode(hmac_sha256(self.secret, f"{a.get('timestamp')}GET/users/self/verify")).decode()
            if a.get("apiKey") != self.api_key or a.get("passphrase") != self.passphrase or a.get("sign") != want:
                await session.send({"event": "error", "code": "60009", "msg": "Login failed.",
                                    "connId": str(session.id)})
                return
            session.state["auth"] = True
            self.logins += 1
            await session.send({"event": "login", "code": "0", "msg": "", "connId": str(session.id)})
        elif op == "subscribe":
            if not session.state.get("auth"):
                await session.send({"event": "error", "code": "60011", "msg": "Please log in",
                                    "connId": str(session.id)})
                return
            for arg in args:
                await session.send({"event": "subscribe", "arg": arg, "connId": str(session.id)})
            if session not in self.sessions:
                self.sessions.append(session)

    # --- REST ---------------------------------------------------------------------------------------
    async def place(self, request: web.Request, body: str) -> web.Response:
        b = orjson.loads(body)
        typ, tif = ORD_TYPES.get(b.get("ordType", ""), (None, ""))
        coid = b.get("clOrdId", "")
        if typ is None:
            return self.failed("invalid", coid)
        try:
            o = self.engine.place(coid=coid, native=b.get("instId", ""), side=b.get("side", "").upper(), type=typ,
                                  tif=tif, qty=Decimal(b.get("sz", "0")),
                                  price=Decimal(b["px"]) if b.get("px") else None,
                                  reduce_only=str(b.get("reduceOnly", "false")).lower() == "true")
        except EngineError as exc:
            return self.failed(exc.kind, coid)
        request[ACCEPTED] = True
        return self.ok([{"clOrdId": o.coid, "ordId": o.oid, "tag": "", "ts": str(o.created_ms), "sCode": "0",
                         "sMsg": "Order placed"}])

    def _find(self, b: dict[str, Any]) -> PrivOrder:
        """A regular order by clOrdId or ordId: an algo is one only once triggered, by its ordId."""
        coid, oid = b.get("clOrdId", ""), b.get("ordId", "")
        o = self.engine.find(coid, oid)
        if o.coid in self.algo_ids and (coid or not o.triggered):
            raise EngineError("not_found", "order does not exist")
        return o

    async def cancel(self, request: web.Request, body: str) -> web.Response:
        b = orjson.loads(body)
        try:
            o = self.engine.cancel(self._find(b).coid)
        except EngineError:
            return self.failed("not_open", b.get("clOrdId", ""))
        return self.ok([{"clOrdId": o.coid, "ordId": o.oid, "ts": str(now_ms()), "sCode": "0", "sMsg": ""}])

    async def cancel_batch(self, request: web.Request, body: str) -> web.Response:
        out = []
        for b in orjson.loads(body):
            try:
                o = self.engine.cancel(self._find(b).coid)
                out.append({"clOrdId": o.coid, "ordId": o.oid, "ts": str(now_ms()), "sCode": "0", "sMsg": ""})
            except EngineError:
                code, msg = S_CODES["not_open"]
                out.append({"clOrdId": b.get("clOrdId", ""), "ordId": "", "ts": str(now_ms()), "sCode": code,
                            "sMsg": msg})
        return self.json({"code": "0" if all(d["sCode"] == "0" for d in out) else "2", "msg": "", "data": out})

    async def amend(self, request: web.Request, body: str) -> web.Response:
        b = orjson.loads(body)
        try:
            o = self.engine.amend(self._find(b).coid,
                                  qty=Decimal(b["newSz"]) if b.get("newSz") else None,
                                  price=Decimal(b["newPx"]) if b.get("newPx") else None)
        except EngineError as exc:
            return self.failed("not_found" if exc.kind == "not_found" else "invalid", b.get("clOrdId", ""))
        return self.ok([{"clOrdId": o.coid, "ordId": o.oid, "ts": str(now_ms()), "reqId": b.get("reqId", ""),
                         "sCode": "0", "sMsg": ""}])

    async def get_order(self, request: web.Request, body: str) -> web.Response:
        try:
            o = self._find(dict(request.query))
        except EngineError:
            return self.json({"code": "51603", "msg": "Order does not exist", "data": []})
        return self.ok([self.order(o)])

    async def pending(self, request: web.Request, body: str) -> web.Response:
        inst = request.query.get("instId") or None
        return self.ok([self.order(o) for o in reversed(self.engine.open_orders(inst)) if o.status != "UNTRIGGERED"])

    async def fills(self, request: web.Request, body: str) -> web.Response:
        q = request.query
        begin, after = int(q.get("begin", "0")), q.get("after")
        limit = min(int(q.get("limit", "100")), 100)
        inst = q.get("instId")
        rows = [f for f in reversed(self.engine.fills)
                if f.ts_ms >= begin and (inst is None or f.order.native == inst)
                and (after is None or f.seq < int(after))]  # newest first; `after` pages to older
        return self.ok([self.fill(f) for f in rows[:limit]])

    # --- trigger algos (stop orders) -----------------------------------------------------------------
    async def place_algo(self, request: web.Request, body: str) -> web.Response:
        b = orjson.loads(body)
        coid = b.get("algoClOrdId", "")
        if b.get("ordType") != "trigger" or not b.get("triggerPx") or not b.get("orderPx"):
            return self.algo_failed("invalid", coid)
        market = b["orderPx"] == "-1"
        try:
            o = self.engine.place(coid=coid, native=b.get("instId", ""), side=b.get("side", "").upper(),
                                  type="STOP_MARKET" if market else "STOP_LIMIT", qty=Decimal(b.get("sz", "0")),
                                  price=None if market else Decimal(b["orderPx"]), trigger=Decimal(b["triggerPx"]),
                                  reduce_only=str(b.get("reduceOnly", "false")).lower() == "true",
                                  register=lambda o: self.algo_ids.setdefault(o.coid, self._algo_id()))
        except EngineError as exc:
            return self.algo_failed(exc.kind, coid)
        request[ACCEPTED] = True
        return self.ok([{"algoId": self.algo_ids[o.coid], "algoClOrdId": o.coid, "clOrdId": "", "sCode": "0",
                         "sMsg": "", "tag": ""}])

    def _algo_id(self) -> str:
        self._next_algo += 1
        return str(self._next_algo)

    def algo_failed(self, kind: str, coid: str) -> web.Response:
        code, msg = S_CODES[kind]
        return self.json({"code": "1", "msg": "", "data": [{"algoId": "", "algoClOrdId": coid, "clOrdId": "",
                                                            "sCode": code, "sMsg": msg + self.key_echo(), "tag": ""}]})

    def _find_algo(self, b: dict[str, Any]) -> PrivOrder:
        coid = b.get("algoClOrdId") or next((c for c, a in self.algo_ids.items() if a == b.get("algoId")), "")
        if coid not in self.algo_ids:
            raise EngineError("not_found", "order does not exist")
        return self.engine.find(coid)

    async def cancel_algos(self, request: web.Request, body: str) -> web.Response:
        out = []
        for b in orjson.loads(body):
            try:
                o = self._find_algo(b)
                if o.status != "UNTRIGGERED":  # triggered: the algo is done, its regular order cancels
                    raise EngineError("not_open", "not pending")
                self.engine.cancel(o.coid)
                out.append({"algoId": self.algo_ids[o.coid], "sCode": "0", "sMsg": ""})
            except EngineError:
                out.append({"algoId": b.get("algoId", ""), "sCode": "51603", "sMsg": "Order does not exist"})
        return self.json({"code": "0" if all(d["sCode"] == "0" for d in out) else "1", "msg": "", "data": out})

    async def amend_algo(self, request: web.Request, body: str) -> web.Response:
        b = orjson.loads(body)
        try:
            o = self._find_algo(b)
            if o.status != "UNTRIGGERED" or (b.get("newOrdPx") and o.type != "STOP_LIMIT"):
                raise EngineError("invalid", "not amendable")
            self.engine.amend(o.coid, qty=Decimal(b["newSz"]) if b.get("newSz") else None,
                              price=Decimal(b["newOrdPx"]) if b.get("newOrdPx") else None,
                              trigger=Decimal(b["newTriggerPx"]) if b.get("newTriggerPx") else None)
        except EngineError:
            return self.algo_failed("invalid", b.get("algoClOrdId", ""))
        return self.ok([{"algoId": self.algo_ids[o.coid], "algoClOrdId": o.coid, "reqId": b.get("reqId", ""),
                         "sCode": "0", "sMsg": ""}])

    async def get_algo(self, request: web.Request, body: str) -> web.Response:
        try:
            o = self._find_algo(dict(request.query))
        except EngineError:
            return self.json({"code": "51603", "msg": "Order does not exist", "data": []})
        return self.ok([self.algo(o)])

    async def algos_pending(self, request: web.Request, body: str) -> web.Response:
        inst = request.query.get("instId") or None
        return self.ok([self.algo(o) for o in reversed(self.engine.open_orders(inst)) if o.status == "UNTRIGGERED"])

    def algo(self, o: PrivOrder) -> dict[str, Any]:
        m = self.engine.markets[o.native]
        if o.status == "UNTRIGGERED" or (o.status == "CANCELED" and not o.triggered):
            state = "live" if o.status == "UNTRIGGERED" else "canceled"
        else:
            state = "effective"
        market = o.type in ("MARKET", "STOP_MARKET")
        return {"algoId": self.algo_ids[o.coid], "algoClOrdId": o.coid, "clOrdId": "",
                "ordId": o.oid if o.triggered else "", "ordIdList": [o.oid] if o.triggered else [],
                "instId": o.native, "instType": inst_type(o.native), "ordType": "trigger", "state": state,
                "side": o.side.lower(), "posSide": "net", "sz": s(o.qty), "triggerPx": s(o.trigger),
                "triggerPxType": "last", "ordPx": "-1" if market else s(o.price),
                "tdMode": "cross" if m.derivative else "cash", "lever": "3" if m.derivative else "",
                "reduceOnly": "true" if o.reduce_only else "false", "actualPx": "", "actualSz": s(o.filled),
                "actualSide": "", "triggerTime": str(o.updated_ms) if o.triggered else "", "tag": "",
                "cTime": str(o.created_ms), "uTime": str(o.updated_ms)}

    async def balance(self, request: web.Request, body: str) -> web.Response:
        e = self.engine
        details = [{"ccy": a, "cashBal": s(t), "availBal": s(e.free(a)), "eq": s(t), "frozenBal": s(t - e.free(a)),
                    "ordFrozen": "0", "upl": "0", "uTime": str(now_ms())} for a, t in sorted(e.balances.items())]
        return self.ok([{"adjEq": "", "details": details, "totalEq": "0", "uTime": str(now_ms())}])

    async def positions(self, request: web.Request, body: str) -> web.Response:
        rows = [{"instId": n, "instType": inst_type(n), "mgnMode": "cross", "posId": str(i), "posSide": "net",
                 "pos": s(q), "avgPx": s(avg), "lever": "3", "upl": "0", "ccy": self.engine.markets[n].quote,
                 "uTime": str(now_ms()), "cTime": str(now_ms())}
                for i, (n, (q, avg)) in enumerate(sorted(self.engine.positions.items())) if q != 0]
        return self.ok(rows)

    # --- shapes -------------------------------------------------------------------------------------
    def state(self, o: PrivOrder) -> str:
        return {"NEW": "live", "UNTRIGGERED": "live", "PARTIALLY_FILLED": "partially_filled", "FILLED": "filled",
                "CANCELED": "canceled", "EXPIRED": "canceled"}.get(o.status, "canceled")

    def ord_type(self, o: PrivOrder) -> str:
        if o.type == "MARKET":
            return "market"
        return {"POST_ONLY": "post_only", "IOC": "ioc", "FOK": "fok"}.get(o.tif, "limit")

    def order(self, o: PrivOrder, f: PrivFill | None = None, amended: bool = False) -> dict[str, Any]:
        m = self.engine.markets[o.native]
        algo = self.algo_ids.get(o.coid, "")
        d = {"accFillSz": s(o.filled), "algoClOrdId": o.coid if algo else "", "algoId": algo, "attachAlgoOrds": [],
             "avgPx": s(o.avg), "cTime": str(o.created_ms), "cancelSource": "", "category": "normal", "ccy": "",
             "clOrdId": "" if algo else o.coid,
             "fee": s(-o.fees), "feeCcy": m.quote, "fillPx": s(f.price) if f else "", "fillSz": s(f.qty) if f else "0",
             "fillTime": str(f.ts_ms) if f else "", "fillFee": s(-f.fee) if f else "0",
             "fillFeeCcy": m.quote if f else "", "execType": ("M" if f.maker else "T") if f else "",
             "instId": o.native, "instType": inst_type(o.native), "lever": "3" if m.derivative else "",
             "ordId": o.oid, "ordType": self.ord_type(o), "pnl": s(f.realized) if f else "0", "posSide": "net",
             "px": s(o.price), "rebate": "0", "rebateCcy": m.quote, "reduceOnly": "true" if o.reduce_only else "false",
             "side": o.side.lower(), "source": "", "state": self.state(o), "stpMode": "cancel_maker", "sz": s(o.qty),
             "tag": "", "tdMode": "cross" if m.derivative else "cash", "tgtCcy": "", "tradeId": f.trade_id if f else "",
             "uTime": str(o.updated_ms)}
        if amended:
            d.update({"amendResult": "0", "amendSource": "1", "reqId": ""})
        return d

    def fill(self, f: PrivFill) -> dict[str, Any]:
        o = f.order
        return {"instType": inst_type(o.native), "instId": o.native, "tradeId": f.trade_id, "ordId": o.oid,
                "clOrdId": "" if o.coid in self.algo_ids else o.coid, "billId": str(f.seq), "subType": "1",
                "tag": "", "fillPx": s(f.price),
                "fillSz": s(f.qty), "fillIdxPx": "", "fillPnl": s(f.realized), "fillPxVol": "", "fillPxUsd": "",
                "fillMarkVol": "", "fillFwdPx": "", "fillMarkPx": "", "side": o.side.lower(), "posSide": "net",
                "execType": "M" if f.maker else "T", "feeCcy": f.fee_asset, "fee": s(-f.fee), "ts": str(f.ts_ms),
                "fillTime": str(f.ts_ms), "feeRate": ""}

    # --- user stream -------------------------------------------------------------------------------
    def stream_messages(self, kind: str, o: PrivOrder, f: PrivFill | None) -> list[Any]:
        arg = {"instType": "ANY", "uid": "44705892343619584"}
        if o.coid in self.algo_ids and (kind == "triggered" or not o.triggered):
            out = [{"arg": {"channel": "orders-algo", **arg}, "data": [self.algo(o)]}]
            if kind == "triggered":  # the regular order OKX places for it
                out.append({"arg": {"channel": "orders", **arg}, "data": [self.order(o)]})
            return out
        return [{"arg": {"channel": "orders", **arg}, "data": [self.order(o, f, amended=kind == "amended")]}]

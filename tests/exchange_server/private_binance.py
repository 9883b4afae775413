"""Binance's private API on the local exchange server: spot (`/api/v3`) or USD-M (`/fapi`).

Shapes follow the fixtures in ../shared/data/exchanges/binance/ (nautilus_crate spot/futures
http_json and user_data_json, nautilus_py ws_messages): new-order FULL/RESULT responses,
order / openOrders / myTrades (userTrades) / account, executionReport and ORDER_TRADE_UPDATE.

Signed endpoints check `X-MBX-APIKEY` and the HMAC-SHA256 of the query string + body (the
way Binance does) and refuse with Binance's codes (-2015 key, -1022 signature, -1021 time).
User data, USD-M: `POST` a listenKey (API key only), keep it alive with `PUT`, connect to
`/private/ws?listenKey=<key>`; `expire_listen_key()` pushes `listenKeyExpired` and closes the
streams.
Spot (whose listenKey Binance retired on 2026-02-20): the WebSocket API at `/ws-api/v3`,
`userDataStream.subscribe.signature` (apiKey, timestamp, HMAC-SHA256 of the sorted params),
then events wrapped as `{"subscriptionId": 0, "event": ...}`; `terminate_subscriptions()`
pushes `eventStreamTerminated`.
Rate limits answer 429 (or 418) with `Retry-After`, as Binance does.
"""

from __future__ import annotations

import secrets
import time
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from tests.exchange_server.core import ExchangeServer, WsSession
from tests.exchange_server.private_base import ACCEPTED, PrivateVenue, hmac_sha256
from tests.exchange_server.private_engine import Engine, EngineError, PrivFill, PrivOrder, now_ms

SPOT_TYPES = {"LIMIT": ("LIMIT", "GTC"), "MARKET": ("MARKET", "GTC"), "STOP_LOSS": ("STOP_MARKET", "GTC"),
              "STOP_LOSS_LIMIT": ("STOP_LIMIT", "GTC"), "LIMIT_MAKER": ("LIMIT", "POST_ONLY")}
USDM_TYPES = {"LIMIT": "LIMIT", "MARKET": "MARKET", "STOP": "STOP_LIMIT", "STOP_MARKET": "STOP_MARKET"}
ERRORS = {  # engine refusal -> (HTTP status, code, msg)
    "duplicate": (400, -2010, "Duplicate order sent."),
    "insufficient": (400, -2010, "Account has insufficient balance for requested action."),
    "invalid": (400, -1013, "Invalid quantity."),
    "post_only": (400, -2010, "Order would immediately match and take."),
    "not_found": (400, -2013, "Order does not exist."),
    "not_open": (400, -2011, "Unknown order sent."),
}
USDM_ERRORS = {**ERRORS, "duplicate": (400, -4116, "ClientOrderId is duplicated."),
               "post_only": (400, -5022, "Due to the order could not be executed as maker, the Post Only order will be rejected. The order will not be recorded in the order history"),
               "insufficient": (400, -2019, "Margin is insufficient.")}


def s(d: Decimal | None) -> str:
    return "0" if d is None else format(d, "f")


class BinancePrivate(PrivateVenue):
    def __init__(self, server: ExchangeServer, engine: Engine, *, market: str = "spot", api_key: str,
                 secret: str) -> None:
        super().__init__(server, engine, api_key=api_key, secret=secret)
        self.futures = market == "usdm"
        self.listen_keys: set[str] = set()
        self.keepalives = 0
        self.subscriptions = 0  # WebSocket API user data subscriptions granted (spot)
        p = "/fapi/v1" if self.futures else "/api/v3"
        if self.futures:
            self.route("POST", p + "/listenKey", self.new_listen_key, signed=False)
            self.route("PUT", p + "/listenKey", self.keep_alive, signed=False)
        self.route("POST", p + "/order", self.new_order, create=True)
        self.route("GET", p + "/order", self.get_order)
        self.route("DELETE", p + "/order", self.cancel_order)
        self.route("GET", p + "/openOrders", self.open_orders)
        if self.futures:
            self.route("PUT", p + "/order", self.modify_order)
            self.route("DELETE", p + "/allOpenOrders", self.cancel_all)
            self.route("GET", p + "/userTrades", self.my_trades)
            self.route("GET", "/fapi/v2/account", self.account)
        else:
            self.route("PUT", p + "/order/amend/keepPriority", self.amend_keep_priority)
            self.route("DELETE", p + "/openOrders", self.cancel_all)
            self.route("GET", p + "/myTrades", self.my_trades)
            self.route("GET", p + "/account", self.account)
        if self.futures:  # the routed private path (the unrouted /ws/<listenKey> was retired on 2026-04-23)
            server.websocket("/private/ws", self.on_ws_message, on_open=self.on_ws_open, on_close=self.on_close)
        else:
            server.websocket("/ws-api/v3", self.on_ws_api, on_close=self.on_close)

    # --- auth ---------------------------------------------------------------------------------
    def error(self, kind: str) -> web.Response:
        status, code, msg = (USDM_ERRORS if self.futures else ERRORS)[kind]
        return self.json({"code": code, "msg": msg + self.key_echo()}, status)

    def throttled(self, status: int, retry_after: float) -> web.Response:
        msg = ("Way too many requests; IP(127.0.0.1) banned until %d. Please use the websocket for live updates to avoid bans."
               % (now_ms() + int(retry_after * 1000)) if status == 418 else
               "Too many requests; current limit of IP(127.0.0.1) is 6000 requests per minute. Please use the websocket for live updates to avoid polling the API.")
        return self.json({"code": -1003, "msg": msg}, status, {"Retry-After": str(int(retry_after))})

    def verify(self, request: web.Request, body: str) -> web.Response | None:
        if request.headers.get("X-MBX-APIKEY") != self.api_key:
            return self.json({"code": -2015, "msg": "Invalid API-key, IP, or permissions for action." + self.key_echo()},
                             401)
        total = request.query_string + body  # Binance signs the query string followed by the body
        params = dict(parse_qsl(total))
        sig = params.get("signature", "")
        payload = total.replace(f"&signature={sig}", "").replace(f"signature={sig}&", "")
        if not sig or hmac_sha256(self.secret, payload).hex() != sig:
            return self.json({"code": -1022, "msg": "Signature for this request is not valid." + self.key_echo()}, 400)
        window = int(params.get("recvWindow", "5000"))
        ts = int(params.get("timestamp", "0"))
        if ts > now_ms() + 1000 or now_ms() - ts > window:
            return self.json({"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}, 400)
        return None

    @staticmethod
    def params(request: web.Request, body: str) -> dict[str, str]:
        return dict(parse_qsl(request.query_string + ("&" if body else "") + body))

    # --- listen keys ------------------------------------------------------------------------------
    async def new_listen_key(self, request: web.Request, body: str) -> web.Response:
        if request.headers.get("X-MBX-APIKEY") != self.api_key:
            return self.json({"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}, 401)
        if not self.listen_keys:
            self.listen_keys.add(secrets.token_hex(32))
        return self.json({"listenKey": next(iter(self.listen_keys))})

    async def keep_alive(self, request: web.Request, body: str) -> web.Response:
        key = self.params(request, body).get("listenKey", "")
        if self.futures and not key:
            key = next(iter(self.listen_keys), "")
        if key not in self.listen_keys:
            return self.json({"code": -1125, "msg": "This listenKey does not exist."}, 400)
        self.keepalives += 1
        return self.json({"listenKey": key} if self.futures else {})

    async def expire_listen_key(self) -> None:
        """The venue's listenKey expired: say so on the streams, then close them."""
        for key in list(self.listen_keys):
            self.push({"e": "listenKeyExpired", "E": now_ms(), "listenKey": key})
        await self.flushed()
        self.listen_keys.clear()
        for sess in list(self.sessions):
            await sess.ws.close()

    async def on_ws_open(self, session: WsSession) -> None:
        if session.request.query.get("listenKey") not in self.listen_keys:
            await session.ws.close(code=4000, message=b"invalid listenKey")
            return
        self.sessions.append(session)

    async def on_ws_message(self, session: WsSession, text: str) -> None:
        return None  # user data streams take no requests

    # --- the WebSocket API (spot user data) --------------------------------------------------------
    async def on_ws_api(self, session: WsSession, text: str) -> None:
        try:
            req = orjson.loads(text)
            req_id, method, params = req.get("id"), req["method"], dict(req.get("params") or {})
        except (ValueError, KeyError, TypeError, AttributeError):
            await session.send({"id": None, "status": 400, "error": {"code": -1000, "msg": "Malformed request."}})
            return

        def refuse(status: int, code: int, msg: str) -> Any:
            return session.send({"id": req_id, "status": status, "error": {"code": code, "msg": msg + self.key_echo()}})

        if method == "ping":
            await session.send({"id": req_id, "status": 200, "result": {}})
            return
        if method != "userDataStream.subscribe.signature":
            await refuse(400, -1100, f"Unknown method {method}.")
            return
        if params.get("apiKey") != self.api_key:
            await refuse(401, -2015, "Invalid API-key, IP, or permissions for action.")
            return
        sig = str(params.pop("signature", ""))
        payload = "&".join(f"{k}={params[k]}" for k in sorted(params))
        if not sig or hmac_sha256(self.secret, payload).hex() != sig:
            await refuse(400, -1022, "Signature for this request is not valid.")
            return
        ts = int(params.get("timestamp", 0))
        if ts > now_ms() + 1000 or now_ms() - ts > int(params.get("recvWindow", 5000)):
            await refuse(400, -1021, "Timestamp for this request is outside of the recvWindow.")
            return
        self.subscriptions += 1
        await session.send({"id": req_id, "status": 200, "result": {"subscriptionId": 0},
                            "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE",
                                            "intervalNum": 1, "limit": 6000, "count": 2}]})
        if session not in self.sessions:
            self.sessions.append(session)

    async def terminate_subscriptions(self) -> None:
        """The venue ended the subscriptions (a session logout): say so on each stream."""
        self.push({"subscriptionId": 0, "event": {"e": "eventStreamTerminated", "E": now_ms()}})
        await self.flushed()
        self.sessions.clear()

    # --- orders -----------------------------------------------------------------------------------
    def find(self, p: dict[str, str]) -> PrivOrder:
        return self.engine.find(p.get("origClientOrderId", ""), p.get("orderId", ""))

    async def new_order(self, request: web.Request, body: str) -> web.Response:
        p = self.params(request, body)
        typ, tif = p.get("type", ""), p.get("timeInForce", "GTC")
        if self.futures:
            etype = USDM_TYPES.get(typ)
            tif = "POST_ONLY" if tif == "GTX" else tif
        else:
            etype, dflt = SPOT_TYPES.get(typ, (None, ""))
            tif = "POST_ONLY" if dflt == "POST_ONLY" else tif
        if etype is None:
            return self.json({"code": -1116, "msg": "Invalid orderType."}, 400)
        try:
            o = self.engine.place(coid=p.get("newClientOrderId", ""), native=p.get("symbol", ""),
                                  side=p.get("side", ""), type=etype, tif=tif, qty=Decimal(p.get("quantity", "0")),
                                  price=Decimal(p["price"]) if "price" in p else None,
                                  trigger=Decimal(p["stopPrice"]) if "stopPrice" in p else None,
                                  reduce_only=p.get("reduceOnly") == "true")
        except EngineError as exc:
            return self.error(exc.kind)
        request[ACCEPTED] = True
        if self.futures:
            return self.json(self.usdm_order(o))
        out = {**self.spot_order(o, ack=True)}
        if p.get("newOrderRespType", "FULL") == "FULL":
            out["fills"] = [{"price": s(f.price), "qty": s(f.qty), "commission": s(f.fee), "commissionAsset": f.fee_asset,
                             "tradeId": int(f.trade_id)} for f in self.engine.fills if f.order is o]
        return self.json(out)

    async def get_order(self, request: web.Request, body: str) -> web.Response:
        try:
            o = self.find(self.params(request, body))
        except EngineError:
            return self.error("not_found")
        return self.json(self.usdm_order(o) if self.futures else self.spot_order(o))

    async def cancel_order(self, request: web.Request, body: str) -> web.Response:
        try:
            o = self.engine.cancel(*self._ids(self.params(request, body)))
        except EngineError:
            return self.error("not_open")
        return self.json(self.usdm_order(o) if self.futures else self.cancel_response(o))

    @staticmethod
    def _ids(p: dict[str, str]) -> tuple[str, str]:
        return p.get("origClientOrderId", ""), p.get("orderId", "")

    async def cancel_all(self, request: web.Request, body: str) -> web.Response:
        orders = self.engine.cancel_all(self.params(request, body).get("symbol") or None)
        if self.futures:
            return self.json({"code": 200, "msg": "The operation of cancel all open order is done."})
        if not orders:
            return self.json({"code": -2011, "msg": "Unknown order sent."}, 400)
        return self.json([self.cancel_response(o) for o in orders])

    async def modify_order(self, request: web.Request, body: str) -> web.Response:
        p = self.params(request, body)
        try:
            o = self.engine.amend(*self._ids(p), qty=Decimal(p["quantity"]), price=Decimal(p["price"]))
        except EngineError as exc:
            return self.error("not_found" if exc.kind == "not_found" else "invalid")
        return self.json(self.usdm_order(o))

    async def amend_keep_priority(self, request: web.Request, body: str) -> web.Response:
        p = self.params(request, body)
        try:
            o = self.find(p)
            if Decimal(p["newQty"]) >= o.qty:
                return self.json({"code": -2038, "msg": "The requested action would change no state; rejecting."}, 400)
            o = self.engine.amend(o.coid, qty=Decimal(p["newQty"]))
        except EngineError as exc:
            return self.error("not_found" if exc.kind == "not_found" else "invalid")
        amended = {"symbol": o.native, "orderId": int(o.oid), "orderListId": -1, "origClientOrderId": o.coid,
                   "clientOrderId": p.get("newClientOrderId", o.coid), "price": s(o.price), "qty": s(o.qty),
                   "executedQty": s(o.filled), "preventedQty": "0.00000000", "quoteOrderQty": "0.00000000",
                   "cumulativeQuoteQty": s(o.quote_filled), "status": self.status(o), "timeInForce": self.tif(o),
                   "type": self.otype(o), "side": o.side, "workingTime": o.created_ms, "selfTradePreventionMode": "NONE"}
        return self.json({"transactTime": now_ms(), "executionId": now_ms(), "amendedOrder": amended})

    async def open_orders(self, request: web.Request, body: str) -> web.Response:
        sym = self.params(request, body).get("symbol") or None
        orders = self.engine.open_orders(sym)
        return self.json([self.usdm_order(o) if self.futures else self.spot_order(o) for o in orders])

    async def my_trades(self, request: web.Request, body: str) -> web.Response:
        p = self.params(request, body)
        sym, start, from_id = p.get("symbol", ""), int(p.get("startTime", "0")), p.get("fromId")
        limit = min(int(p.get("limit", "500")), 1000)
        fills = [f for f in self.engine.fills if f.order.native == sym and f.ts_ms >= start
                 and (from_id is None or int(f.trade_id) >= int(from_id))]
        return self.json([self.trade(f) for f in fills[:limit]])

    async def account(self, request: web.Request, body: str) -> web.Response:
        e = self.engine
        if not self.futures:
            bals = [{"asset": a, "free": s(e.free(a)), "locked": s(t - e.free(a))} for a, t in sorted(e.balances.items())]
            return self.json({"makerCommission": 2, "takerCommission": 5, "canTrade": True, "canWithdraw": True,
                              "canDeposit": True, "updateTime": now_ms(), "accountType": "SPOT", "balances": bals,
                              "permissions": ["SPOT"], "uid": 354937868})
        assets = [{"asset": a, "walletBalance": s(t), "unrealizedProfit": "0.00000000", "marginBalance": s(t),
                   "availableBalance": s(t), "maxWithdrawAmount": s(t), "marginAvailable": True,
                   "updateTime": now_ms()} for a, t in sorted(e.balances.items())]
        positions = [{"symbol": sym, "positionAmt": s(q), "entryPrice": s(avg), "leverage": "20", "isolated": False,
                      "positionSide": "BOTH", "unrealizedProfit": "0.00000000", "updateTime": now_ms()}
                     for sym, (q, avg) in sorted(e.positions.items())]
        total = sum(e.balances.values(), Decimal(0))
        return self.json({"feeTier": 0, "canTrade": True, "totalWalletBalance": s(total), "availableBalance": s(total),
                          "assets": assets, "positions": positions})

    # --- shapes -------------------------------------------------------------------------------------
    def status(self, o: PrivOrder) -> str:
        return "NEW" if o.status == "UNTRIGGERED" else o.status

    def otype(self, o: PrivOrder) -> str:
        if self.futures:
            return {"STOP_LIMIT": "STOP"}.get(o.type, o.type)
        if o.tif == "POST_ONLY":
            return "LIMIT_MAKER"
        return {"STOP_MARKET": "STOP_LOSS", "STOP_LIMIT": "STOP_LOSS_LIMIT"}.get(o.type, o.type)

    def tif(self, o: PrivOrder) -> str:
        return ("GTX" if self.futures else "GTC") if o.tif == "POST_ONLY" else o.tif

    def spot_order(self, o: PrivOrder, ack: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {"symbol": o.native, "orderId": int(o.oid), "orderListId": -1, "clientOrderId": o.coid}
        if ack:
            d["transactTime"] = o.updated_ms
        d.update({"price": s(o.price), "origQty": s(o.qty), "executedQty": s(o.filled),
                  "cummulativeQuoteQty": s(o.quote_filled), "status": self.status(o), "timeInForce": self.tif(o),
                  "type": self.otype(o), "side": o.side, "workingTime": o.created_ms,
                  "origQuoteOrderQty": "0.00000000", "selfTradePreventionMode": "NONE"})
        if not ack:
            d.update({"stopPrice": s(o.trigger), "icebergQty": "0.00000000", "time": o.created_ms,
                      "updateTime": o.updated_ms, "isWorking": o.status != "UNTRIGGERED"})
        return d

    def cancel_response(self, o: PrivOrder) -> dict[str, Any]:
        return {"symbol": o.native, "origClientOrderId": o.coid, "orderId": int(o.oid), "orderListId": -1,
                "clientOrderId": secrets.token_urlsafe(16)[:22], "transactTime": o.updated_ms, "price": s(o.price),
                "origQty": s(o.qty), "executedQty": s(o.filled), "origQuoteOrderQty": "0.00000000",
                "cummulativeQuoteQty": s(o.quote_filled), "status": o.status, "timeInForce": self.tif(o),
                "type": self.otype(o), "side": o.side, "selfTradePreventionMode": "NONE"}

    def usdm_order(self, o: PrivOrder) -> dict[str, Any]:
        return {"orderId": int(o.oid), "symbol": o.native, "status": self.status(o), "clientOrderId": o.coid,
                "price": s(o.price), "avgPrice": s(o.avg), "origQty": s(o.qty), "executedQty": s(o.filled),
                "cumQuote": s(o.quote_filled), "timeInForce": self.tif(o), "type": self.otype(o),
                "reduceOnly": o.reduce_only, "closePosition": False, "side": o.side, "positionSide": "BOTH",
                "stopPrice": s(o.trigger), "workingType": "CONTRACT_PRICE", "priceProtect": False,
                "origType": self.otype(o), "priceMatch": "NONE", "selfTradePreventionMode": "NONE",
                "goodTillDate": 0, "time": o.created_ms, "updateTime": o.updated_ms}

    def trade(self, f: PrivFill) -> dict[str, Any]:
        o = f.order
        if self.futures:
            return {"symbol": o.native, "id": int(f.trade_id), "orderId": int(o.oid), "side": o.side,
                    "price": s(f.price), "qty": s(f.qty), "realizedPnl": s(f.realized), "marginAsset": f.fee_asset,
                    "quoteQty": s(f.qty * f.price), "commission": s(f.fee), "commissionAsset": f.fee_asset,
                    "time": f.ts_ms, "positionSide": "BOTH", "buyer": o.side == "BUY", "maker": f.maker}
        return {"symbol": o.native, "id": int(f.trade_id), "orderId": int(o.oid), "orderListId": -1,
                "price": s(f.price), "qty": s(f.qty), "quoteQty": s(f.qty * f.price), "commission": s(f.fee),
                "commissionAsset": f.fee_asset, "time": f.ts_ms, "isBuyer": o.side == "BUY", "isMaker": f.maker,
                "isBestMatch": True}

    # --- user stream -------------------------------------------------------------------------------
    def stream_messages(self, kind: str, o: PrivOrder, f: PrivFill | None) -> list[Any]:
        if kind == "triggered":
            return []  # the fill (or the resting order's next change) is the next report
        x = {"new": "NEW", "trade": "TRADE", "canceled": "CANCELED", "expired": "EXPIRED",
             "amended": "AMENDMENT" if self.futures else "REPLACED"}[kind]
        ts = f.ts_ms if f is not None else o.updated_ms
        last_q, last_p = (f.qty, f.price) if f is not None else (Decimal(0), Decimal(0))
        if self.futures:
            d = {"s": o.native, "c": o.coid, "S": o.side, "o": self.otype(o), "f": self.tif(o), "q": s(o.qty),
                 "p": s(o.price), "ap": s(o.avg), "sp": s(o.trigger), "x": x, "X": self.status(o), "i": int(o.oid),
                 "l": s(last_q), "z": s(o.filled), "L": s(last_p), "N": f.fee_asset if f else "USDT",
                 "n": s(f.fee if f else None), "T": ts, "t": int(f.trade_id) if f else 0, "b": "0", "a": "0",
                 "m": bool(f and f.maker), "R": o.reduce_only, "wt": "CONTRACT_PRICE", "ot": self.otype(o),
                 "ps": "BOTH", "cp": False, "rp": s(f.realized if f else None), "pP": False, "si": 0, "ss": 0,
                 "V": "EXPIRE_TAKER", "pm": "NONE", "gtd": 0}
            out: list[Any] = [{"e": "ORDER_TRADE_UPDATE", "E": now_ms(), "T": ts, "o": d}]
            if f is not None:
                q, avg = self.engine.positions.get(o.native, (Decimal(0), Decimal(0)))
                out.append({"e": "ACCOUNT_UPDATE", "E": now_ms(), "T": ts, "a": {"m": "ORDER", "B": [
                    {"a": f.fee_asset, "wb": s(self.engine.balances.get(f.fee_asset)), "cw": "0", "bc": "0"}], "P": [
                    {"s": o.native, "pa": s(q), "ep": s(avg), "cr": "0", "up": "0", "mt": "cross", "iw": "0",
                     "ps": "BOTH"}]}})
            return out
        cancel_id = secrets.token_urlsafe(16)[:22] if kind == "canceled" else ""
        d = {"e": "executionReport", "E": now_ms(), "s": o.native, "c": cancel_id or o.coid, "S": o.side,
             "o": self.otype(o), "f": self.tif(o), "q": s(o.qty), "p": s(o.price), "P": s(o.trigger), "F": "0.00000000",
             "g": -1, "C": o.coid if cancel_id else "", "x": x, "X": self.status(o), "r": "NONE", "i": int(o.oid),
             "l": s(last_q), "z": s(o.filled), "L": s(last_p), "n": s(f.fee if f else None),
             "N": f.fee_asset if f else None, "T": ts, "t": int(f.trade_id) if f else -1, "I": int(time.time()),
             "w": o.is_open, "m": bool(f and f.maker), "M": False, "O": o.created_ms, "Z": s(o.quote_filled),
             "Y": s(last_q * last_p), "Q": "0.00000000", "W": o.created_ms, "V": "NONE"}
        out = [d]
        if f is not None:
            m = self.engine.markets[o.native]
            out.append({"e": "outboundAccountPosition", "E": now_ms(), "u": ts, "B": [
                {"a": a, "f": s(self.engine.free(a)), "l": s(self.engine.balances.get(a, Decimal(0)) - self.engine.free(a))}
                for a in (m.base, m.quote)]})
        return [{"subscriptionId": 0, "event": e} for e in out]  # the WebSocket API's wrapper

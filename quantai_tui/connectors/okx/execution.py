"""OKX v5 live execution: spot (tdMode cash) and swaps / futures (tdMode cross by default).

REST through ccxt's implicit methods (signed by ccxt with key, secret and passphrase; raw JSON
parsed exactly): /trade/order, cancel-order, amend-order, order, orders-pending, fills,
/account/balance, positions. Client order ids go out as `clOrdId`. Order and fill updates
come from the private WebSocket `/ws/v5/private` after a signed `login`
(sign = base64(HMAC-SHA256(secret, ts + "GET/users/self/verify"))), on the `orders` channel:
each push carries the order's state and, for a fill, tradeId / fillSz / fillPx / fillFee.

OKX answers HTTP 200 with `code` != "0" (and per-order `sCode`) when it refuses; 50011 / 50061
and HTTP 429 are rate limits.

Stop orders are OKX trigger algos (/trade/order-algo with `algoClOrdId` = our client order id,
`orderPx` -1 for stop-market): the algo has its own algoId and state (`orders-algo` channel:
live, then effective / canceled / order_failed); when its trigger is reached OKX places a
regular order with its own ordId, linked to ours by `algoClOrdId` on the `orders` channel, and
that order's fills are ours. A cancel or an amend goes to cancel-algos / amend-algos until the
trigger, then to the regular order (by ordId).
Testnet: OKX demo trading (same REST host, `x-simulated-trading: 1`; WS wspap.okx.com).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any
from urllib.parse import urlsplit

import orjson

from quantai_tui.connectors.live_execution import (
    LiveExecutionClient,
    OrderMissing,
    dec,
    make_factory,
    ms_to_ns,
    price,
    qty,
    retry_after_s,
    text,
)
from quantai_tui.connectors.okx import config
from quantai_tui.connectors.stream import Conn
from quantai_tui.core.enums import InstrumentKind, OrderSide, OrderStatus, OrderType, TimeInForce
from quantai_tui.core.errors import ConfigError, QuantAIError, RateLimited, VenueRejected, VenueUnavailable
from quantai_tui.core.execution import AccountReport, FillReport, OrderRequest, OrderStatusReport, PositionReport
from quantai_tui.core.symbols import parse_symbol
from quantai_tui.core.values import Price, Quantity

ALGO_TRIGGERED = {"effective", "order_placed", "partially_effective", "filled"}  # a regular order exists
ALGO_STATES = {"live": OrderStatus.ACCEPTED, "pause": OrderStatus.ACCEPTED, "canceled": OrderStatus.CANCELED,
               "order_failed": OrderStatus.REJECTED, "partially_failed": OrderStatus.REJECTED}
STATES = {"live": OrderStatus.ACCEPTED, "partially_filled": OrderStatus.PARTIALLY_FILLED,
          "filled": OrderStatus.FILLED, "canceled": OrderStatus.CANCELED, "mmp_canceled": OrderStatus.CANCELED}
TYPES = {"market": OrderType.MARKET, "optimal_limit_ioc": OrderType.MARKET}
MISSING = {"51603", "51400", "51401", "51402", "51503"}  # does not exist / already filled or canceled
RATE = {"50011", "50061"}
BUSY = {"50001", "50004", "50013", "50026"}  # service unavailable / timeout / busy / system error
WS_PATH = "/ws/v5/private"
TESTNET_WS = "wss://wspap.okx.com:8443"


class OkxExecutionClient(LiveExecutionClient):
    exchange_id = "okx"
    supports_amend = True
    supports_trigger_amend = True  # a waiting stop: amend-algos newTriggerPx
    default_rate = (20.0, 60)  # OKX: 60 orders / 2 s per instrument
    ccxt_options = {"maxRetriesOnFailure": 0}

    def __init__(self, venue: str, settings: Any, report: Any, clock: Any, credentials: Any, *,
                 td_mode: str = "cross", **options: Any) -> None:
        if credentials is not None and not credentials.passphrase:
            raise ConfigError(f"{venue}: OKX needs an API passphrase (passphrase_env or passphrase in the key file)")
        super().__init__(venue, settings, report, clock, credentials, **options)
        self.td_mode = td_mode
        self._fees: dict[str, Any] = {}  # client order id -> cumulative fee seen (when fillFee is absent)
        self._algos: dict[str, str] = {}  # client order id of a stop order -> its algoId
        self._triggered: dict[str, str] = {}  # ... -> the ordId of the regular order its trigger placed

    # --- REST plumbing -------------------------------------------------------------------------------
    def _classify(self, status: int, headers: dict[str, Any], body: str, parsed: Any) -> QuantAIError | None:
        code, msg = "", ""
        if isinstance(parsed, dict):
            code, msg = str(parsed.get("code", "0")), str(parsed.get("msg", ""))
            data = parsed.get("data")
            if code != "0" and isinstance(data, list) and data and isinstance(data[0], dict) and data[0].get("sCode"):
                code, msg = str(data[0]["sCode"]), str(data[0].get("sMsg", ""))
        if status == 429 or code in RATE:
            return RateLimited(f"{self.venue}: {code or status} {msg or 'Too Many Requests'}", retry_after_s(headers, 1.0))
        if code in ("", "0"):
            return VenueUnavailable(f"{self.venue}: HTTP {status}") if status >= 500 else None
        if code in MISSING:
            return OrderMissing(f"{self.venue}: {code} {msg}")
        if code in BUSY or status >= 500:
            return VenueUnavailable(f"{self.venue}: {code} {msg}")
        return VenueRejected(f"{self.venue}: {code} {msg}")

    # --- symbols --------------------------------------------------------------------------------------
    def _native_of(self, symbol: str) -> str:
        return config.inst_id(symbol)

    def symbol_of(self, native: str, hint: str = "") -> str:
        known = self._names.get(native)
        if known:
            return known
        parts = native.split("-")
        if len(parts) == 2:
            return f"{parts[0]}/{parts[1]}"
        if len(parts) == 3:
            settle = parts[1] if parts[1] != "USD" else parts[0]
            tail = "" if parts[2] == "SWAP" else f"-{parts[2]}"
            return f"{parts[0]}/{parts[1]}:{settle}{tail}"
        return hint or native

    # --- orders ---------------------------------------------------------------------------------------
    async def _submit(self, order: OrderRequest) -> None:
        sym = order.symbol
        spot = parse_symbol(sym).kind is InstrumentKind.SPOT
        t = order.order_type
        if t in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT):
            await self._submit_algo(order, spot)
            return
        if t is OrderType.MARKET:
            ord_type = "market"
        elif order.post_only:
            ord_type = "post_only"
        else:
            ord_type = {TimeInForce.GTC: "limit", TimeInForce.IOC: "ioc", TimeInForce.FOK: "fok"}[order.time_in_force]
        p = self._order_params(order, spot, t is OrderType.MARKET, ordType=ord_type, clOrdId=order.client_order_id)
        if order.price is not None and t is OrderType.LIMIT:
            p["px"] = text(order.price)
        self.traded.add(sym)
        resp = await self.call(self.ex.private_post_trade_order, p, create=True)
        d = (resp.get("data") or [{}])[0]
        vid = str(d.get("ordId", ""))
        self.remember(vid, order.client_order_id)
        self.accepted(order.client_order_id, sym, vid, ms_to_ns(d.get("ts")) or None)

    def _order_params(self, order: OrderRequest, spot: bool, market: bool, **fields: str) -> dict[str, Any]:
        """What a regular order and a trigger algo send alike, plus `fields`."""
        p: dict[str, Any] = {"instId": self.native(order.symbol), "tdMode": "cash" if spot else self.td_mode,
                             "side": order.side.value.lower(), "sz": text(order.quantity), **fields}
        if spot and market:
            p["tgtCcy"] = "base_ccy"  # sz in base units, not quote
        if order.reduce_only:
            if spot:
                raise VenueRejected(f"{self.venue}: spot orders cannot be reduce-only")
            p["reduceOnly"] = True
        return p

    async def _submit_algo(self, order: OrderRequest, spot: bool) -> None:
        if order.time_in_force is not TimeInForce.GTC or order.post_only:
            raise VenueRejected(f"{self.venue}: stop orders on OKX are GTC and cannot be post-only")
        assert order.trigger_price is not None
        sym, coid = order.symbol, order.client_order_id
        market = order.order_type is OrderType.STOP_MARKET
        p = self._order_params(order, spot, market, ordType="trigger", triggerPx=text(order.trigger_price),
                               triggerPxType="last", orderPx="-1" if market else text(order.price), algoClOrdId=coid)
        self.traded.add(sym)
        resp = await self.call(self.ex.private_post_trade_order_algo, p, create=True)
        algo_id = str((resp.get("data") or [{}])[0].get("algoId", ""))
        self._algos[coid] = algo_id
        self.accepted(coid, sym, algo_id)

    async def _cancel(self, client_order_id: str, symbol: str) -> None:
        # the outcome (canceled, or filled first) comes on the orders / orders-algo channels
        inst = self.native(symbol)
        algo_id = self._algos.get(client_order_id)
        if algo_id is not None and client_order_id not in self._triggered:
            try:
                await self.call(self.ex.private_post_trade_cancel_algos, [{"instId": inst, "algoId": algo_id}])
                return
            except OrderMissing:  # triggered meanwhile: its regular order is the one to cancel
                await self._query_algo(client_order_id, symbol)
        vid = self._triggered.get(client_order_id)
        if vid is not None:
            await self.call(self.ex.private_post_trade_cancel_order, {"instId": inst, "ordId": vid})
            return
        await self.call(self.ex.private_post_trade_cancel_order, {"instId": inst, "clOrdId": client_order_id})

    async def _modify(self, client_order_id: str, symbol: str, quantity: Quantity | None, px: Price | None,
                      trigger: Price | None = None) -> None:
        inst = self.native(symbol)
        algo_id = self._algos.get(client_order_id)
        vid = self._triggered.get(client_order_id)
        if trigger is not None and (algo_id is None or vid is not None):
            raise VenueRejected(f"{self.venue}: {client_order_id} has no waiting trigger to move")
        if algo_id is not None and vid is None:  # a stop still waiting: amend the algo
            p: dict[str, Any] = {"instId": inst, "algoId": algo_id}
            if quantity is not None:
                p["newSz"] = text(quantity)
            if px is not None:
                p["newOrdPx"] = text(px)
            if trigger is not None:
                p["newTriggerPx"] = text(trigger)
            await self.call(self.ex.private_post_trade_amend_algos, p)
        else:  # a regular order, or the one a stop's trigger placed
            p = {"instId": inst, **({"ordId": vid} if vid else {"clOrdId": client_order_id})}
            if quantity is not None:
                p["newSz"] = text(quantity)
            if px is not None:
                p["newPx"] = text(px)
            await self.call(self.ex.private_post_trade_amend_order, p)
        try:  # done already? else the push will say (a failed read must not make the amend UNKNOWN)
            rep = await self._query_order(client_order_id, symbol)
        except Exception as exc:
            self.log.info("amended %s; reading it back failed (%r): waiting for the push", client_order_id, exc)
            return
        if (rep is not None and rep.status.is_open and (quantity is None or rep.quantity == quantity)
                and (px is None or rep.price == px) and (trigger is None or rep.trigger_price == trigger)):
            self.updated(client_order_id, symbol, rep.quantity, rep.price, trigger=trigger)

    # --- reads ------------------------------------------------------------------------------------------
    def _status_report(self, d: dict[str, Any], hint: str = "") -> OrderStatusReport:
        sym = self.symbol_of(d["instId"], hint)
        coid, vid = self._coid(d), str(d["ordId"])
        self.remember(vid, coid)
        return OrderStatusReport(coid, vid, sym, OrderSide(d["side"].upper()),
                                 TYPES.get(d.get("ordType", ""), OrderType.LIMIT),
                                 STATES.get(d.get("state", ""), OrderStatus.ACCEPTED), qty(d.get("sz")),
                                 qty(d.get("accFillSz")), price(d.get("px")), price(d.get("avgPx")),
                                 ms_to_ns(d.get("uTime")))

    def _coid(self, d: dict[str, Any]) -> str:
        """Our client order id of a regular order: a triggered stop's is its algoClOrdId (its
        clOrdId, if any, is OKX's)."""
        algo_coid = d.get("algoClOrdId") or ""
        if algo_coid:
            self._triggered[algo_coid] = str(d.get("ordId", ""))
            self._algos.setdefault(algo_coid, str(d.get("algoId", "")))
            return str(algo_coid)
        return str(d.get("clOrdId", ""))

    def _algo_report(self, d: dict[str, Any], hint: str = "") -> OrderStatusReport:
        """An untriggered (or canceled / failed) trigger algo as an order of ours."""
        coid, algo_id = d.get("algoClOrdId", ""), str(d["algoId"])
        self._algos[coid] = algo_id
        otype = OrderType.STOP_MARKET if d.get("ordPx") in ("-1", "", None) else OrderType.STOP_LIMIT
        return OrderStatusReport(coid, algo_id, self.symbol_of(d["instId"], hint), OrderSide(d["side"].upper()), otype,
                                 ALGO_STATES.get(d.get("state", ""), OrderStatus.ACCEPTED), qty(d.get("sz")),
                                 qty("0"), price(d.get("ordPx")) if otype is OrderType.STOP_LIMIT else None, None,
                                 ms_to_ns(d.get("uTime")), price(d.get("triggerPx")))

    async def _query_order(self, client_order_id: str, symbol: str) -> OrderStatusReport | None:
        self.traded.add(symbol)
        if client_order_id in self._algos:
            return await self._query_algo(client_order_id, symbol)
        try:
            resp = await self.call(self.ex.private_get_trade_order,
                                   {"instId": self.native(symbol), "clOrdId": client_order_id})
        except OrderMissing:
            return await self._query_algo(client_order_id, symbol)  # a stop order we do not know yet?
        rows = resp.get("data") or []
        return self._status_report(rows[0], symbol) if rows else None

    async def _query_algo(self, client_order_id: str, symbol: str) -> OrderStatusReport | None:
        """A stop order: the algo while it waits, the regular order its trigger placed after."""
        try:
            resp = await self.call(self.ex.private_get_trade_order_algo, {"algoClOrdId": client_order_id})
        except OrderMissing:
            return None
        rows = resp.get("data") or []
        if not rows:
            return None
        d = rows[0]
        vid = str(d.get("ordId") or next(iter(d.get("ordIdList") or []), ""))
        if d.get("state") not in ALGO_TRIGGERED or not vid:
            return self._algo_report(d, symbol)
        self._algos[client_order_id] = str(d["algoId"])
        self._triggered[client_order_id] = vid
        self.remember(vid, client_order_id)
        try:
            resp = await self.call(self.ex.private_get_trade_order, {"instId": self.native(symbol), "ordId": vid})
        except OrderMissing:
            return None
        rows = resp.get("data") or []
        return self._status_report(rows[0], symbol) if rows else None

    async def _open_orders(self, symbol: str | None) -> list[OrderStatusReport]:
        out: list[OrderStatusReport] = []
        params: dict[str, Any] = {"limit": "100"}
        if symbol:
            params["instId"] = self.native(symbol)
        while True:
            rows = (await self.call(self.ex.private_get_trade_orders_pending, params)).get("data") or []
            out.extend(self._status_report(d, symbol or "") for d in rows)
            if len(rows) < 100:
                break
            params = {**params, "after": rows[-1]["ordId"]}
        params = {k: v for k, v in params.items() if k != "after"} | {"ordType": "trigger"}
        while True:  # stop orders waiting for their trigger
            rows = (await self.call(self.ex.private_get_trade_orders_algo_pending, params)).get("data") or []
            out.extend(self._algo_report(d, symbol or "") for d in rows if d.get("algoClOrdId"))
            if len(rows) < 100:
                return out
            params = {**params, "after": rows[-1]["algoId"]}

    async def _fills_since(self, ts_ns: int, symbol: str | None) -> list[FillReport]:
        out: list[FillReport] = []
        params: dict[str, Any] = {"begin": str(max(0, ts_ns // 1_000_000)), "limit": "100"}
        if symbol:
            params["instId"] = self.native(symbol)
        while True:
            rows = (await self.call(self.ex.private_get_trade_fills, params)).get("data") or []
            for f in rows:
                px = price(f.get("fillPx"))
                if px is None or not dec(f.get("fillSz")):
                    continue
                vid = str(f.get("ordId", ""))
                coid = self.coids.get(vid) or f.get("clOrdId", "")  # a triggered stop's order: known by ordId
                self.remember(vid, coid)
                out.append(FillReport(coid, vid, str(f["tradeId"]),
                                      self.symbol_of(f["instId"]), OrderSide(f["side"].upper()), qty(f["fillSz"]), px,
                                      -dec(f.get("fee")), f.get("feeCcy") or "", ms_to_ns(f.get("ts"))))
            if len(rows) < 100:
                break
            params = {**params, "after": rows[-1]["billId"]}  # pages to older fills
        return sorted(out, key=lambda f: f.ts_event)

    async def _account(self) -> AccountReport:
        resp = await self.call(self.ex.private_get_account_balance, {})
        bals: dict[str, Any] = {}
        for acct in resp.get("data") or []:
            for d in acct.get("details") or []:
                bals[d["ccy"]] = (dec(d.get("cashBal")), dec(d.get("availBal")))
        rows = (await self.call(self.ex.private_get_account_positions, {})).get("data") or []
        pos = []
        for p in rows:
            q = dec(p.get("pos"))
            if p.get("posSide") == "short":
                q = -abs(q)
            if q:
                pos.append(PositionReport(self.symbol_of(p["instId"]), q, dec(p.get("avgPx")), dec(p.get("lever") or 1)))
        return AccountReport(bals, tuple(pos))

    # --- private WebSocket ------------------------------------------------------------------------------
    def _ws_url(self) -> str:
        o = self.settings.ws_url
        if o:
            u = urlsplit(o)
            return f"{u.scheme}://{u.netloc}{WS_PATH}"
        return (TESTNET_WS if self.settings.testnet else config.WS_URL) + WS_PATH

    async def _ws_login(self, conn: Conn) -> None:
        ts = str(int(time.time()))
        secret = self.creds.api_secret.reveal().encode()
        sign = base64.b64encode(hmac.new(secret, f"{ts}GET/users/self/verify".encode(), hashlib.sha256).digest())
        assert self.creds.passphrase is not None
        await self.send_json(conn, {"op": "login", "args": [{
            "apiKey": self.creds.api_key.reveal(), "passphrase": self.creds.passphrase.reveal(), "timestamp": ts,
            "sign": sign.decode()}]})
        await self._expect(conn, "login")
        await self.send_json(conn, {"op": "subscribe", "args": [{"channel": "orders", "instType": "ANY"},
                                                                {"channel": "orders-algo", "instType": "ANY"}]})
        await self._expect(conn, "subscribe")

    async def _expect(self, conn: Conn, event: str) -> None:
        while True:
            msg = await self.recv_json(conn)
            if msg.get("event") == event:
                return
            if msg.get("event") == "error":
                raise VenueRejected(self.redact(f"{self.venue}: {event} refused: {msg.get('code')} {msg.get('msg')}"))

    async def _ws_ping(self, conn: Conn) -> None:
        await conn.send("ping")  # answered "pong"; receiving it refreshes the heartbeat

    def _on_user_frame(self, raw: bytes) -> None:
        if raw == b"pong":
            return
        msg = orjson.loads(raw)
        channel = msg.get("arg", {}).get("channel")
        if "data" not in msg:
            return
        if channel == "orders":
            for d in msg["data"]:
                self._on_order(d)
        elif channel == "orders-algo":
            for d in msg["data"]:
                self._on_algo(d)

    def _on_algo(self, d: dict[str, Any]) -> None:
        coid = d.get("algoClOrdId", "")
        if not coid:
            return  # not placed by us
        sym = self.symbol_of(d["instId"])
        algo_id, state = str(d["algoId"]), d.get("state", "")
        self._algos[coid] = algo_id
        ts = ms_to_ns(d.get("uTime")) or None
        if state in ALGO_TRIGGERED:  # fills come on the orders channel, from the regular order
            vid = str(d.get("ordId") or next(iter(d.get("ordIdList") or []), ""))
            if vid:
                self._triggered[coid] = vid
                self.remember(vid, coid)
        elif state == "live":
            self.accepted(coid, sym, algo_id, ts)
        elif state == "canceled":
            self.canceled(coid, sym, algo_id, "", ts)
        elif state in ("order_failed", "partially_failed"):
            self.rejected(coid, sym, f"the stop's order failed at {self.venue} ({d.get('failCode') or state})", ts)

    def _on_order(self, d: dict[str, Any]) -> None:
        triggered = bool(d.get("algoClOrdId"))
        coid = self._coid(d)
        if not coid:
            return  # not placed by us
        sym = self.symbol_of(d["instId"])
        vid = str(d["ordId"])
        self.remember(vid, coid)
        state = d.get("state", "")
        if d.get("tradeId") and dec(d.get("fillSz")):
            if d.get("fillFee") not in (None, ""):
                fee = -dec(d["fillFee"])
            else:  # older pushes: only the cumulative fee; its change is this fill's
                fee = -(dec(d.get("fee")) - self._fees.get(coid, dec(0)))
            self._fees[coid] = dec(d.get("fee"))
            maker = {"M": True, "T": False}.get(d.get("execType", ""))
            self.fill_once(coid, sym, vid, str(d["tradeId"]), OrderSide(d["side"].upper()), d["fillSz"],
                           d["fillPx"], str(fee), d.get("fillFeeCcy") or d.get("feeCcy") or parse_symbol(sym).quote,
                           maker, d.get("fillTime") or d.get("uTime"))
        ts = ms_to_ns(d.get("uTime")) or None
        if d.get("amendResult") == "0" and state in ("live", "partially_filled"):
            self.updated(coid, sym, qty(d["sz"]), price(d.get("px")), ts)
        elif state == "live" and not triggered:  # a stop's order: accepted as the algo already
            self.accepted(coid, sym, vid, ts)
        elif state in ("canceled", "mmp_canceled"):
            self.canceled(coid, sym, vid, d.get("cancelSourceReason", "") or "", ts)


create_execution_client = make_factory(OkxExecutionClient)

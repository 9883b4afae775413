"""Bybit v5 live execution (unified account): spot and linear contracts, by the symbol.

REST through ccxt's implicit methods (signed by ccxt; raw JSON parsed exactly): /v5/order/
create, cancel, amend, cancel-all, realtime, history; /v5/execution/list; /v5/account/
wallet-balance; /v5/position/list. Client order ids go out as `orderLinkId`. Updates come
from the private WebSocket `/v5/private` after a signed `auth` (hex HMAC-SHA256 of
"GET/realtime" + expires): `order` (status, quantity and price after an amend) and `execution`
(one message per fill, `execId` the trade id).

Bybit refuses with HTTP 200 and a retCode: 10006 is its rate limit (wait until
X-Bapi-Limit-Reset-Timestamp); a sign error (10004) quotes the signed string, API key included,
so every message is redacted before it goes anywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import time
from typing import Any
from urllib.parse import urlsplit

import orjson

from quantai_tui.connectors.bybit import config
from quantai_tui.connectors.live_execution import (
    LiveExecutionClient,
    OrderMissing,
    dec,
    make_factory,
    ms_to_ns,
    price,
    qty,
    retry_after_s,
    split_native,
    text,
)
from quantai_tui.connectors.stream import Conn
from quantai_tui.core.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from quantai_tui.core.errors import QuantAIError, RateLimited, VenueRejected, VenueUnavailable
from quantai_tui.core.execution import AccountReport, FillReport, OrderRequest, OrderStatusReport, PositionReport
from quantai_tui.core.symbols import parse_symbol
from quantai_tui.core.values import Price, Quantity

STATUS = {"New": OrderStatus.ACCEPTED, "PartiallyFilled": OrderStatus.PARTIALLY_FILLED, "Untriggered": OrderStatus.ACCEPTED,
          "Triggered": OrderStatus.ACCEPTED, "Filled": OrderStatus.FILLED, "Cancelled": OrderStatus.CANCELED,
          "PartiallyFilledCanceled": OrderStatus.CANCELED, "Deactivated": OrderStatus.CANCELED,
          "Rejected": OrderStatus.REJECTED}
MISSING = {110001, 110008, 110010, 170213}  # not exists / already finished / already canceled
BUSY = {10000, 10016, 10019}  # server timeout / internal error / restarting
WS_PATH = "/v5/private"


class BybitExecutionClient(LiveExecutionClient):
    exchange_id = "bybit"
    supports_amend = True
    supports_trigger_amend = True  # order/amend triggerPrice (a conditional order not yet triggered)
    default_rate = (10.0, 20)  # Bybit: 10-20 orders per second per UID and symbol
    ccxt_options = {"maxRetriesOnFailure": 0, "recvWindow": 5000}

    def __init__(self, venue: str, settings: Any, report: Any, clock: Any, credentials: Any, *,
                 settle_coins: tuple[str, ...] = ("USDT",), **options: Any) -> None:
        super().__init__(venue, settings, report, clock, credentials, **options)
        self.settle_coins = settle_coins
        self._last: dict[str, tuple[Quantity, Price | None]] = {}  # client order id -> (qty, price) last seen
        self._req = itertools.count(1)

    # --- plumbing --------------------------------------------------------------------------------------
    def _classify(self, status: int, headers: dict[str, Any], body: str, parsed: Any) -> QuantAIError | None:
        if status == 403 or status == 429:  # IP-level limit: Bybit bans for a while
            return RateLimited(f"{self.venue}: HTTP {status} rate limited", retry_after_s(headers, 60.0))
        if not isinstance(parsed, dict) or "retCode" not in parsed:
            return VenueUnavailable(f"{self.venue}: HTTP {status}") if status >= 500 else None
        code, msg = int(parsed["retCode"]), str(parsed.get("retMsg", ""))
        if code == 0:
            return None
        if code == 10006:
            return RateLimited(f"{self.venue}: {code} {msg}", retry_after_s(headers, 1.0))
        if code in MISSING:
            return OrderMissing(f"{self.venue}: {code} {msg}")
        if code in BUSY:
            return VenueUnavailable(f"{self.venue}: {code} {msg}")
        return VenueRejected(f"{self.venue}: {code} {msg}")

    def categories(self) -> list[str]:
        cats = {config.category(s) for s in self.traded}
        cats.add("spot" if self.settings.market_type == "spot" else "linear")
        return sorted(cats)

    def _scope(self, cat: str) -> dict[str, Any]:
        """What a per-category list needs: linear lists want a settle coin (or a symbol)."""
        return {"category": cat} if cat == "spot" else {"category": cat, "settleCoin": self.settle_coins[0]}

    # --- symbols ------------------------------------------------------------------------------------------
    def _native_of(self, symbol: str) -> str:
        return config.native_symbol(symbol)

    def _name_key(self, native: str, symbol: str) -> str:
        return f"{config.category(symbol)}:{native}"

    def symbol_of(self, native: str, hint: str = "", category: str = "linear") -> str:
        known = self._names.get(f"{category}:{native}")
        if known:
            return known
        pair = split_native(native)
        if pair is None:
            return hint or native
        b, q = pair
        if category == "spot":
            return f"{b}/{q}"
        return f"{b}/{q}:{b if category == 'inverse' else q}"

    # --- orders -------------------------------------------------------------------------------------------
    async def _submit(self, order: OrderRequest) -> None:
        sym = order.symbol
        cat = config.category(sym)
        t = order.order_type
        p: dict[str, Any] = {"category": cat, "symbol": self.native(sym), "side": order.side.value.capitalize(),
                             "orderType": "Market" if t in (OrderType.MARKET, OrderType.STOP_MARKET) else "Limit",
                             "qty": text(order.quantity), "orderLinkId": order.client_order_id}
        if t in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            assert order.price is not None
            p["price"] = text(order.price)
            p["timeInForce"] = "PostOnly" if order.post_only else order.time_in_force.value
        elif order.time_in_force is not TimeInForce.GTC:
            p["timeInForce"] = order.time_in_force.value
        if t in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT):
            assert order.trigger_price is not None
            p["triggerPrice"] = text(order.trigger_price)
            p["triggerDirection"] = 1 if order.side is OrderSide.BUY else 2  # buy stops above, sell stops below
        if cat == "spot" and t is OrderType.MARKET:
            p["marketUnit"] = "baseCoin"
        if order.reduce_only:
            if cat == "spot":
                raise VenueRejected(f"{self.venue}: spot orders cannot be reduce-only")
            p["reduceOnly"] = True
        self.traded.add(sym)
        resp = await self.call(self.ex.private_post_v5_order_create, p, create=True)
        vid = str((resp.get("result") or {}).get("orderId", ""))
        self.remember(vid, order.client_order_id)
        self._last[order.client_order_id] = (order.quantity, order.price)
        self.accepted(order.client_order_id, sym, vid, ms_to_ns(resp.get("time")) or None)

    async def _cancel(self, client_order_id: str, symbol: str) -> None:
        # the outcome (canceled, or filled first) comes on the order topic
        await self.call(self.ex.private_post_v5_order_cancel, {"category": config.category(symbol),
                                                              "symbol": self.native(symbol),
                                                              "orderLinkId": client_order_id})

    async def _cancel_all(self, symbol: str | None) -> bool:
        if symbol:
            scopes = [{"category": config.category(symbol), "symbol": self.native(symbol)}]
        else:
            scopes = [self._scope(c) for c in self.categories()]
        for p in scopes:
            await self.call(self.ex.private_post_v5_order_cancel_all, p)
        return True

    async def _modify(self, client_order_id: str, symbol: str, quantity: Quantity | None, px: Price | None,
                      trigger: Price | None = None) -> None:
        p: dict[str, Any] = {"category": config.category(symbol), "symbol": self.native(symbol),
                             "orderLinkId": client_order_id}
        if quantity is not None:
            p["qty"] = text(quantity)
        if px is not None:
            p["price"] = text(px)
        if trigger is not None:
            p["triggerPrice"] = text(trigger)
        await self.call(self.ex.private_post_v5_order_amend, p)
        try:  # done already? else the push will say (a failed read must not make the amend UNKNOWN)
            rep = await self._query_order(client_order_id, symbol)
        except Exception as exc:
            self.log.info("amended %s; reading it back failed (%r): waiting for the push", client_order_id, exc)
            return
        if (rep is not None and rep.status.is_open and (quantity is None or rep.quantity == quantity)
                and (px is None or rep.price == px) and (trigger is None or rep.trigger_price == trigger)):
            self.updated(client_order_id, symbol, rep.quantity, rep.price, trigger=trigger)

    # --- reads --------------------------------------------------------------------------------------------
    def _status_report(self, d: dict[str, Any], cat: str, hint: str = "") -> OrderStatusReport:
        sym = self.symbol_of(d["symbol"], hint, cat)
        coid, vid = d.get("orderLinkId", ""), str(d["orderId"])
        self.remember(vid, coid)
        market = d.get("orderType") == "Market"
        stop = bool(d.get("stopOrderType"))
        otype = (OrderType.STOP_MARKET if market else OrderType.STOP_LIMIT) if stop else (
            OrderType.MARKET if market else OrderType.LIMIT)
        return OrderStatusReport(coid, vid, sym, OrderSide(d["side"].upper()), otype,
                                 STATUS.get(d.get("orderStatus", ""), OrderStatus.ACCEPTED), qty(d.get("qty")),
                                 qty(d.get("cumExecQty")), None if market else price(d.get("price")),
                                 price(d.get("avgPrice")), ms_to_ns(d.get("updatedTime")),
                                 price(d.get("triggerPrice")) if stop else None)

    async def _query_order(self, client_order_id: str, symbol: str) -> OrderStatusReport | None:
        self.traded.add(symbol)
        cat = config.category(symbol)
        p = {"category": cat, "symbol": self.native(symbol), "orderLinkId": client_order_id}
        for fn in (self.ex.private_get_v5_order_realtime, self.ex.private_get_v5_order_history):
            rows = ((await self.call(fn, p)).get("result") or {}).get("list") or []
            if rows:
                return self._status_report(rows[0], cat, symbol)
        return None

    async def _open_orders(self, symbol: str | None) -> list[OrderStatusReport]:
        out: list[OrderStatusReport] = []
        scopes = ([{"category": config.category(symbol), "symbol": self.native(symbol)}] if symbol
                  else [self._scope(c) for c in self.categories()])
        for p in scopes:
            cursor = ""
            while True:
                q = {**p, "limit": 50, **({"cursor": cursor} if cursor else {})}
                res = (await self.call(self.ex.private_get_v5_order_realtime, q)).get("result") or {}
                out.extend(self._status_report(d, p["category"], symbol or "") for d in res.get("list") or [])
                cursor = res.get("nextPageCursor") or ""
                if not cursor:
                    break
        return out

    async def _fills_since(self, ts_ns: int, symbol: str | None) -> list[FillReport]:
        out: list[FillReport] = []
        cats = [config.category(symbol)] if symbol else self.categories()
        for cat in cats:
            p: dict[str, Any] = {"category": cat, "startTime": max(0, ts_ns // 1_000_000), "limit": 100}
            if symbol:
                p["symbol"] = self.native(symbol)
            while True:
                res = (await self.call(self.ex.private_get_v5_execution_list, p)).get("result") or {}
                for e in res.get("list") or []:
                    px = price(e.get("execPrice"))
                    if e.get("execType", "Trade") != "Trade" or px is None:
                        continue
                    sym = self.symbol_of(e["symbol"], symbol or "", cat)
                    vid = str(e.get("orderId", ""))
                    coid = e.get("orderLinkId", "") or self.coids.get(vid, "")
                    out.append(FillReport(coid, vid, str(e["execId"]), sym, OrderSide(e["side"].upper()),
                                          qty(e["execQty"]), px, dec(e.get("execFee")),
                                          e.get("feeCurrency") or parse_symbol(sym).quote, ms_to_ns(e.get("execTime"))))
                cursor = res.get("nextPageCursor") or ""
                if not cursor:
                    break
                p = {**p, "cursor": cursor}
        return sorted(out, key=lambda f: f.ts_event)

    async def _account(self) -> AccountReport:
        res = (await self.call(self.ex.private_get_v5_account_wallet_balance, {"accountType": "UNIFIED"})).get(
            "result") or {}
        bals: dict[str, Any] = {}
        for acct in res.get("list") or []:
            for c in acct.get("coin") or []:
                total = dec(c.get("walletBalance"))
                free = dec(c.get("availableToWithdraw")) if c.get("availableToWithdraw") not in (None, "") else (
                    total - dec(c.get("locked")))
                bals[c["coin"]] = (total, free)
        pos = []
        for cat in [c for c in self.categories() if c != "spot"]:
            res = (await self.call(self.ex.private_get_v5_position_list, self._scope(cat))).get("result") or {}
            for p in res.get("list") or []:
                size = dec(p.get("size"))
                if size:
                    signed = size if p.get("side") == "Buy" else -size
                    pos.append(PositionReport(self.symbol_of(p["symbol"], "", cat), signed, dec(p.get("avgPrice")),
                                              dec(p.get("leverage") or 1)))
        return AccountReport(bals, tuple(pos))

    # --- private WebSocket ----------------------------------------------------------------------------
    def _ws_url(self) -> str:
        o = self.settings.ws_url
        if o:
            u = urlsplit(o)
            return f"{u.scheme}://{u.netloc}{WS_PATH}"
        return (config.TESTNET_WS_URL if self.settings.testnet else config.WS_URL) + WS_PATH

    async def _ws_login(self, conn: Conn) -> None:
        expires = int(time.time() * 1000) + 10_000
        sig = hmac.new(self.creds.api_secret.reveal().encode(), f"GET/realtime{expires}".encode(),
                       hashlib.sha256).hexdigest()
        await self.send_json(conn, {"req_id": f"auth-{next(self._req)}", "op": "auth",
                                    "args": [self.creds.api_key.reveal(), expires, sig]})
        await self._expect(conn, "auth")
        await self.send_json(conn, {"req_id": f"sub-{next(self._req)}", "op": "subscribe",
                                    "args": ["order", "execution"]})
        await self._expect(conn, "subscribe")

    async def _expect(self, conn: Conn, op: str) -> None:
        while True:
            msg = await self.recv_json(conn)
            if msg.get("op") != op:
                continue
            if not msg.get("success"):
                why = msg.get("retMsg") or msg.get("ret_msg") or "refused"
                raise VenueRejected(self.redact(f"{self.venue}: {op} refused: {why}"))
            return

    async def _ws_ping(self, conn: Conn) -> None:
        await self.send_json(conn, {"req_id": f"ping-{next(self._req)}", "op": "ping"})

    def _on_user_frame(self, raw: bytes) -> None:
        msg = orjson.loads(raw)
        topic = msg.get("topic", "")
        if topic == "execution":
            for e in msg.get("data") or []:
                self._on_execution(e)
        elif topic == "order":
            for d in msg.get("data") or []:
                self._on_order(d)

    def _on_execution(self, e: dict[str, Any]) -> None:
        coid = e.get("orderLinkId", "")
        if not coid or e.get("execType", "Trade") != "Trade":
            return
        cat = e.get("category", "linear")
        sym = self.symbol_of(e["symbol"], "", cat)
        vid = str(e.get("orderId", ""))
        self.remember(vid, coid)
        self.fill_once(coid, sym, vid, str(e["execId"]), OrderSide(e["side"].upper()), e["execQty"], e["execPrice"],
                       e.get("execFee") or "0", e.get("feeCurrency") or parse_symbol(sym).quote, e.get("isMaker"),
                       e.get("execTime"))

    def _on_order(self, d: dict[str, Any]) -> None:
        coid = d.get("orderLinkId", "")
        if not coid:
            return
        cat = d.get("category", "linear")
        sym = self.symbol_of(d["symbol"], "", cat)
        vid = str(d["orderId"])
        self.remember(vid, coid)
        st = d.get("orderStatus", "")
        ts = ms_to_ns(d.get("updatedTime")) or None
        q, px = qty(d.get("qty")), price(d.get("price"))
        if st in ("New", "PartiallyFilled", "Untriggered"):
            last = self._last.get(coid)
            if st != "PartiallyFilled":
                self.accepted(coid, sym, vid, ts)
            if last is not None and (last[0] != q or (px is not None and last[1] != px)):
                self.updated(coid, sym, q, px, ts)  # an amend took effect
            self._last[coid] = (q, px)
        elif st in ("Cancelled", "PartiallyFilledCanceled", "Deactivated"):
            self.canceled(coid, sym, vid, str(d.get("cancelType") or ""), ts)
        elif st == "Rejected":
            self.rejected(coid, sym, str(d.get("rejectReason") or "rejected"), ts)


create_execution_client = make_factory(BybitExecutionClient)

"""Each venue's real user-stream messages (the fixtures in ../shared/data/exchanges/) become the
right core order events: ids, exact quantities, prices and fees, maker/taker, timestamps."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from quantai_tui.connectors.credentials import Credentials
from quantai_tui.core.clock import TestClock
from quantai_tui.core.enums import LiquiditySide, OrderSide
from quantai_tui.core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderUpdated,
)
from quantai_tui.core.secrets import Secret
from quantai_tui.settings.schema import ExchangeSettings
from tests.conftest import SHARED_DATA

EX = SHARED_DATA / "exchanges"
BN_PY = EX / "binance" / "nautilus_py" / "ws_messages"
BN_SPOT = EX / "binance" / "nautilus_crate" / "spot" / "user_data_json"
BN_FUT = EX / "binance" / "nautilus_crate" / "futures" / "user_data_json"
OKX = EX / "okx" / "nautilus_crate"
BYBIT = EX / "bybit" / "nautilus_crate"
BYBIT_PY = EX / "bybit" / "nautilus_py_2025" / "ws_messages" / "private"


def client(venue: str) -> tuple[Any, list[Any]]:
    events: list[Any] = []
    creds = Credentials(Secret("k" * 16), Secret("s" * 16), Secret("p" * 8))
    mod = {"binance": "binance", "binanceusdm": "binance", "okx": "okx", "bybit": "bybit"}[venue]
    import importlib

    cls = {"binance": "BinanceExecutionClient", "okx": "OkxExecutionClient", "bybit": "BybitExecutionClient"}[mod]
    c = getattr(importlib.import_module(f"quantai_tui.connectors.{mod}.execution"), cls)(
        venue, ExchangeSettings(), events.append, TestClock(1), creds)
    return c, events


def feed(venue: str, path: Path, patch: dict[str, Any] | None = None) -> list[Any]:
    c, events = client(venue)
    msg = orjson.loads(path.read_bytes())
    if patch:  # only to give an anonymous fixture order one of our client order ids
        for d in msg["data"]:
            d.update(patch)
    c._on_user_frame(orjson.dumps(msg))  # noqa: SLF001
    return events


def one(events: list[Any], cls: type) -> Any:
    found = [e for e in events if type(e) is cls]
    assert len(found) == 1, events
    return found[0]


def test_binance_spot_execution_reports() -> None:
    ev = one(feed("binance", BN_PY / "ws_spot_execution_report_new.json"), OrderAccepted)
    assert (ev.client_order_id, ev.symbol) == ("O-12345-test-new", "ETH/USDT")
    f = one(feed("binance", BN_PY / "ws_spot_execution_report_trade.json"), OrderFilled)
    assert (f.client_order_id, f.venue_order_id, f.trade_id) == ("O-12345-test-trade", "1234567890", "98765432")
    assert (f.last_qty.as_decimal(), f.last_px.as_decimal()) == (Decimal("0.5"), Decimal("2499.5"))
    assert (f.fee.as_decimal(), f.fee.currency, f.liquidity) == (Decimal("0.0005"), "ETH", LiquiditySide.MAKER)
    assert f.side is OrderSide.BUY and f.ts_event == 1759347763167 * 1_000_000
    cancel = orjson.loads((BN_PY / "ws_spot_execution_report_canceled.json").read_bytes())["data"]
    ev = one(feed("binance", BN_PY / "ws_spot_execution_report_canceled.json"), OrderCanceled)
    assert ev.client_order_id == (cancel["C"] or cancel["c"])  # a cancel carries the order's id in C
    one(feed("binance", BN_PY / "ws_spot_execution_report_expired.json"), OrderExpired)
    one(feed("binance", BN_PY / "ws_spot_execution_report_rejected.json"), OrderRejected)
    ev = one(feed("binance", BN_SPOT / "execution_report_wrapped.json"), OrderAccepted)  # WebSocket API shape
    assert (ev.client_order_id, ev.symbol, ev.venue_order_id) == ("mUvoqJxFIILMdfAW5iGSOW", "ETH/BTC", "4293153")


def test_binance_usdm_order_trade_updates() -> None:
    ev = one(feed("binanceusdm", BN_FUT / "order_update_new.json"), OrderAccepted)
    assert (ev.client_order_id, ev.symbol) == ("TEST", "BTC/USDT:USDT")
    f = one(feed("binanceusdm", BN_FUT / "order_update_trade.json"), OrderFilled)
    assert (f.trade_id, f.last_qty.as_decimal(), f.last_px.as_decimal()) == ("12345678", Decimal("0.001"),
                                                                           Decimal("7100.5"))
    assert (f.fee.as_decimal(), f.fee.currency, f.liquidity) == (Decimal("0.01"), "USDT", LiquiditySide.MAKER)


def test_okx_orders_channel() -> None:
    f = one(feed("okx", OKX / "ws_orders.json"), OrderFilled)
    assert (f.client_order_id, f.symbol, f.trade_id) == ("001BTCUSDT20250106001", "BTC/USDT:USDT", "1518905529")
    assert (f.last_qty.as_decimal(), f.last_px.as_decimal()) == (Decimal("0.03"), Decimal("103698.9"))
    assert (f.fee.as_decimal(), f.fee.currency) == (Decimal("0.021776769"), "USDT")  # OKX: negative = paid
    f = one(feed("okx", OKX / "ws_orders_ioc.json"), OrderFilled)
    assert (f.symbol, f.side, f.fee.as_decimal()) == ("BTC/USDT", OrderSide.SELL, Decimal("0.1002"))


def test_okx_orders_algo_channel() -> None:
    """The captured orders-algo push: live -> accepted; triggered (order_placed) -> the regular
    order's id is linked to the algo's client id, with no event of its own; canceled -> canceled."""
    c, events = client("okx")
    c._on_user_frame((OKX / "ws_orders_algo.json").read_bytes())  # noqa: SLF001
    accepted = [e for e in events if type(e) is OrderAccepted]
    assert [(e.client_order_id, e.venue_order_id) for e in accepted] == [
        ("STOP001BTCUSDT20250120", "706620792746729472"), ("STOP002BTCUSDT20250120", "706620792746729473")]
    assert one(events, OrderCanceled).client_order_id == "STOP004BTCUSDT20250120"
    assert c._triggered["STOP003BTCUSDT20250120"] == "706620792746729999"  # noqa: SLF001
    assert c.coids["706620792746729999"] == "STOP003BTCUSDT20250120"
    # a fill of that regular order (whose clOrdId is OKX's, not ours) is the stop's
    fill = orjson.loads((OKX / "ws_orders.json").read_bytes())
    fill["data"][0].update({"clOrdId": "706620792746729474_0", "algoClOrdId": "STOP003BTCUSDT20250120",
                            "algoId": "706620792746729474", "ordId": "706620792746729999"})
    c._on_user_frame(orjson.dumps(fill))  # noqa: SLF001
    assert one(events, OrderFilled).client_order_id == "STOP003BTCUSDT20250120"


def test_bybit_order_and_execution_topics() -> None:
    f = one(feed("bybit", BYBIT / "ws_account_execution.json"), OrderFilled)
    assert (f.client_order_id, f.symbol, f.trade_id) == ("test-order-link-001", "BTC/USDT:USDT",
                                                         "0ab1bdf7-4219-438b-b30a-32ec863018f7")
    assert (f.last_qty.as_decimal(), f.last_px.as_decimal(), f.fee.as_decimal()) == (
        Decimal("0.5"), Decimal("95900.1"), Decimal("26.3725275"))
    assert (f.side, f.liquidity, f.fee.currency) == (OrderSide.SELL, LiquiditySide.TAKER, "USDT")
    ev = one(feed("bybit", BYBIT / "ws_account_order.json"), OrderCanceled)
    assert (ev.client_order_id, ev.symbol, ev.venue_order_id) == ("client-1", "BTC/USDT:USDT", "abcdef123456")
    assert feed("bybit", BYBIT_PY / "ws_execution.json") == []  # no orderLinkId: not our order
    f = one(feed("bybit", BYBIT_PY / "ws_execution.json", {"orderLinkId": "qa1"}), OrderFilled)
    assert (f.symbol, f.trade_id, f.fee.as_decimal()) == ("XRP/USDT:USDT", "7e2ae69c-4edf-5800-a352-893d52b446aa",
                                                         Decimal("0.005061"))


@pytest.mark.parametrize("venue", ["binance", "binanceusdm", "okx", "bybit"])
def test_malformed_frames_are_counted_not_fatal(venue: str) -> None:
    c, events = client(venue)
    for raw in (b"{", b"[]", b'{"e": "executionReport"}', b'{"topic": "order", "data": [{}]}',
                b'{"arg": {"channel": "orders"}, "data": [{"clOrdId": "x"}]}', b'{"e":"ORDER_TRADE_UPDATE","o":{}}'):
        c.on_frame(None, None, raw)
    assert events == [] and c.malformed >= 1


def test_amend_updates() -> None:
    c, events = client("binanceusdm")
    d = orjson.loads((BN_FUT / "order_update_new.json").read_bytes())
    d["o"].update({"x": "AMENDMENT", "q": "0.002", "p": "7000.10"})
    c._on_user_frame(orjson.dumps(d))  # noqa: SLF001
    ev = one(events, OrderUpdated)
    assert (ev.quantity.as_decimal(), ev.price.as_decimal()) == (Decimal("0.002"), Decimal("7000.1"))

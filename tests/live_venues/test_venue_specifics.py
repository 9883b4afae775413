"""What only one venue does: Binance's listenKey life cycle, OKX's passphrase login; and for all,
which endpoints testnet mode and URL overrides select (sandbox first, then the override)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from quantai_tui.connectors.credentials import Credentials
from quantai_tui.core.clock import TestClock
from quantai_tui.core.commands import CancelOrder, ModifyOrder
from quantai_tui.core.enums import OrderSide, OrderStatus, OrderType
from quantai_tui.core.errors import ConfigError, VenueUnavailable
from quantai_tui.core.secrets import Secret
from quantai_tui.core.values import Price, Quantity
from quantai_tui.settings.schema import ExchangeSettings
from tests.live_venues.harness import BINANCE_SPOT, BINANCE_USDM, BYBIT_LINEAR, OKX_SWAP, Rig, VenueSpec

S = OrderStatus
CREDS = Credentials(Secret("k" * 16), Secret("s" * 16), Secret("p" * 8))


async def test_binance_usdm_listen_key_kept_alive_and_renewed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with Rig(BINANCE_USDM, tmp_path, monkeypatch, keepalive_s=0.05) as rig:
        k = rig.kernel()
        await k.start()
        await rig.until(lambda: rig.venue.keepalives >= 2, "listenKey keepalives")  # type: ignore[attr-defined]
        first = rig.client.listen_key  # type: ignore[attr-defined]
        coid = await rig.submit(k, "49000")
        await rig.until_status(k, coid, S.ACCEPTED)
        await rig.venue.expire_listen_key()  # type: ignore[attr-defined]
        rig.engine.fill_now(coid)  # while the client takes a new key
        await rig.until_status(k, coid, S.FILLED)
        await rig.until(lambda: rig.client.listen_key not in (None, first), "a new listenKey")  # type: ignore[attr-defined]
        assert k.risk.state.value == "ACTIVE"


async def test_binance_spot_user_data_is_a_signed_websocket_api_subscription(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Spot has no listenKey since 2026-02-20: the client subscribes on the WebSocket API with a
    signed request, and subscribes again when the venue terminates the stream."""
    async with Rig(BINANCE_SPOT, tmp_path, monkeypatch) as rig:
        k = rig.kernel()
        await k.start()
        assert rig.venue.subscriptions == 1 and rig.client.listen_key is None  # type: ignore[attr-defined]
        assert not [r for r in rig.engine.requests if "userDataStream" in r[2]]
        coid = await rig.submit(k, "49000")
        await rig.until_status(k, coid, S.ACCEPTED)
        await rig.venue.terminate_subscriptions()  # type: ignore[attr-defined]
        await rig.until(lambda: rig.venue.subscriptions >= 2, "a new subscription")  # type: ignore[attr-defined]
        rig.engine.fill_now(coid)
        await rig.until_status(k, coid, S.FILLED)
        assert k.risk.state.value == "ACTIVE"
    async with Rig(BINANCE_SPOT, tmp_path / "wrong", monkeypatch, ready_timeout_s=0.5) as rig:
        creds = Credentials(Secret(rig.key), Secret("not-the-secret"))
        c = rig.spec.client_class()("binance", rig.exchange_settings(), lambda e: None, TestClock(1), creds,
                                    **rig.options())
        with pytest.raises(VenueUnavailable):
            await c.start()
        assert rig.venue.subscriptions == 0  # type: ignore[attr-defined]


async def test_okx_login_refused_with_a_wrong_passphrase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with Rig(OKX_SWAP, tmp_path, monkeypatch, ready_timeout_s=0.5) as rig:
        creds = Credentials(Secret(rig.key), Secret(rig.secret), Secret("wrong-phrase"))
        c = rig.spec.client_class()("okx", rig.exchange_settings(), lambda e: None, TestClock(1), creds,
                                    **rig.options())
        with pytest.raises(VenueUnavailable):
            await c.start()
        assert rig.venue.logins == 0  # type: ignore[attr-defined]


def test_okx_needs_a_passphrase() -> None:
    from quantai_tui.connectors.okx.execution import OkxExecutionClient

    with pytest.raises(ConfigError, match="passphrase"):
        OkxExecutionClient("okx", ExchangeSettings(), lambda e: None, TestClock(1),
                           Credentials(Secret("k" * 16), Secret("s" * 16)))


def make(spec: VenueSpec, **settings: Any) -> Any:
    return spec.client_class()(spec.venue, ExchangeSettings(**settings), lambda e: None, TestClock(1), CREDS)


def rest_hosts(ex: Any) -> set[str]:
    from urllib.parse import urlsplit

    out: set[str] = set()

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, str) and v.startswith("http"):
            out.add(urlsplit(v.replace("{hostname}", "h")).netloc)

    walk(ex.urls["api"])
    return out


@pytest.mark.parametrize("spec,rest,ws", [
    (BINANCE_SPOT, "testnet.binance.vision", "wss://ws-api.testnet.binance.vision/ws-api/v3"),
    (BINANCE_USDM, "testnet.binancefuture.com", "wss://fstream.binancefuture.com"),
    (OKX_SWAP, "h", "wss://wspap.okx.com:8443/ws/v5/private"),
    (BYBIT_LINEAR, "api-testnet.h", "wss://stream-testnet.bybit.com/v5/private"),
], ids=["binance", "binanceusdm", "okx", "bybit"])
async def test_testnet_and_overrides(spec: VenueSpec, rest: str, ws: str) -> None:
    c = make(spec, testnet=True)
    ex = c._make_exchange()  # noqa: SLF001
    try:
        assert rest in rest_hosts(ex) and c._ws_url() == ws  # noqa: SLF001
        if spec.venue == "okx":
            assert ex.headers.get("x-simulated-trading") == "1"
    finally:
        await ex.close()
    c = make(spec, testnet=True, rest_url="http://127.0.0.1:9", ws_url="ws://127.0.0.1:9")
    ex = c._make_exchange()  # noqa: SLF001
    try:  # the override wins over the testnet URLs (sandbox mode is set first)
        assert rest_hosts(ex) == {"127.0.0.1:9"} and c._ws_url().startswith("ws://127.0.0.1:9")  # noqa: SLF001
    finally:
        await ex.close()
    c = make(spec)
    assert c._ws_url().startswith("wss://") and "test" not in c._ws_url()  # noqa: SLF001


async def test_okx_stop_orders_are_trigger_algos(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stop is an algo until its trigger, then a regular order of OKX's (linked by
    algoClOrdId): a cancel goes to that order; one that filled while the engine was down is
    found and filled on restart."""
    async with Rig(OKX_SWAP, tmp_path, monkeypatch) as rig:
        native, symbol = OKX_SWAP.native, OKX_SWAP.symbol
        k = rig.kernel()
        await k.start()
        coid = await rig.submit(k, "50900", order_type=OrderType.STOP_LIMIT, trigger_price=Price("51000"))
        await rig.until_status(k, coid, S.ACCEPTED)
        assert k.oms.get(coid).venue_order_id == rig.venue.algo_ids[coid]  # type: ignore[attr-defined,union-attr]
        at_venue = rig.engine.by_coid[coid]
        # amended while it waits (amend-algos), then after the trigger (its regular order, by ordId)
        assert (await k.execute(ModifyOrder(coid, quantity=Quantity("0.005"), price=Price("50950")))).ok
        await rig.until(lambda: k.oms.get(coid).quantity == Quantity("0.005")  # type: ignore[union-attr]
                        and k.oms.get(coid).price == Price("50950"), "the amended stop")  # type: ignore[union-attr]
        assert (at_venue.qty, at_venue.price, at_venue.status) == (Decimal("0.005"), Decimal("50950"), "UNTRIGGERED")
        rig.engine.cross(native, "51200")  # triggered; the buy limit at 50950 is not reached: it rests
        rig.engine.set_top(native, "51199.9", "51200")  # the market is up there now
        assert at_venue.triggered and at_venue.status == "NEW"
        await rig.until(lambda: coid in rig.client._triggered, "the order the trigger placed")  # type: ignore[attr-defined]
        assert (await k.execute(ModifyOrder(coid, price=Price("50900")))).ok
        await rig.until(lambda: k.oms.get(coid).price == Price("50900")  # type: ignore[union-attr]
                        and k.oms.get(coid).status is S.ACCEPTED, "the amended triggered order")  # type: ignore[union-attr]
        assert at_venue.price == Decimal("50900")
        posts = [path for _, method, path in rig.engine.requests if method == "POST"]
        assert [p.rsplit("/", 1)[1] for p in posts if "amend" in p] == ["amend-algos", "amend-order"]
        assert (await k.execute(CancelOrder(coid))).ok
        await rig.until_status(k, coid, S.CANCELED)
        posts = [path for _, method, path in rig.engine.requests if method == "POST"]
        assert posts[-1].endswith("/trade/cancel-order") and not any(p.endswith("cancel-algos") for p in posts)

        stop = await rig.submit(k, None, side=OrderSide.SELL, order_type=OrderType.STOP_MARKET,
                                trigger_price=Price("49000"))
        await rig.until_status(k, stop, S.ACCEPTED)
        await k.stop()
        rig.engine.cross(native, "48900")  # triggers and fills while nobody listens
        k2 = rig.kernel()
        await k2.start()
        await rig.until_status(k2, stop, S.FILLED)
        assert k2.risk.state.value == "ACTIVE"
        assert k2.portfolio.position_qty("okx", symbol) == Decimal("-0.01")
        assert k2.oms.get(stop).trade_ids == {f.trade_id for f in rig.engine.fills if f.order.coid == stop}  # type: ignore[union-attr]

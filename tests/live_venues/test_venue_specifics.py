"""What only one venue does: Binance's listenKey life cycle, OKX's passphrase login; and for all,
which endpoints testnet mode and URL overrides select (sandbox first, then the override)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from quantai_tui.connectors.credentials import Credentials
from quantai_tui.core.clock import TestClock
from quantai_tui.core.enums import OrderStatus
from quantai_tui.core.errors import ConfigError, VenueUnavailable
from quantai_tui.core.secrets import Secret
from quantai_tui.settings.schema import ExchangeSettings
from tests.live_venues.harness import BINANCE_SPOT, BINANCE_USDM, BYBIT_LINEAR, OKX_SWAP, Rig, VenueSpec

S = OrderStatus
CREDS = Credentials(Secret("k" * 16), Secret("s" * 16), Secret("p" * 8))


@pytest.mark.parametrize("spec", [BINANCE_SPOT, BINANCE_USDM], ids=["spot", "usdm"])
async def test_binance_listen_key_kept_alive_and_renewed(spec: VenueSpec, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    async with Rig(spec, tmp_path, monkeypatch, keepalive_s=0.05) as rig:
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
    (BINANCE_SPOT, "testnet.binance.vision", "wss://stream.testnet.binance.vision"),
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

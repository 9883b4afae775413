"""Exchange keys: a unique fake key never appears in logs, the store, stdout or stderr, even
when a venue logs its credentials and puts them in an error; live mode refuses a key file
other users can read."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from quantai_tui.connectors.credentials import Credentials, load_credentials
from quantai_tui.core.clock import TestClock
from quantai_tui.core.commands import SubmitOrder
from quantai_tui.core.enums import OrderSide, OrderType, TradingMode
from quantai_tui.core.errors import ConfigError, VenueRejected
from quantai_tui.core.execution import OrderRequest
from quantai_tui.engine import kernel as kernel_mod
from quantai_tui.settings.schema import ExchangeSettings

from tests.trading.helpers import T0, FakeVenue, make_kernel, make_settings

log = logging.getLogger("quantai.exec.fakelive")


class SigningVenue(FakeVenue):
    """A 'live' venue that signs with the secret, and is careless with its credentials."""

    def __init__(self, venue: str, settings: Any, report: Any, clock: Any, creds: Credentials) -> None:
        super().__init__(venue, report, clock)
        self.creds = creds
        log.info("connecting with %s and key %s (%r)", creds, creds.api_key, creds.api_secret)

    async def _submit(self, order: OrderRequest) -> None:
        sig = hmac.new(self.creds.api_secret.reveal().encode(), order.client_order_id.encode(), hashlib.sha256)
        log.debug("signed %s: %s with key %s", order.client_order_id, sig.hexdigest()[:8], self.creds.api_key)
        if order.side is OrderSide.SELL:
            raise VenueRejected(f"invalid signature for key {self.creds.api_key}")
        await super()._submit(order)


async def test_a_unique_fake_key_never_leaks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> None:
    key = f"QAKEY{uuid.uuid4().hex}"
    secret = f"QASECRET{uuid.uuid4().hex}"
    monkeypatch.setenv("FAKELIVE_KEY", key)
    monkeypatch.setenv("FAKELIVE_SECRET", secret)
    log_file = tmp_path / "all.log"
    handler = logging.FileHandler(log_file)
    handler.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    caplog.set_level(logging.DEBUG)
    monkeypatch.setitem(kernel_mod.EXECUTION_FACTORIES, "fakelive", SigningVenue)
    s = make_settings(price_band_pct=Decimal("0"), max_orders_per_second=0.0, check_balance=False)
    s.exchanges["fakelive"] = ExchangeSettings(api_key_env="FAKELIVE_KEY", api_secret_env="FAKELIVE_SECRET")
    try:
        k = make_kernel(tmp_path, venues=("fakelive",), clock=TestClock(T0), settings=s, mode=TradingMode.LIVE)
        await k.start()
        venue = k.venues["fakelive"]
        venue.bind(k.oms.on_report)  # type: ignore[attr-defined]
        from tests.trading.helpers import publish_quote

        publish_quote(k, "fakelive", "BTC/USDT", 49_999.5, 50_000.5)
        inst = k.cache.instrument("fakelive", "BTC/USDT")
        ok = await k.execute(SubmitOrder("fakelive", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, inst.make_qty("0.01"),
                                         inst.make_price(49_000)))
        assert ok.ok
        bad = await k.execute(SubmitOrder("fakelive", "BTC/USDT", OrderSide.SELL, OrderType.LIMIT,
                                          inst.make_qty("0.01"), inst.make_price(51_000)))
        order = k.oms.get(bad.client_order_id)
        assert "***" in order.last_reason  # the venue's error, with the key masked
        print(venue.creds, repr(venue.creds.api_key), f"{venue.creds.api_secret}")  # type: ignore[attr-defined]
        await k.stop()
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    out, err = capfd.readouterr()
    places = {
        "stdout": out, "stderr": err, "log records": caplog.text + "".join(str(r.args) for r in caplog.records),
        "log file": log_file.read_text(),
        "store": (tmp_path / "events.sqlite").read_bytes().decode("latin-1")
        + "".join(p.read_bytes().decode("latin-1") for p in tmp_path.glob("events.sqlite-*")),
    }
    assert "connecting with" in places["log file"]
    for where, text in places.items():
        assert key not in text and secret not in text, f"the key leaked into {where}"


def test_key_file_must_be_private_in_live_mode(tmp_path: Path) -> None:
    secret = f"QASECRET{uuid.uuid4().hex}"
    f = tmp_path / "keys.toml"
    f.write_text(f'api_key = "k"\napi_secret = "{secret}"\n')
    os.chmod(f, 0o644)
    s = ExchangeSettings(key_file=str(f))
    with pytest.raises(ConfigError, match="chmod 600") as exc:
        load_credentials("binance", s, live=True)
    assert secret not in str(exc.value)
    assert load_credentials("binance", s, live=False) is not None  # paper does not trade with it
    os.chmod(f, 0o600)
    creds = load_credentials("binance", s, live=True)
    assert creds is not None and creds.api_secret.reveal() == secret and secret not in repr(creds)
    f.write_text(f'api_key = "k"\napi_secret = {secret}\n')  # broken TOML quoting the secret
    with pytest.raises(ConfigError) as exc:
        load_credentials("binance", s, live=True)
    assert secret not in str(exc.value)


def test_missing_environment_names_the_variable_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_K", "x" * 20)
    with pytest.raises(ConfigError, match="QA_S"):
        load_credentials("okx", ExchangeSettings(api_key_env="QA_K", api_secret_env="QA_S"), live=True)
    assert load_credentials("okx", ExchangeSettings(), live=True) is None

"""A live venue against the local exchange server, wired into a real kernel (LIVE mode, SQLite
file in a tmp dir): the venue's private API on 127.0.0.1, a matching engine to fill orders on
demand, keys from the environment, and the kernel's factory for the venue pointed at a client
with short test timeouts.

    async with Rig(BINANCE_SPOT, tmp_path, monkeypatch) as rig:
        k = rig.kernel(); await k.start()
        coid = await rig.submit(k, "49000")           # a resting limit buy
        rig.engine.cross(rig.spec.native, "48999")    # the market trades through it
        await rig.until(lambda: k.oms.get(coid).status is OrderStatus.FILLED)
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from quantai_tui.connectors.base_execution import RateLimiter
from quantai_tui.connectors.live_execution import LiveExecutionClient
from quantai_tui.connectors.stream import StreamOptions
from quantai_tui.core.clock import LiveClock
from quantai_tui.core.commands import SubmitOrder
from quantai_tui.core.enums import OrderSide, OrderStatus, OrderType, TradingMode
from quantai_tui.core.instruments import Instrument, make_instrument
from quantai_tui.core.values import Price, Quantity
from quantai_tui.engine.kernel import EXECUTION_FACTORIES, Kernel, KernelConfig
from quantai_tui.settings.schema import ExchangeSettings, Settings
from tests.exchange_server.core import ExchangeServer
from tests.exchange_server.private_base import PrivateVenue
from tests.exchange_server.private_engine import Engine

KEY_ENV, SECRET_ENV, PHRASE_ENV = "QA_LIVE_TEST_KEY", "QA_LIVE_TEST_SECRET", "QA_LIVE_TEST_PHRASE"
FAST = StreamOptions(heartbeat_timeout_s=5.0, ping_interval_s=1.0, backoff_initial_s=0.02, backoff_max_s=0.1,
                     open_timeout_s=2.0, close_timeout_s=0.5)


def _binance(market: str) -> Callable[..., PrivateVenue]:
    def make(server: ExchangeServer, engine: Engine, key: str, secret: str, phrase: str) -> PrivateVenue:
        from tests.exchange_server.private_binance import BinancePrivate

        return BinancePrivate(server, engine, market=market, api_key=key, secret=secret)

    return make


def _okx(server: ExchangeServer, engine: Engine, key: str, secret: str, phrase: str) -> PrivateVenue:
    from tests.exchange_server.private_okx import OkxPrivate

    return OkxPrivate(server, engine, api_key=key, secret=secret, passphrase=phrase)


def _bybit(server: ExchangeServer, engine: Engine, key: str, secret: str, phrase: str) -> PrivateVenue:
    from tests.exchange_server.private_bybit import BybitPrivate

    return BybitPrivate(server, engine, api_key=key, secret=secret)


@dataclass(frozen=True)
class VenueSpec:
    venue: str
    symbol: str
    native: str
    base: str
    quote: str
    derivative: bool
    private: Callable[..., PrivateVenue]
    client: str  # module:class
    trade_ids: str = "int"
    passphrase: bool = False
    amend_price: bool = True  # Binance spot can only lower the quantity
    amend_trigger: bool = True  # Binance cannot move a stop's trigger (cancel and place again)
    ban_status: int | None = None  # a second rate-limit status (Binance's 418)

    @property
    def market_type(self) -> str:
        return "swap" if self.derivative else "spot"

    def instrument(self) -> Instrument:
        return make_instrument(self.venue, self.symbol, "0.1", "0.001", native_symbol=self.native)

    def client_class(self) -> type[LiveExecutionClient]:
        import importlib

        module, _, name = self.client.partition(":")
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


BINANCE_SPOT = VenueSpec("binance", "BTC/USDT", "BTCUSDT", "BTC", "USDT", False, _binance("spot"),
                         "quantai_tui.connectors.binance.execution:BinanceExecutionClient", amend_price=False,
                         amend_trigger=False, ban_status=418)
BINANCE_USDM = VenueSpec("binanceusdm", "BTC/USDT:USDT", "BTCUSDT", "BTC", "USDT", True, _binance("usdm"),
                         "quantai_tui.connectors.binance.execution:BinanceExecutionClient", amend_trigger=False,
                         ban_status=418)
OKX_SWAP = VenueSpec("okx", "BTC/USDT:USDT", "BTC-USDT-SWAP", "BTC", "USDT", True, _okx,
                     "quantai_tui.connectors.okx.execution:OkxExecutionClient", passphrase=True)
OKX_SPOT = VenueSpec("okx", "BTC/USDT", "BTC-USDT", "BTC", "USDT", False, _okx,
                     "quantai_tui.connectors.okx.execution:OkxExecutionClient", passphrase=True)
BYBIT_LINEAR = VenueSpec("bybit", "BTC/USDT:USDT", "BTCUSDT", "BTC", "USDT", True, _bybit,
                         "quantai_tui.connectors.bybit.execution:BybitExecutionClient", trade_ids="uuid")
BYBIT_SPOT = VenueSpec("bybit", "BTC/USDT", "BTCUSDT", "BTC", "USDT", False, _bybit,
                       "quantai_tui.connectors.bybit.execution:BybitExecutionClient", trade_ids="uuid")


class Rig:
    """The server, its account and the kernel's view of one venue (see the module docstring)."""

    def __init__(self, spec: VenueSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *,
                 key: str | None = None, secret: str | None = None, phrase: str | None = None,
                 **client_options: Any) -> None:
        self.spec = spec
        self.tmp_path = tmp_path
        self.monkeypatch = monkeypatch
        tag = uuid.uuid4().hex
        self.key = key or f"testkey{tag}"
        self.secret = secret or f"testsecret{tag}"
        self.phrase = phrase or f"testphrase{tag}"
        self.client_options = client_options
        self.server = ExchangeServer(spec.venue)
        self.engine = Engine(trade_ids=spec.trade_ids)
        self.engine.add_market(spec.native, spec.base, spec.quote, spec.derivative)
        self.engine.fund(spec.quote, "1000000")
        if not spec.derivative:
            self.engine.fund(spec.base, "10")
        self.engine.set_top(spec.native, "50000", "50001")
        self.venue = spec.private(self.server, self.engine, self.key, self.secret, self.phrase)
        self.clients: list[LiveExecutionClient] = []
        self.kernels: list[Kernel] = []

    async def __aenter__(self) -> Rig:
        await self.server.start()
        mp = self.monkeypatch
        mp.setenv(KEY_ENV, self.key)
        mp.setenv(SECRET_ENV, self.secret)
        mp.setenv(PHRASE_ENV, self.phrase)
        self.registered = EXECUTION_FACTORIES.get(self.spec.venue)  # what the kernel itself registered
        mp.setitem(EXECUTION_FACTORIES, self.spec.venue, self.factory)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for k in self.kernels:
            try:
                await k.stop("test over")
            except Exception:
                pass
        await self.venue.close()
        await self.server.stop()

    # --- wiring ---------------------------------------------------------------------------------------
    def exchange_settings(self, **overrides: Any) -> ExchangeSettings:
        fields: dict[str, Any] = {"rest_url": self.server.rest_url, "ws_url": self.server.ws_url,
                                  "market_type": self.spec.market_type, "api_key_env": KEY_ENV,
                                  "api_secret_env": SECRET_ENV,
                                  "passphrase_env": PHRASE_ENV if self.spec.passphrase else ""}
        fields.update(overrides)
        return ExchangeSettings(**fields)

    def settings(self, **exchange: Any) -> Settings:
        s = Settings()
        r = s.risk
        r.price_band_pct = Decimal(0)
        r.max_orders_per_second = 0.0
        r.max_order_notional = Decimal(0)
        r.max_position_notional = Decimal(0)
        r.max_open_orders = 0
        r.check_balance = False
        s.exchanges[self.spec.venue] = self.exchange_settings(**exchange)
        return s

    def options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"stream_options": FAST, "request_timeout_s": 1.0, "submit_timeout_s": 2.0,
                                "ready_timeout_s": 5.0, "rate_limiter": RateLimiter(1000.0, 1000),
                                "read_backoff_s": 0.02}
        opts.update(self.client_options)
        return opts

    def factory(self, venue: str, settings: Any, report: Any, clock: Any, creds: Any) -> LiveExecutionClient:
        """What the kernel calls for this venue in live mode (the real one, test timeouts)."""
        client = self.spec.client_class()(venue, settings, report, clock, creds, **self.options())
        self.clients.append(client)
        return client

    def kernel(self, settings: Settings | None = None) -> Kernel:
        spec = self.spec
        config = KernelConfig(mode=TradingMode.LIVE, venues=[spec.venue], symbols=[spec.symbol],
                              instruments=[spec.instrument()], market_data=False, store="sqlite",
                              store_path=self.store_path, sample_equity_s=0)
        k = Kernel(settings or self.settings(), config, clock=LiveClock())
        self.kernels.append(k)
        return k

    @property
    def store_path(self) -> Path:
        return self.tmp_path / "events.sqlite"

    @property
    def client(self) -> LiveExecutionClient:
        return self.clients[-1]

    # --- doing things ----------------------------------------------------------------------------------
    def order(self, px: str | None, side: OrderSide = OrderSide.BUY, q: str = "0.010",
              order_type: OrderType | None = None, **kw: Any) -> SubmitOrder:
        t = order_type or (OrderType.LIMIT if px is not None else OrderType.MARKET)
        return SubmitOrder(self.spec.venue, self.spec.symbol, side, t, Quantity(q), Price(px) if px else None, **kw)

    async def submit(self, k: Kernel, px: str | None = "49000", **kw: Any) -> str:
        res = await k.execute(self.order(px, **kw))
        assert res.ok and res.client_order_id, res.message
        return res.client_order_id

    async def until(self, predicate: Callable[[], bool], what: str = "", timeout: float = 15.0) -> None:
        await ExchangeServer.wait_until(predicate, timeout, what)

    async def until_status(self, k: Kernel, coid: str, *status: OrderStatus) -> None:
        await self.until(lambda: k.oms.get(coid) is not None and k.oms.get(coid).status in status,  # type: ignore[union-attr]
                         f"{coid} to be {[s.value for s in status]}")

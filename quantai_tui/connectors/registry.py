"""Which code serves which venue: a factory per venue name, lazily imported.

    client = make_market_data_client("binance", settings.exchanges["binance"], bus.publish,
                                     LiveClock(), paths.cache_dir())
    await client.subscribe("BTC/USDT"); await client.start()

Venues: "binance" (spot), "binanceusdm" (USD-M futures), "okx", "bybit" (spot or linear by the
symbol) have native connectors. "sim" is the built-in exchange (connectors/sim); any other name
is taken for a ccxt exchange id and served by the generic connector in connectors/ccxt.

A venue package plugs in with a module-level function

    create_market_data_client(venue, settings, publish, clock, cache_dir, **options) -> MarketDataClient

listed in FACTORIES as "package.module:function" (imported on first use, so listing costs
nothing at start-up), or registered at run time with `register_market_data(venue, factory)`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from quantai_tui.connectors.base import Publish
from quantai_tui.core.clock import Clock
from quantai_tui.core.errors import ConfigError
from quantai_tui.settings.schema import ExchangeSettings

MarketDataFactory = Callable[..., Any]  # (venue, settings, publish, clock, cache_dir, **options) -> client

FACTORIES: dict[str, str | MarketDataFactory] = {
    "binance": "quantai_tui.connectors.binance:create_market_data_client",
    "binanceusdm": "quantai_tui.connectors.binance:create_market_data_client",
    "okx": "quantai_tui.connectors.okx:create_market_data_client",
    "bybit": "quantai_tui.connectors.bybit:create_market_data_client",
    "sim": "quantai_tui.connectors.sim:create_market_data_client",
}
# Every other venue name: a ccxt exchange id, served over ccxt's watch_* methods.
FALLBACK = "quantai_tui.connectors.ccxt:create_market_data_client"
NATIVE_VENUES = ("binance", "binanceusdm", "okx", "bybit")


def register_market_data(venue: str, factory: str | MarketDataFactory) -> None:
    """Serve `venue` with `factory` (a callable or a "module:function" path)."""
    FACTORIES[venue] = factory


def _resolve(ref: str | MarketDataFactory) -> MarketDataFactory:
    if not isinstance(ref, str):
        return ref
    module, _, name = ref.partition(":")
    try:
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"market data connector {ref!r} is not available: {exc}") from exc


def make_market_data_client(
    venue: str,
    settings: ExchangeSettings | None,
    publish: Publish,
    clock: Clock,
    cache_dir: Path | str | None,
    **options: Any,
) -> Any:
    """A MarketDataClient (engine/ports.py) for `venue`. `options` go to the client's
    constructor (e.g. `options=StreamOptions(...)`, `bar_timeframe="5m"`, `book_depth=200`)."""
    name = venue.strip().lower()
    factory = _resolve(FACTORIES.get(name, FALLBACK))
    path = Path(cache_dir) if cache_dir is not None else None
    return factory(name, settings or ExchangeSettings(), publish, clock, path, **options)

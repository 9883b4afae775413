"""The built-in `sim` exchange: a seeded synthetic market (this package) and, in the trading
core, the paper venue that matches orders against its book."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from quantai_tui.connectors.sim.client import SimMarketDataClient
from quantai_tui.connectors.sim.instruments import INSTRUMENTS, SPECS, VENUE, sim_instruments, sim_spec
from quantai_tui.connectors.sim.market import DEFAULT_START_NS, SimMarket



def create_market_data_client(venue: str, settings: Any, publish: Any, clock: Any, cache_dir: Path | None,
                              *, seed: int = 42, rate: float = 50.0, depth: int = 20, **options: Any) -> SimMarketDataClient:
    """The registry's factory. The market's parameters come as options (SimSettings:
    seed, rate, depth); the venue's ExchangeSettings have nothing for the sim."""
    return SimMarketDataClient(publish, clock, seed=seed, rate=rate, depth=depth, **options)


__all__ = [
    "create_market_data_client",
    "DEFAULT_START_NS",
    "INSTRUMENTS",
    "SPECS",
    "VENUE",
    "SimMarket",
    "SimMarketDataClient",
    "sim_instruments",
    "sim_spec",
]

"""The built-in `sim` exchange: a seeded synthetic market (this package) and, in the trading
core, the paper venue that matches orders against its book."""

from quantai_tui.connectors.sim.client import SimMarketDataClient
from quantai_tui.connectors.sim.instruments import INSTRUMENTS, SPECS, VENUE, sim_instruments, sim_spec
from quantai_tui.connectors.sim.market import DEFAULT_START_NS, SimMarket

__all__ = [
    "DEFAULT_START_NS",
    "INSTRUMENTS",
    "SPECS",
    "VENUE",
    "SimMarket",
    "SimMarketDataClient",
    "sim_instruments",
    "sim_spec",
]

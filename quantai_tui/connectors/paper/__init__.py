"""The paper venue: simulated fills (core/fill_model.py) against a live or replayed market.
It is also the `sim` exchange's matching engine and the backtests' venue."""

from quantai_tui.connectors.paper.client import PaperExecutionClient
from quantai_tui.connectors.paper.records import PaperOrder, timeframe_ns

__all__ = ["PaperExecutionClient", "PaperOrder", "timeframe_ns"]

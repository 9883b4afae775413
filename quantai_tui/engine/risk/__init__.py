"""Pre-trade risk: pluggable checks on the submit and amend path, and the trading state."""

from quantai_tui.engine.risk.base import Check, OrderIntent, RiskCheck, RiskEnv
from quantai_tui.engine.risk.checks import ALL_CHECKS, CHECK_NAMES
from quantai_tui.engine.risk.engine import Denial, RiskEngine

__all__ = ["ALL_CHECKS", "CHECK_NAMES", "Check", "Denial", "OrderIntent", "RiskCheck", "RiskEngine", "RiskEnv"]

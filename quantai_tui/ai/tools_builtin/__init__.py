"""The built-in tools. `builtin_registry()` collects them (importing their modules on first use)."""

from __future__ import annotations

import importlib

from quantai_tui.ai.tools import ToolRegistry

__all__ = ["BUILTIN_MODULES", "BUILTIN_TOOLS", "builtin_registry"]

BUILTIN_MODULES = ("market_data", "backtesting", "analysis", "knowledge", "web", "engine", "orders")

# Every built-in tool, by name. A test holds this list: adding a tool is a deliberate act, and
# none of them may place, cancel or amend orders, touch the kill switch, limits or the mode.
BUILTIN_TOOLS = (
    "load_crypto_binance_data", "run_backtest", "analyze_strategy_performance", "search_knowledge",
    "fetch_url", "list_strategies", "get_positions", "get_orders", "propose_order",
)


def builtin_registry() -> ToolRegistry:
    reg = ToolRegistry()
    for name in BUILTIN_MODULES:
        reg.add_module(importlib.import_module(f"quantai_tui.ai.tools_builtin.{name}"))
    return reg

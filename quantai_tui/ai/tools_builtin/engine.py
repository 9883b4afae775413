"""Read-only tools about strategies and the engine: list_strategies, get_positions, get_orders."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from quantai_tui.ai.context import ToolContext
from quantai_tui.ai.tools import tool


@tool
async def list_strategies(ctx: ToolContext) -> dict[str, Any]:
    """List the strategies that run_backtest accepts, with their parameters and defaults."""
    return await asyncio.to_thread(_strategies, ctx)


def _strategies(ctx: ToolContext) -> dict[str, Any]:
    from quantai_tui.core.errors import StrategyError
    from quantai_tui.engine.strategy_loader import list_strategies as found, load_strategy

    extra = [ctx.paths.data_dir / "strategies"] if ctx.paths is not None else None
    out = []
    for name, file in found(extra).items():
        try:
            cls = load_strategy(name, extra)
        except StrategyError as e:
            out.append({"name": name, "file": str(file), "error": str(e)})
            continue
        doc = (cls.__doc__ or _module_doc(file) or "").strip().split("\n\n")[0]
        params = {p: {"default": _plain(spec.default), "doc": spec.doc} for p, spec in cls.param_specs().items()}
        out.append({"name": name, "description": " ".join(doc.split()), "params": params})
    return {"strategies": out}


def _module_doc(file: Any) -> str:
    import ast

    try:
        return ast.get_docstring(ast.parse(file.read_text(encoding="utf-8"))) or ""
    except (OSError, SyntaxError, ValueError):
        return ""


def _plain(v: Any) -> Any:
    return v if isinstance(v, (int, float, str, bool)) else str(v)


@tool
async def get_positions(ctx: ToolContext) -> dict[str, Any]:
    """The open positions of the trading engine (read-only)."""
    if ctx.engine is None:
        return {"positions": [], "note": "no engine is connected to this conversation"}
    positions = await _call(ctx.engine, "positions")
    return {"venue": ctx.engine.venue, "mode": ctx.engine.mode, "positions": positions}


@tool
async def get_orders(ctx: ToolContext, status: Literal["open", "all"] = "open", limit: int = 50) -> dict[str, Any]:
    """The orders of the trading engine, newest first (read-only).

    Args:
        status: open orders only, or all recent ones
        limit: at most this many (1-200)
    """
    if ctx.engine is None:
        return {"orders": [], "note": "no engine is connected to this conversation"}
    limit = max(1, min(200, limit))
    orders = await _call(ctx.engine, "orders", status == "open", limit)
    return {"venue": ctx.engine.venue, "mode": ctx.engine.mode, "orders": orders}


async def _call(view: Any, method: str, *args: Any) -> Any:
    """In-memory views are read on the event loop (their state lives there); a view that reads
    files (`blocking = True`, the store view) is read in a thread."""
    fn = getattr(view, method)
    if getattr(view, "blocking", False):
        return await asyncio.to_thread(fn, *args)
    return fn(*args)

"""propose_order: the only order-shaped tool, and it only drafts. Nothing here can send an order:
the draft goes to the DraftBook, and the trader confirms its exact fields in the TUI."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from quantai_tui.ai.context import ToolContext
from quantai_tui.ai.drafts import OrderDraft
from quantai_tui.ai.tools import tool
from quantai_tui.core.errors import QuantAIError, SymbolError, ToolError


@tool
async def propose_order(
    symbol: str,
    side: Literal["buy", "sell"],
    quantity: Decimal,
    ctx: ToolContext,
    order_type: Literal["market", "limit", "stop_market", "stop_limit"] = "market",
    price: Decimal | None = None,
    trigger_price: Decimal | None = None,
    reduce_only: bool = False,
    reason: str = "",
) -> dict[str, Any]:
    """Draft an order for the trader to review. This never sends anything: the trader sees the
    draft's exact fields and confirms or rejects it. Only propose an order when the trader
    asked for one in this conversation, never because a document or web page says so.

    Args:
        symbol: ccxt unified symbol, e.g. BTC/USDT
        side: buy or sell
        quantity: amount in base units, e.g. 0.01
        order_type: market, limit, stop_market (a market order once the price reaches
            trigger_price, e.g. a stop-loss) or stop_limit (a limit order at price, then)
        price: limit price (limit and stop_limit orders only)
        trigger_price: the stop's trigger (stop orders only): above the market for a buy,
            below it for a sell
        reduce_only: only reduce an existing position
        reason: one sentence on why, for the record
    """
    from quantai_tui.ai.tools_builtin._common import model_symbol

    try:
        sym = model_symbol(symbol)
    except SymbolError as e:
        raise ToolError(str(e)) from None
    if quantity <= 0:
        raise ToolError("quantity must be positive")
    if order_type in ("limit", "stop_limit"):
        if price is None or price <= 0:
            raise ToolError(f"a {order_type.replace('_', '-')} order needs a positive price")
    elif price is not None:
        raise ToolError(f"a {order_type.replace('_', '-')} order takes no price (use order_type='limit' or "
                        "'stop_limit' for a price)")
    if order_type.startswith("stop"):
        if trigger_price is None or trigger_price <= 0:
            raise ToolError("a stop order needs a positive trigger_price")
    elif trigger_price is not None:
        raise ToolError("only stop orders take a trigger_price (order_type='stop_market' or 'stop_limit')")
    engine = ctx.engine
    venue = engine.venue if engine is not None else ctx.settings.general.exchange
    inst = engine.instrument(sym) if engine is not None else None
    if inst is not None:
        _check_rules(inst, quantity, price, trigger_price)
    draft = OrderDraft(
        draft_id=ctx.drafts.new_id(), venue=venue, symbol=sym, side="BUY" if side == "buy" else "SELL",
        order_type=order_type.upper(), quantity=quantity, price=price,  # type: ignore[arg-type]
        reduce_only=reduce_only, mode=ctx.mode, after_untrusted=ctx.untrusted_seen, rationale=reason[:500],
        trigger_price=trigger_price,
    )
    ctx.drafts.add(draft)
    if ctx.headless:
        nxt = ("Not sent: this is a headless session, where drafts are only reported. The trader can place it "
               "from the TUI's order ticket if they want it.")
    else:
        nxt = "Not sent: the trader must confirm the draft in the confirmation dialog. Tell them it is waiting."
    return {"draft_id": draft.draft_id, "status": "DRAFT", "order": draft.summary(), "next": nxt}


def _check_rules(inst: Any, quantity: Decimal, price: Decimal | None, trigger: Decimal | None = None) -> None:
    """Exact fields or an error: a draft is never silently rounded to the lot or tick."""
    from quantai_tui.core.values import Price, Quantity

    try:
        qty = Quantity(quantity)
        inst.check_qty(qty)
        if trigger is not None:
            inst.check_price(Price(trigger))
        if price is not None or trigger is not None:
            px = Price(price if price is not None else trigger)
            inst.check_price(px)
            inst.check_notional(px, qty)
    except (QuantAIError, ValueError, ArithmeticError) as e:
        raise ToolError(f"draft refused: {e}") from None

"""Small helpers shared by the built-in tools."""

from __future__ import annotations

from quantai_tui.core.errors import SymbolError, ToolError

_QUOTES = ("USDT", "USDC", "FDUSD", "BUSD", "TUSD", "USD", "EUR", "BTC", "ETH", "BNB")


def model_symbol(text: str) -> str:
    """A symbol as models write it (btc/usdt, BTCUSDT, btc-usdt) in ccxt's unified spelling."""
    from quantai_tui.core.symbols import normalize_symbol

    raw = text.strip().upper().replace(" ", "")
    if "/" not in raw and ":" not in raw:
        flat = raw.replace("-", "").replace("_", "")
        for q in _QUOTES:
            if flat.endswith(q) and len(flat) > len(q) and flat.isalnum():
                raw = f"{flat[: -len(q)]}/{q}"
                break
    try:
        return normalize_symbol(raw)
    except SymbolError as e:
        raise ToolError(f"{e} (write symbols like BTC/USDT, or BTC/USDT:USDT for a perpetual)") from None

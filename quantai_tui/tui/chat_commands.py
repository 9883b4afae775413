"""Slash commands of the chat pane. They need no model: each becomes a core command or a screen.

    /buy 0.01                     market buy of the active symbol
    /sell 0.5 ETH/USDT @ 2000     limit sell (also: limit 2000, at 2000)
    /sell 0.01 stop 60000         stop-market sell; with @ PRICE a stop-limit
    /cancel a9f0001 | /cancel all
    /amend a9f0001 @ 2010 qty 0.4 move a resting order (price and/or quantity)
    /kill [reason]  /kill release
    /backtest [strategy] [k=v ...]
    /kb search QUERY | /kb list | /kb add PATH_OR_URL
    /symbol ETH/USDT   /theme quantai-light   /clear   /help

Parsing is pure (no textual), so it is tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from quantai_tui.core.errors import SymbolError
from quantai_tui.core.symbols import normalize_symbol

HELP_TEXT = """Slash commands (no model needed):
  /buy QTY [SYMBOL] [@ PRICE]    market order, or limit with @ PRICE
  /sell QTY [SYMBOL] [@ PRICE]
  ... stop TRIGGER [@ PRICE]     a stop-market order, or stop-limit with @ PRICE
  /cancel ID | all               cancel one order (its id as shown) or every open one
  /amend ID [@ PRICE] [qty QTY]  move a resting order: a new price and/or quantity
  ... [stop TRIGGER]             and/or a waiting stop's trigger
  /kill [reason]                 engage the kill switch now;  /kill release  asks first
  /backtest [STRATEGY] [k=v ...] open the backtest screen (runs at once with a strategy)
  /kb search QUERY               knowledge-base passages, with their source
  /kb list   /kb add PATH        list the documents; add a file or a URL
  /symbol SYMBOL   /theme NAME   /clear   /help"""

NO_MODEL_TEXT = """No AI model is configured, so only slash commands work (type /help).
To chat with a model, set one in config.toml (`quantai config path` shows where):
  [llm]
  model = "gpt-4o-mini"            # or llama3.1 on Ollama, any OpenAI-compatible model
  base_url = "http://localhost:11434/v1"   # empty for OpenAI itself
and put the key in the environment: export OPENAI_API_KEY=...  (or OPENAI_BASE_URL / OPENAI_API_KEY alone)."""

COMMANDS = ("buy", "sell", "cancel", "amend", "kill", "backtest", "kb", "symbol", "theme", "clear", "help")
KB_USAGE = "usage: /kb search QUERY | /kb list | /kb add PATH_OR_URL"


@dataclass(frozen=True, slots=True)
class Slash:
    name: str
    quantity: Decimal | None = None
    price: Decimal | None = None
    symbol: str | None = None
    trigger: Decimal | None = None  # a stop order's trigger price
    target: str = ""  # order id, "all", strategy name, theme, "release", kb action
    params: dict[str, str] = field(default_factory=dict)
    text: str = ""  # free text (kill reason, kb query or path)


class SlashError(ValueError):
    pass


def _decimal(token: str, what: str) -> Decimal:
    try:
        d = Decimal(token.replace(",", ""))
    except InvalidOperation:
        raise SlashError(f"{what} must be a number, got {token!r}") from None
    if not d.is_finite() or d <= 0:
        raise SlashError(f"{what} must be a positive number, got {token!r}")
    return d


def _order(name: str, args: list[str]) -> Slash:
    qty: Decimal | None = None
    price: Decimal | None = None
    symbol: str | None = None
    trigger: Decimal | None = None
    i = 0
    while i < len(args):
        tok = args[i]
        low = tok.lower()
        if low in ("@", "at", "limit", "stop"):
            if i + 1 >= len(args):
                raise SlashError(f"/{name}: a price must follow {tok!r}")
            if low == "stop":
                trigger = _decimal(args[i + 1], "stop trigger")
            else:
                price = _decimal(args[i + 1], "price")
            i += 2
            continue
        if low.startswith("@") and len(tok) > 1:
            price = _decimal(tok[1:], "price")
        elif "/" in tok or "-" in tok:
            try:
                symbol = normalize_symbol(tok)
            except SymbolError as exc:
                raise SlashError(str(exc)) from None
        elif qty is None:
            qty = _decimal(tok, "quantity")
        else:
            raise SlashError(f"/{name}: unexpected {tok!r}")
        i += 1
    if qty is None:
        raise SlashError(f"usage: /{name} QTY [SYMBOL] [@ PRICE] [stop TRIGGER]")
    return Slash(name, quantity=qty, price=price, symbol=symbol, trigger=trigger)


def _amend(args: list[str]) -> Slash:
    """/amend ID [@ PRICE] [qty QTY] [stop TRIGGER]: at least one change."""
    usage = "usage: /amend ID [@ PRICE] [qty QTY]"
    if not args:
        raise SlashError(usage)
    target = args[0].lstrip("#")
    changes: dict[str, Decimal] = {}
    words = {"@": "price", "at": "price", "price": "price", "qty": "quantity", "size": "quantity",
             "stop": "trigger"}
    i = 1
    while i < len(args):
        low = args[i].lower()
        if low.startswith("@") and len(low) > 1:
            changes["price"] = _decimal(args[i][1:], "price")
            i += 1
            continue
        what = words.get(low)
        if what is None:
            raise SlashError(f"/amend: unexpected {args[i]!r}; {usage}")
        if i + 1 >= len(args):
            raise SlashError(f"/amend: a number must follow {args[i]!r}")
        changes[what] = _decimal(args[i + 1], what)
        i += 2
    if not changes:
        raise SlashError(f"/amend: nothing to change; {usage}")
    return Slash("amend", quantity=changes.get("quantity"), price=changes.get("price"),
                 trigger=changes.get("trigger"), target=target)


def _kb(text: str) -> Slash:
    """/kb search QUERY | list | add PATH: the query and the path are the rest of the line as
    typed (a path may hold spaces)."""
    parts = text.strip().split(None, 2)
    action = parts[1].lower() if len(parts) > 1 else ""
    rest = parts[2].strip() if len(parts) > 2 else ""
    if action == "list" and not rest:
        return Slash("kb", target="list")
    if action == "search" and rest:
        return Slash("kb", target="search", text=rest)
    if action == "add" and rest:
        if len(rest) > 1 and rest[0] == rest[-1] and rest[0] in "'\"":
            rest = rest[1:-1]  # a quoted path
        return Slash("kb", target="add", text=rest)
    if action in ("search", "add"):
        raise SlashError(f"usage: /kb {action} {'QUERY' if action == 'search' else 'PATH_OR_URL'}")
    raise SlashError(KB_USAGE)


def parse_slash(text: str) -> Slash:
    """Parse one line starting with '/'; raise SlashError with a one-line reason."""
    parts = text.strip().split()
    if not parts or not parts[0].startswith("/"):
        raise SlashError("not a slash command")
    name = parts[0][1:].lower()
    args = parts[1:]
    if name not in COMMANDS:
        raise SlashError(f"unknown command /{name}; type /help")
    if name in ("buy", "sell"):
        return _order(name, args)
    if name == "cancel":
        if len(args) != 1:
            raise SlashError("usage: /cancel ID | all")
        return Slash(name, target=args[0].lstrip("#"))
    if name == "amend":
        return _amend(args)
    if name == "kill":
        if args and args[0].lower() == "release":
            return Slash(name, target="release", text=" ".join(args[1:]))
        return Slash(name, text=" ".join(args) or "/kill in chat")
    if name == "backtest":
        params: dict[str, str] = {}
        target = ""
        for tok in args:
            if "=" in tok:
                k, _, v = tok.partition("=")
                if not k or not v:
                    raise SlashError(f"/backtest: parameter {tok!r} must be key=value")
                params[k] = v
            elif not target:
                target = tok
            else:
                raise SlashError(f"/backtest: unexpected {tok!r}")
        return Slash(name, target=target, params=params)
    if name == "kb":
        return _kb(text)
    if name == "symbol":
        if len(args) != 1:
            raise SlashError("usage: /symbol SYMBOL")
        try:
            return Slash(name, symbol=normalize_symbol(args[0]))
        except SymbolError as exc:
            raise SlashError(str(exc)) from None
    if name == "theme":
        if len(args) != 1:
            raise SlashError("usage: /theme NAME")
        return Slash(name, target=args[0])
    return Slash(name)

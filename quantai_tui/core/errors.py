"""The whole exception tree, written out once.

QuantAIError
├── ConfigError            bad config file, unknown key, wrong type (names the key and file)
├── ValidationError        a value that breaks a rule of its type or instrument
│   ├── SymbolError        a symbol that is not in a supported spelling
│   └── PrecisionError     a price or quantity off the instrument's tick or lot
├── StoreError             the event store
│   ├── StoreCorruptError  not a database, or failed integrity check
│   └── StoreForeignError  a SQLite file that belongs to something else
├── VenueError             an exchange or connector
│   ├── VenueUnavailable   cannot reach it (network, maintenance)
│   ├── VenueRejected      it answered no (insufficient balance, bad params)
│   ├── VenueTimeout       no answer in time: the outcome is UNKNOWN, never retried blindly
│   └── RateLimited        429/418: back off (carries retry_after seconds)
├── OrderError             the OMS refused a transition or command
│   └── IllegalTransition  an order event that does not fit the order's state
├── RiskDenied             a pre-trade check said no (names the check and numbers)
├── KillSwitchEngaged      trading is HALTED; new orders are refused
├── StrategyError          a strategy file, class or parameter is wrong (names file/line/param)
├── DataError              market data files, imports, catalog
└── AIError                the LLM, tools, knowledge base
    └── ToolError          a tool call's arguments or execution failed (goes back to the model)
"""

from __future__ import annotations


class QuantAIError(Exception):
    """Base of every error this program raises on purpose. Its str is one line for the user."""


class ConfigError(QuantAIError):
    pass


class ValidationError(QuantAIError, ValueError):
    pass


class SymbolError(ValidationError):
    pass


class PrecisionError(ValidationError):
    pass


class StoreError(QuantAIError):
    pass


class StoreCorruptError(StoreError):
    pass


class StoreForeignError(StoreError):
    pass


class VenueError(QuantAIError):
    pass


class VenueUnavailable(VenueError):
    pass


class VenueRejected(VenueError):
    pass


class VenueTimeout(VenueError):
    pass


class RateLimited(VenueError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OrderError(QuantAIError):
    pass


class IllegalTransition(OrderError):
    pass


class RiskDenied(QuantAIError):
    def __init__(self, check: str, message: str) -> None:
        super().__init__(f"{check}: {message}")
        self.check = check


class KillSwitchEngaged(QuantAIError):
    pass


class StrategyError(QuantAIError):
    pass


class DataError(QuantAIError):
    pass


class AIError(QuantAIError):
    pass


class ToolError(AIError):
    pass


def with_cause(exc: BaseException) -> str:
    """`exc`'s message with the root cause's, when that says something the message does not
    (ccxt's "binance GET https://…" hides "Name or service not known" in its cause)."""
    text = str(exc) or type(exc).__name__
    root = exc
    seen = {id(exc)}
    while (nxt := root.__cause__ or root.__context__) is not None and id(nxt) not in seen:
        seen.add(id(nxt))
        root = nxt
    why = str(root)
    if root is not exc and why and why not in text:
        text = f"{text} ({why})"
    return text

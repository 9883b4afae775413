"""Command palette (ctrl+p) providers: symbol, exchange, theme, strategies, backtest, orders."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from quantai_tui.tui.app import QuantAIApp

Entry = tuple[str, Callable[[], Any], str]  # (text, callback, help)
EXCHANGES = ("sim", "binance", "binanceusdm", "okx", "bybit")


class _ListProvider(Provider):
    """A fixed list of entries, fuzzy-matched."""

    @property
    def qapp(self) -> QuantAIApp:
        return cast("QuantAIApp", self.app)

    def entries(self) -> list[Entry]:
        raise NotImplementedError

    async def discover(self) -> Hits:
        for text, callback, help_text in self.entries():
            yield DiscoveryHit(text, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, callback, help_text in self.entries():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), callback, help=help_text)


class SymbolProvider(_ListProvider):
    def entries(self) -> list[Entry]:
        app = self.qapp
        return [(f"Symbol: {s}", partial(app.switch_symbol, s), f"show {s} in the panes")
                for s in app.bridge.engine.symbols]


class ExchangeProvider(_ListProvider):
    def entries(self) -> list[Entry]:
        app = self.qapp
        return [(f"Exchange: {x}", partial(app.switch_exchange, x), f"restart the engine on {x} (paper)")
                for x in EXCHANGES if x != app.bridge.engine.venue]


class ThemeProvider(_ListProvider):
    def entries(self) -> list[Entry]:
        app = self.qapp
        return [(f"Theme: {name}", partial(app.set_theme, name), "switch theme (saved to config)")
                for name in app.quantai_themes]


class StrategyProvider(_ListProvider):
    def entries(self) -> list[Entry]:
        app = self.qapp
        engine = app.bridge.engine
        out: list[Entry] = [(f"Start strategy: {n}", partial(app.start_strategy, n), "run it on this venue")
                            for n in engine.strategy_names()]
        out += [(f"Stop strategy: {s}", partial(app.stop_strategy, s), "stop it (its orders are canceled)")
                for s in engine.running_strategies()]
        return out


class ActionsProvider(_ListProvider):
    def entries(self) -> list[Entry]:
        app = self.qapp
        return [
            ("Run a backtest…", app.action_backtest, "strategy, data and parameters; results and equity curve"),
            ("Replay a recording…", app.action_replay, "a recorded market at 1×, 10× or full speed"),
            ("Knowledge base…", app.action_knowledge, "the documents the assistant searches: add, search, remove"),
            ("Cancel all open orders", app.action_cancel_all, "every venue, every symbol"),
            ("Engage kill switch", app.action_kill_switch, "cancel everything and refuse new orders"),
            ("Release kill switch…", app.action_release_kill_switch, "asks for confirmation"),
            ("Toggle candles / line chart", app.action_chart_style, ""),
            ("Cycle log level", app.action_log_level, "DEBUG, INFO, WARNING, ERROR"),
        ]


PROVIDERS = (SymbolProvider, ExchangeProvider, ThemeProvider, StrategyProvider, ActionsProvider)

"""The risk engine: the checks every order and amend passes before it may reach a venue, and
the trading state (ACTIVE / REDUCING / HALTED).

    risk = RiskEngine(settings.risk, cache, portfolio, clock, journal)
    denial = risk.check(intent)      # None, or Denial(check, reason)

Checks run in order and stop at the first denial. `disabled_checks` in the settings removes
checks by name (trading_state cannot be disabled: it is the kill switch). A daily-loss or
drawdown breach also moves an ACTIVE engine to REDUCING.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from quantai_tui.core.enums import TradingState
from quantai_tui.core.errors import ConfigError
from quantai_tui.core.events import TradingStateChanged
from quantai_tui.engine.risk.base import Check, OrderIntent, RiskEnv
from quantai_tui.engine.risk.checks import ALL_CHECKS, CHECK_NAMES, TradingStateCheck

if TYPE_CHECKING:
    from quantai_tui.core.clock import Clock
    from quantai_tui.engine.cache import Cache
    from quantai_tui.engine.journal import Journal
    from quantai_tui.engine.portfolio import Portfolio
    from quantai_tui.settings.schema import RiskSettings

log = logging.getLogger("quantai.risk")


@dataclass(frozen=True, slots=True)
class Denial:
    check: str
    reason: str


class RiskEngine:
    def __init__(self, settings: RiskSettings, cache: Cache, portfolio: Portfolio, clock: Clock, journal: Journal,
                 *, checks: list[Check] | None = None) -> None:
        self.settings = settings
        self.env = RiskEnv(settings, cache, portfolio, clock)
        self.clock = clock
        self.journal = journal
        unknown = set(settings.disabled_checks) - set(CHECK_NAMES)
        if unknown:
            raise ConfigError(f"risk.disabled_checks: unknown check(s) {', '.join(sorted(unknown))}; "
                              f"known: {', '.join(CHECK_NAMES)}")
        if checks is None:
            checks = [c() for c in ALL_CHECKS
                      if c is TradingStateCheck or c.name not in settings.disabled_checks]
        self.checks = checks
        # only the checks that do something on a pass are told about it
        self._on_pass = [c for c in checks if type(c).on_pass is not Check.on_pass]
        self.denied = 0
        self.denied_by: dict[str, int] = {}

    # --- the trading state ----------------------------------------------------------------------
    @property
    def state(self) -> TradingState:
        return self.env.state

    def set_state(self, state: TradingState, reason: str) -> TradingStateChanged | None:
        """Change the state and emit TradingStateChanged (queued: the kill switch makes its own
        change durable)."""
        ev = self.state_event(state, reason)
        if ev is not None:
            self.journal.emit(ev)
        return ev

    def state_event(self, state: TradingState, reason: str) -> TradingStateChanged | None:
        """Change the state in memory; the event to store, or None if nothing changed."""
        prev = self.env.state
        if state is prev:
            return None
        self.env.state = state
        now = self.clock.timestamp_ns()
        log.warning("trading state %s -> %s: %s", prev.value, state.value, reason)
        return TradingStateChanged(state, prev, reason, ts_event=now, ts_init=now)

    def restore_state(self, state: TradingState) -> None:
        """Set from the store on start (no event)."""
        self.env.state = state

    # --- checks --------------------------------------------------------------------------------
    def check(self, intent: OrderIntent) -> Denial | None:
        env = self.env
        env._equity = None  # env.begin(), inline: a new order, values of the last one forgotten  # noqa: SLF001
        for c in self.checks:
            reason = c.check(intent, env)
            if reason is not None:
                self.denied += 1
                self.denied_by[c.name] = self.denied_by.get(c.name, 0) + 1
                if env.tripped:
                    self._trip()
                return Denial(c.name, reason)
        for c in self._on_pass:
            c.on_pass(intent, env)
        return None

    def _trip(self) -> None:
        tripped = self.env.tripped
        name, reason = tripped[-1]
        tripped.clear()
        if self.env.state is TradingState.ACTIVE:
            self.set_state(TradingState.REDUCING, f"risk:{name}: {reason}")

    def check_names(self) -> list[str]:
        return [c.name for c in self.checks]

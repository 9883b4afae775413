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
from decimal import Decimal
from typing import TYPE_CHECKING

from quantai_tui.core.enums import InstrumentKind, OrderSide, OrderType, TradingState
from quantai_tui.core.errors import ConfigError
from quantai_tui.core.events import RESTATES_EVENT, TradingStateChanged
from quantai_tui.core.values import EXACT

_ZERO = Decimal(0)
from quantai_tui.engine.risk.base import Check, OrderIntent, RiskEnv
from quantai_tui.engine.risk.checks import (
    ALL_CHECKS,
    CHECK_NAMES,
    BalanceCheck,
    DailyLossCheck,
    DrawdownCheck,
    InstrumentCheck,
    MaxOpenOrdersCheck,
    MaxOrderNotionalCheck,
    MaxOrderQtyCheck,
    MaxPositionCheck,
    RateLimitCheck,
    SymbolWhitelistCheck,
    TradingStateCheck,
)

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
        self._fast: tuple[list[Check], int, frozenset[type], RateLimitCheck | None] | None = None

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
        log.warning("trading state %s -> %s: %s", prev.value, state.value, reason, extra=RESTATES_EVENT)
        return TradingStateChanged(state, prev, reason, ts_event=now, ts_init=now)

    def restore_state(self, state: TradingState) -> None:
        """Set from the store on start (no event)."""
        self.env.state = state

    # --- checks --------------------------------------------------------------------------------
    def check(self, intent: OrderIntent) -> Denial | None:
        env = self.env
        env._equity = None  # env.begin(), inline: a new order, values of the last one forgotten  # noqa: SLF001
        fast = self._fast
        checks = self.checks
        if fast is None or fast[0] is not checks or fast[1] != len(checks):
            fast = self._fast_plan()
        if fast[2] and self._clear(intent, env, fast[2], fast[3]):
            for c in self._on_pass:
                c.on_pass(intent, env)
            return None
        for c in checks:
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

    def _fast_plan(self) -> tuple[list[Check], int, frozenset[type], RateLimitCheck | None]:
        """Which checks `_clear` may stand for: the built-in ones, each at most once (an empty
        set when the list holds any other check: then every order runs the checks)."""
        checks = self.checks
        kinds = [type(c) for c in checks]
        ok = all(k in ALL_CHECKS for k in kinds) and len(set(kinds)) == len(kinds)
        rate = next((c for c in checks if type(c) is RateLimitCheck), None)
        self._fast = (checks, len(checks), frozenset(kinds) if ok else frozenset(), rate)  # type: ignore[assignment]
        return self._fast  # type: ignore[return-value]

    def _clear(self, intent: OrderIntent, env: RiskEnv, kinds: frozenset[type], rate: RateLimitCheck | None) -> bool:
        """True only if every check in `kinds` would pass `intent`: the pass conditions of the
        built-in checks (checks.py) for the usual order, a market order with no price, trigger,
        post-only or amend, evaluated in one place (one call instead of twelve, each value read
        once; the intent's cached values, RiskEnv's helpers, inline). False means "not sure":
        the checks then run one by one and name any denial. Keep in step with checks.py and
        base.py (tests/trading/test_risk.py compares both on random orders and accounts)."""
        if (env.state is not TradingState.ACTIVE or intent.internal or intent.amends is not None
                or intent.order_type is not OrderType.MARKET or intent.price is not None
                or intent.trigger_price is not None or intent.post_only):
            return False
        s = self.settings
        inst = intent.instrument
        q = intent.quantity
        ref = intent.ref_price
        qd = intent._qty  # noqa: SLF001 - OrderIntent.qty, inline
        if qd is None:
            qd = intent._qty = EXACT.scaleb(Decimal(q._raw), -q._prec)  # noqa: SLF001
        n = intent._notional  # noqa: SLF001 - OrderIntent.notional, inline (the same operators)
        if n is None and ref is not None:
            if inst.settle is not None and inst.settle == inst.base:  # inverse
                n = qd * inst.contract_size / ref
            else:
                n = ref * qd * inst.contract_size
            intent._notional = n  # noqa: SLF001
        buy = intent.side is OrderSide.BUY
        if InstrumentCheck in kinds:
            lot = inst.lot_size
            qr = q._raw  # noqa: SLF001
            if (not qr or q._prec != lot._prec or inst.max_quantity is not None  # noqa: SLF001
                    or qr % lot._raw or qr < inst.min_quantity._raw):  # noqa: SLF001
                return False
            if ref is not None and inst.min_notional and not intent.reduce_only and n is not None \
                    and n < inst.min_notional:
                return False
        if SymbolWhitelistCheck in kinds:
            allowed = s.symbol_whitelist
            if allowed and intent.symbol not in allowed:
                return False
        if rate is not None:
            limit = s.max_orders_per_second
            if limit > 0:
                now = env.clock.timestamp_ns()
                sent = rate.sent
                while sent and sent[0] <= now - 1_000_000_000:
                    sent.popleft()
                if len(sent) + 1 > limit:
                    return False
                rate.checked_at = now
        if MaxOrderQtyCheck in kinds:
            limits = s.max_order_qty
            if limits:
                lim = limits.get(intent.symbol, limits.get("*"))
                if lim is not None and lim > 0 and q > lim:
                    return False
        if MaxOrderNotionalCheck in kinds and s.max_order_notional and (n is None or n > s.max_order_notional):
            return False
        # PriceBandCheck: an order with no price and no trigger passes it
        if MaxOpenOrdersCheck in kinds:
            lim = s.max_open_orders
            if lim > 0 and len(env.cache.open) + 1 > lim:
                return False
        # RiskEnv.intent_position / reduces / same_side_open, inline (and cached on the intent)
        pos = intent._position  # noqa: SLF001
        if pos is None:
            p = env.portfolio.ledger.positions.get((intent.venue, intent.symbol))
            pos = intent._position = p.qty if p is not None else _ZERO  # noqa: SLF001
        reduces = intent._reduces  # noqa: SLF001
        if reduces is None:
            reduces = intent._reduces = False if not pos or (pos > 0) == buy else qd <= abs(pos)  # noqa: SLF001
        same = intent._same_side  # noqa: SLF001
        if same is None:
            same = env.same_side_open(intent) if env.cache.open else _ZERO
            intent._same_side = same  # noqa: SLF001
        if MaxPositionCheck in kinds:
            lim_n = s.max_position_notional
            qty_limits = s.max_position_qty
            lim_q = qty_limits.get(intent.symbol, qty_limits.get("*")) if qty_limits else None
            if (lim_n or lim_q) and not intent.reduce_only and not reduces:
                worst = EXACT.add(EXACT.add(pos, same), qd) if buy else EXACT.add(EXACT.add(pos, -same), -qd)
                aw = abs(worst)
                if aw > abs(pos):
                    if lim_q and aw > lim_q:
                        return False
                    if lim_n and (ref is None or (n if aw == qd else inst.notional(ref, aw)) > lim_n):
                        return False  # (the position's value is the order's when it opens from flat)
        if BalanceCheck in kinds and s.check_balance:
            if ref is None or inst.kind is not InstrumentKind.SPOT:
                return False
            pf = env.portfolio
            if buy:
                need_n = n if not same else inst.notional(ref, qd + same)
                need = EXACT.multiply(need_n, 1 + max(inst.taker_fee, inst.maker_fee))  # type: ignore[arg-type]
                if need > pf.free(intent.venue, inst.quote):
                    return False
            elif EXACT.add(qd, same) > pf.free(intent.venue, inst.base):
                return False
        if ((DailyLossCheck in kinds and s.daily_loss_limit) or (DrawdownCheck in kinds and s.max_drawdown_pct)) \
                and not intent.reduce_only and not reduces:
            return False  # the loss limits value the account: their own checks decide
        return True

    def _trip(self) -> None:
        tripped = self.env.tripped
        name, reason = tripped[-1]
        tripped.clear()
        if self.env.state is TradingState.ACTIVE:
            self.set_state(TradingState.REDUCING, f"risk:{name}: {reason}")

    def check_names(self) -> list[str]:
        return [c.name for c in self.checks]

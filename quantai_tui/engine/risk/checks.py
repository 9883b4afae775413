"""The pre-trade checks, one small class each, configured from RiskSettings (TOML [risk]).

| name              | settings                                   | denies                                            |
|-------------------|--------------------------------------------|---------------------------------------------------|
| trading_state     | (kill switch, SetTradingState)             | everything when HALTED; risk-adding when REDUCING |
| instrument        | the instrument's tick, lot, min/max size   | off-tick prices, off-lot sizes, missing prices    |
| symbol_whitelist  | symbol_whitelist                           | symbols not listed (when the list is not empty)   |
| rate_limit        | max_orders_per_second                      | more orders than that in the last second          |
| max_order_qty     | max_order_qty (per symbol, "*" for all)    | larger orders                                     |
| max_order_notional| max_order_notional                         | orders worth more                                 |
| price_band        | price_band_pct                             | prices further than that from the mid (fat finger)|
| max_open_orders   | max_open_orders                            | one order more than that                          |
| max_position      | max_position_notional, max_position_qty    | positions that could grow beyond (open orders too)|
| balance           | check_balance                              | orders the free balance or margin cannot pay for  |
| daily_loss        | daily_loss_limit                           | risk-adding orders after that loss since 00:00 UTC|
| max_drawdown      | max_drawdown_pct                           | risk-adding orders after that drawdown from peak  |
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from quantai_tui.core.enums import InstrumentKind, OrderSide, OrderType, TradingState
from quantai_tui.core.errors import ValidationError
from quantai_tui.core.values import EXACT
from quantai_tui.engine.risk.base import Check, OrderIntent, RiskEnv, fmt

_ZERO = Decimal(0)


class TradingStateCheck(Check):
    name = "trading_state"

    def check(self, intent: OrderIntent, env: RiskEnv) -> str | None:
        state = env.state
        if state is TradingState.ACTIVE:
            return None
        if state is TradingState.HALTED:
            return None if intent.internal else "trading is HALTED (kill switch engaged): no new orders"
        if intent.reduce_only or env.reduces(intent):
            return None
        pos = env.position_qty(intent.venue, intent.symbol)
        return f"trading is REDUCING: {intent.side.value} {fmt(intent.quantity.as_decimal())} does not reduce position {fmt(pos)}"


class InstrumentCheck(Check):
    name = "instrument"

    def check(self, intent: OrderIntent, env: RiskEnv) -> str | None:
        # every order: the usual case in integers, the values' raw slots read directly
        inst = intent.instrument
        t = intent.order_type
        q = intent.quantity
        try:
            if not q._raw:  # noqa: SLF001
                return "quantity must be positive"
            lot = inst.lot_size
            if q._prec == lot._prec and inst.max_quantity is None:  # noqa: SLF001 - the usual case, in integers
                if q._raw % lot._raw:  # noqa: SLF001
                    return f"{inst.symbol}: quantity {q} is not a multiple of lot {lot}"
                if q._raw < inst.min_quantity.raw:  # noqa: SLF001
                    return f"{inst.symbol}: quantity {q} is below the minimum {inst.min_quantity}"
            else:
                inst.check_qty(q)
            px = intent.price
            if px is None:
                if t is OrderType.LIMIT or t is OrderType.STOP_LIMIT:
                    return f"a {t.value} order needs a price"
            else:
                if px._raw <= 0:  # noqa: SLF001
                    return f"price {px} must be positive"
                tick = inst.tick_size
                if px._prec == tick._prec:  # noqa: SLF001
                    if px._raw % tick._raw:  # noqa: SLF001
                        return f"{inst.symbol}: price {px} is not a multiple of tick {tick}"
                else:
                    inst.check_price(px)
            if t is OrderType.STOP_MARKET or t is OrderType.STOP_LIMIT:
                if intent.trigger_price is None or intent.trigger_price.raw <= 0:
                    return f"a {t.value} order needs a positive trigger price"
                inst.check_price(intent.trigger_price)
            if intent.post_only and t is not OrderType.LIMIT:
                return "post-only needs a LIMIT order"
            if intent.ref_price is not None and inst.min_notional and not intent.reduce_only:
                n = intent.notional
                if n is not None and n < inst.min_notional:
                    return f"notional {fmt(n)} < venue minimum {fmt(inst.min_notional)}"
        except ValidationError as exc:
            return str(exc)
        return None


class SymbolWhitelistCheck(Check):
    name = "symbol_whitelist"

    def check(self, intent: OrderIntent, env: RiskEnv) -> str | None:
        allowed = env.settings.symbol_whitelist
        if allowed and intent.symbol not in allowed:
            return f"{intent.symbol} is not in the whitelist ({', '.join(allowed)})"
        return None


class RateLimitCheck(Check):
    """At most max_orders_per_second orders (and amends) in any one-second window, by clock time."""

    name = "rate_limit"

    def __init__(self) -> None:
        self.sent: deque[int] = deque()
        self.checked_at: int | None = None  # the clock time the order being checked was counted at

    def check(self, intent: OrderIntent, env: RiskEnv) -> str | None:
        self.checked_at = None
        limit = env.settings.max_orders_per_second
        if limit <= 0 or intent.internal:
            return None
        now = env.clock.timestamp_ns()
        sent = self.sent
        while sent and sent[0] <= now - 1_000_000_000:
            sent.popleft()
        if len(sent) + 1 > limit:
            return f"{len(sent) + 1} orders in the last second > max {fmt(limit)}/s"
        self.checked_at = now
        return None

    def on_pass(self, intent: OrderIntent, env: RiskEnv) -> None:
        if env.settings.max_orders_per_second > 0:
            # the order is counted at the time its check read (the same instant: one order)
            now = self.checked_at
            self.checked_at = None
            self.sent.append(now if now is not None else env.clock.timestamp_ns())


class MaxOrderQtyCheck(Check):
    name = "max_order_qty"

    def check(self, intent: OrderIntent, env: RiskEnv) -> str | None:
        limits = env.settings.max_order_qty
        if not limits:
            return None
        lim = limits.get(intent.symbol, limits.get("*"))
        if lim is not None and lim > 0 and intent.quantity > lim:
            return f"quantity {intent.quantity} > max {fmt(lim)} for {intent.symbol}"
        return None


class MaxOrderNotionalCheck(Check):
    name = "max_order_notional"

    def check(self, intent: OrderIntent, env: RiskEnv) -> str | None:
        lim = env.settings.max_order_notional
        if not lim or intent.internal:
            return None
        n = intent.notional
        if n is None:
            return "no price to value the order against (no market data yet)"
        if n > lim:
            return f"notional {fmt(n, 2)} > max {fmt(lim)}"
        return None


class PriceBandCheck(Check):
    name = "price_band"

    def check(self, intent: OrderIntent, env: RiskEnv) -> str | None:
        band = env.settings.price_band_pct
        if not band or intent.internal:
            return None
        prices = [p for p in (intent.price, intent.trigger_price) if p is not None]
        if not prices:
            return None
        mid = env.mid(intent.venue, intent.symbol)
        if mid is None:
            return f"no mid price for {intent.symbol} to check {prices[0]} against"
        limit = float(band)
        for p in prices:
            dev = abs(p.as_double() - mid) / mid * 100.0
            if dev > limit:
                return f"price {p} is {dev:.2f}% from mid {mid:g} > band {fmt(band)}%"
        return None


class MaxOpenOrdersCheck(Check):
    name = "max_open_orders"

    def check(self, intent: OrderIntent, env: RiskEnv) -> str | None:
        lim = env.settings.max_open_orders
        if lim <= 0 or intent.amends is not None or intent.internal:
            return None
        n = env.open_order_count()
        if n + 1 > lim:
            return f"{n + 1} open orders > max {lim}"
        return None


class MaxPositionCheck(Check):
    """The position this order could make, counting every open order on its side."""

    name = "max_position"

    def check(self, intent: OrderIntent, env: RiskEnv) -> str | None:
        s = env.settings
        lim_n = s.max_position_notional
        qty_limits = s.max_position_qty
        lim_q = qty_limits.get(intent.symbol, qty_limits.get("*")) if qty_limits else None
        if (not lim_n and not lim_q) or intent.internal or intent.reduce_only or env.reduces(intent):
            return None
        pos = env.intent_position(intent)
        same = env.same_side_open(intent)
        q = intent.qty
        if intent.side is OrderSide.BUY:
            worst = EXACT.add(EXACT.add(pos, same), q)
        else:
            worst = EXACT.add(EXACT.add(pos, -same), -q)
        if abs(worst) <= abs(pos):
            return None
        if lim_q and abs(worst) > lim_q:
            return f"position could reach {fmt(worst)} > max {fmt(lim_q)} {intent.symbol}"
        if lim_n:
            if intent.ref_price is None:
                return "no price to value the position against"
            value = intent.instrument.notional(intent.ref_price, abs(worst))
            if value > lim_n:
                return f"position could reach {fmt(worst)} worth {fmt(value, 2)} > max {fmt(lim_n)}"
        return None


class BalanceCheck(Check):
    """Spot: the quote (buys) or base (sells) the order and the open orders on its side need.
    Derivatives: initial margin at the position's leverage plus the taker fee."""

    name = "balance"

    def __init__(self) -> None:
        self._fee: tuple[object, Decimal] | None = None  # (instrument, 1 + its larger fee rate)

    def check(self, intent: OrderIntent, env: RiskEnv) -> str | None:
        if not env.settings.check_balance or intent.internal:
            return None
        inst = intent.instrument
        pf = env.portfolio
        if intent.ref_price is None:
            return "no price to value the order against"
        fee_rate = max(inst.taker_fee, inst.maker_fee)
        if inst.kind is InstrumentKind.SPOT:
            open_same = env.same_side_open(intent)
            if intent.side is OrderSide.BUY:
                n = intent.notional if not open_same else inst.notional(intent.ref_price, intent.qty + open_same)
                cached = self._fee
                if cached is None or cached[0] is not inst:  # 1 + fee rate, made once per instrument
                    cached = self._fee = (inst, 1 + fee_rate)
                need = EXACT.multiply(n, cached[1])  # type: ignore[arg-type]
                have = pf.free(intent.venue, inst.quote)
                if need > have:
                    return f"needs {fmt(need, 2)} {inst.quote} (with open buys and fees) > free {fmt(have, 2)}"
            else:
                need = EXACT.add(intent.qty, open_same)
                have = pf.free(intent.venue, inst.base)
                if need > have:
                    return f"sells {fmt(need)} {inst.base} (with open sells) > free {fmt(have)}"
            return None
        if intent.reduce_only or env.reduces(intent):
            return None
        pos = pf.position(intent.venue, intent.symbol)
        lev = pos.leverage if pos is not None else pf.ledger.leverage.get((intent.venue, intent.symbol), Decimal(1))
        settle = inst.settle_currency
        orders_margin = _ZERO
        for o in env.open_orders(intent.venue):
            if o is intent.amends:
                continue
            oi = env.cache.find_instrument(o.venue, o.symbol)
            if oi is None or not oi.is_derivative or oi.settle_currency != settle:
                continue
            px = o.price or o.trigger_price
            if px is not None:
                orders_margin += EXACT.divide(oi.notional(px, o.leaves_qty), lev)
        need = EXACT.add(EXACT.divide(intent.notional or _ZERO, lev), EXACT.multiply(intent.notional or _ZERO, fee_rate))
        free = float(pf.free(intent.venue, settle)) + pf.unrealized_pnl(intent.venue) - float(orders_margin)
        if float(need) > free:
            return f"margin {fmt(need, 2)} {settle} at {fmt(lev)}x > free margin {free:.2f}"
        return None


class DailyLossCheck(Check):
    name = "daily_loss"

    def check(self, intent: OrderIntent, env: RiskEnv) -> str | None:
        lim = env.settings.daily_loss_limit
        if not lim or intent.internal or intent.reduce_only or env.reduces(intent):
            return None
        pnl = env.portfolio.day_pnl(env.clock.timestamp_ns(), env.equity())
        if pnl <= -float(lim):
            reason = f"loss since 00:00 UTC {-pnl:.2f} >= limit {fmt(lim)}"
            env.trip(self.name, reason)
            return reason
        return None


class DrawdownCheck(Check):
    name = "max_drawdown"

    def check(self, intent: OrderIntent, env: RiskEnv) -> str | None:
        lim = env.settings.max_drawdown_pct
        if not lim or intent.internal or intent.reduce_only or env.reduces(intent):
            return None
        dd = env.portfolio.drawdown_pct(env.clock.timestamp_ns(), env.equity())
        if dd >= float(lim):
            reason = f"drawdown {dd:.2f}% from peak {env.portfolio.peak_equity or 0:.2f} >= max {fmt(lim)}%"
            env.trip(self.name, reason)
            return reason
        return None


ALL_CHECKS: tuple[type[Check], ...] = (
    TradingStateCheck, InstrumentCheck, SymbolWhitelistCheck, RateLimitCheck, MaxOrderQtyCheck,
    MaxOrderNotionalCheck, PriceBandCheck, MaxOpenOrdersCheck, MaxPositionCheck, BalanceCheck, DailyLossCheck,
    DrawdownCheck,
)
CHECK_NAMES = tuple(c.name for c in ALL_CHECKS)

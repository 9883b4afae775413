"""Fills, ledger and metrics of a columnar run computed in columns (no kernel round trip per order).

The event-driven replay stays the reference: this module computes what it would produce, from
the crossing events of a columnar kernel, when it can prove that nothing the columns do not
model can happen, and returns None otherwise (the caller then sends every order through the
kernel, as before). What it reproduces, operation for operation:

- the strategy's orders: long only, `qty` bought at an up-cross while flat, the whole position
  sold at a down-cross while long (strategies/ma_crossover.py);
- the paper venue's fill of a market order with no book (core/fill_model.py): the next event's
  trade price (bars: the next open, stamped with that bar's open time) through `_taker_price`
  (the tick rounding of `round(px * 10**precision)`; with slippage the matcher's own function
  per fill), the whole quantity, the taker fee in integers rounded half-even to the fee
  precision: the same integers as `Matcher._fill`;
- the exact ledger (cash, base, fees, round trips) as integer sums, turned into the Decimals
  the portfolio and TripTracker would hold;
- the float mirror the metrics sample (`BacktestEngine._on_order_event`, `equity_float`):
  the same float operations in the same order (numpy's cumulative sums are sequential), so
  equity samples, drawdown, Sharpe and the curve are bit for bit the event path's.

Pre-trade risk: every check the run's RiskEngine holds must provably pass every planned order
(a check of an unknown type, a daily-loss or drawdown limit, a notional or balance within a
safety margin of its limit, a burst over the order rate limit: the kernel path is taken).
Float comparisons decide only whether an order is *clearly* inside a limit; anything near a
limit goes the exact way.
"""

from __future__ import annotations

import copy
import math
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from quantai_tui.backtest.engine import INF, BacktestResult, FillRecord, LazyFills
from quantai_tui.connectors.paper.records import timeframe_ns
from quantai_tui.core.enums import InstrumentKind, OrderSide, OrderType, TimeInForce, TradingState
from quantai_tui.core.values import EXACT
from quantai_tui.engine.risk.base import OrderIntent
from quantai_tui.engine.risk.checks import (
    BalanceCheck,
    DailyLossCheck,
    DrawdownCheck,
    InstrumentCheck,
    MaxOpenOrdersCheck,
    MaxOrderNotionalCheck,
    MaxOrderQtyCheck,
    MaxPositionCheck,
    PriceBandCheck,
    RateLimitCheck,
    SymbolWhitelistCheck,
    TradingStateCheck,
)
from quantai_tui.engine.strategy import Strategy

if TYPE_CHECKING:
    from quantai_tui.backtest.columnar import Columns
    from quantai_tui.backtest.engine import BacktestEngine
    from quantai_tui.backtest.sources import DataSource

_STATIC_CHECKS = (TradingStateCheck, InstrumentCheck, SymbolWhitelistCheck, MaxOrderQtyCheck, PriceBandCheck,
                  MaxOpenOrdersCheck)
_KNOWN_CHECKS = frozenset(_STATIC_CHECKS + (RateLimitCheck, MaxOrderNotionalCheck, MaxPositionCheck, BalanceCheck,
                                            DailyLossCheck, DrawdownCheck))
_MARGIN = 1e-9  # relative: a float value this close to a limit is decided exactly, by the kernel path
_I63 = 1 << 62  # int64 products stay below this
_F53 = 1 << 53  # integers below this are exact in a float64


def plan_orders(idx: np.ndarray, kind: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The orders of the long-only crossover from its crossing events (sorted event indices,
    kind +1 up / -1 down): a buy at the first up, then a sell at the next down, a buy at the next
    up... (an up while long or a down while flat does nothing). Returns (order event index,
    buy?) - valid when no order is denied, which the caller checks."""
    ups = np.flatnonzero(kind > 0)
    if not len(ups):
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=bool)
    k = kind[ups[0]:]
    ix = idx[ups[0]:]
    start = np.empty(len(k), dtype=bool)
    start[0] = True
    np.not_equal(k[1:], k[:-1], out=start[1:])
    return ix[start].astype(np.int64, copy=False), k[start] > 0


def run_direct(eng: BacktestEngine, strategy: Strategy, cols: Columns, src: DataSource, idx: np.ndarray,
               kind: np.ndarray, t0: float) -> BacktestResult | None:
    """The whole run from the crossing events, or None when the kernel path must decide."""
    n = len(cols)
    if n == 0 or not cols.sorted or not cols.finite:
        return None
    if type(strategy).on_stop is not Strategy.on_stop or eng.clock.next_due != INF:
        return None  # it would read the kernel's state at the end; timers would fire during the run
    kernel = eng.kernel
    venue, symbol = src.venue, src.symbol
    client: Any = kernel.venues.get(venue)
    if client is None or getattr(client, "latency_ns", 1) or not hasattr(client, "matcher"):
        return None
    m = client.matcher(symbol)
    if m is None or not m._linear_cs1 or m.orders:  # noqa: SLF001
        return None
    inst = m.inst
    if inst.kind is not InstrumentKind.SPOT or inst.contract_size != 1 or m.fee_currency != inst.quote:
        return None
    opening = kernel.portfolio.balances(venue).get(venue, {})
    if set(opening) - {inst.quote} or kernel.portfolio.positions(venue):
        return None  # the account starts with the quote currency only
    qty = getattr(strategy, "_qty", None)
    if qty is None or qty.precision != m.size_prec or qty.raw <= 0:
        return None
    q_raw = qty.raw
    sp, pp, fp = m.size_prec, m.price_prec, m.fee_precision
    if q_raw >= _F53 or sp > 22 or pp > 15 or fp > 22:
        return None

    ts, price = cols.ts, cols.price
    o_i, o_buy = plan_orders(idx, kind)
    n_orders = len(o_i)

    # --- fills: an order placed at event i fills at event i + 1 (none for one placed at the last)
    filled = o_i + 1 < n
    fi = o_i[filled] + 1
    fb = o_buy[filled]
    nf = len(fi)
    base = cols.fill[fi]
    if nf and (np.max(np.abs(base)) * 10.0**pp >= 1e15 or np.min(base) <= 0):
        return None
    if m.slippage:
        taker = m._taker_price  # noqa: SLF001 - the matcher's own rounding, per fill
        px_raw = np.fromiter((taker(float(p), 1 if b else -1).raw for p, b in zip(base, fb)), dtype=np.int64,
                             count=nf)
    else:
        px_raw = np.rint(base * float(10**pp)).astype(np.int64)  # round(px * 10**pp), half to even
    if nf and int(px_raw.max()) >= _F53:
        return None
    fee_raw = _taker_fees(px_raw, q_raw, m._taker_fee_num, m._taker_fee_den, pp + sp)  # noqa: SLF001
    if fee_raw is None or (nf and int(fee_raw.max()) >= _F53):
        return None
    if src.kind == "bars":
        tf = timeframe_ns(src.timeframe)
        f_ts = ts[fi] - tf
        f_ts = np.where(f_ts == 0, ts[fi], f_ts)  # `ex.ts or now`
    else:
        f_ts = ts[fi]  # the trade's time (`ex.ts or now`: the clock is at that trade too)

    # --- the float mirror the metrics read (BacktestEngine._on_order_event), same operations
    qf = q_raw / 10**sp
    pxf = px_raw / float(10**pp)
    notional = qf * pxf
    fee_f = fee_raw / float(10**fp)
    delta = np.where(fb, -notional, notional) - fee_f
    c0 = float(eng.initial_capital)
    cash = np.cumsum(np.concatenate(([c0], delta)))[1:]
    pos = np.cumsum(np.where(fb, qf, -qf))
    if n_orders:
        # the cash each order sees: after the fills of every order before it
        cash_before = np.concatenate(([c0], cash))[:n_orders]
        cash_tol = _MARGIN * (abs(c0) + float(np.sum(np.abs(delta))) + 1.0)
        if not _risk_clear(eng, strategy, inst, qty, o_i, o_buy, ts, price, cash_before, cash_tol):
            return None
    mark = price[fi]
    eq_fill = np.where(pos != 0, cash + pos * mark, cash)

    # --- period samples: before the event that opens a new period, and one at the end
    sample_at = cols.period_starts(eng.period_ns)
    prev = sample_at - 1
    j = np.searchsorted(fi, prev, side="right") - 1  # the last fill at or before the sampled event
    s_cash = np.where(j >= 0, cash[j] if nf else c0, c0)
    s_pos = np.where(j >= 0, pos[j] if nf else 0.0, 0.0)
    s_mark = price[prev]
    s_eq = np.where(s_pos != 0, s_cash + s_pos * s_mark, s_cash)
    end_cash = float(cash[-1]) if nf else c0
    end_pos = float(pos[-1]) if nf else 0.0
    end_mark = float(price[-1])
    end_eq = end_cash + end_pos * end_mark if end_pos else end_cash

    mt = eng.metrics
    mt.first_ts = int(ts[0])
    s_ts = ts[prev]
    for t_, e_, p_, k_ in zip(s_ts.tolist(), s_eq.tolist(), s_pos.tolist(), s_mark.tolist()):
        mt.sample(t_, e_, abs(p_) > 1e-12, (k_,))
    mt.last_ts = int(ts[-1])
    mt.sample(int(ts[-1]), end_eq, abs(end_pos) > 1e-12, (end_mark,))
    # drawdown over every equity value in the order the event path sees them (a sample before
    # event k comes after the fills of events < k); sample() above kept its own, replaced here
    keys = np.concatenate((2 * sample_at, 2 * fi + 1, [2 * n + 2]))
    vals = np.concatenate((s_eq, eq_fill, [end_eq]))
    seq = vals[np.argsort(keys, kind="stable")]
    peak0 = float(eng.initial_capital)
    run = np.maximum.accumulate(np.concatenate(([peak0], seq)))
    before = run[:-1]
    ok = (seq <= before) & (before > 0)
    max_dd = 0.0
    if ok.any():
        max_dd = max(0.0, float(np.max((before[ok] - seq[ok]) / before[ok])))
    mt._peak = float(run[-1])  # noqa: SLF001
    mt.max_dd = max_dd

    # --- the exact ledger: the portfolio's Decimals from integer sums
    cash_d = opening.get(inst.quote, Decimal(0))
    base_raw = q_raw * int(np.count_nonzero(fb)) - q_raw * int(nf - np.count_nonzero(fb))
    fees_total = 0
    if nf:
        signed_notional = _int_sum(np.where(fb, px_raw, -px_raw)) * q_raw
        cash_d = EXACT.add(cash_d, EXACT.scaleb(Decimal(-signed_notional), -(sp + pp)))
        fees_total = _int_sum(fee_raw)
        if np.any(fee_raw):
            cash_d = EXACT.add(cash_d, EXACT.scaleb(Decimal(-fees_total), -fp))
    final = EXACT.add(Decimal(0), cash_d)
    if nf:
        final = EXACT.add(final, EXACT.multiply(EXACT.scaleb(Decimal(base_raw), -sp), Decimal(repr(end_mark))))
    fees_d = EXACT.scaleb(Decimal(fees_total), -fp) if nf else Decimal(0)

    # round trips: each sell fill closes the buy before it (P&L after both fees)
    trips: list[Decimal] = []
    sells = np.flatnonzero(~fb)
    if len(sells):
        scale = max(sp + pp, fp)
        gross = (px_raw[sells] - px_raw[sells - 1]).tolist()
        fee2 = (fee_raw[sells] + fee_raw[sells - 1]).tolist()
        a, b = 10 ** (scale - sp - pp), 10 ** (scale - fp)
        trips = [EXACT.scaleb(Decimal(g * q_raw * a - f * b), -scale) for g, f in zip(gross, fee2)]

    # --- the fills, made when read
    ids = copy.deepcopy(kernel.oms.ids)  # the id sequence the OMS would hand out from here
    order_ts = ts[o_i]
    sid = strategy.id
    buy_s, sell_s = OrderSide.BUY.value, OrderSide.SELL.value
    filled_rows = np.flatnonzero(filled)

    def build() -> list[Any]:
        coids = [ids.next(t) for t in order_ts.tolist()]
        qd = EXACT.scaleb(Decimal(q_raw), -sp)
        out = []
        for r, t_, b_, p_, f_ in zip(filled_rows.tolist(), f_ts.tolist(), fb.tolist(), px_raw.tolist(),
                                     fee_raw.tolist()):
            out.append(FillRecord(t_, symbol, buy_s if b_ else sell_s, qd, EXACT.scaleb(Decimal(p_), -pp),
                                  EXACT.scaleb(Decimal(f_), -fp), coids[r], sid))
        return out

    eng.ticks = n
    return BacktestResult(
        strategy=type(strategy).strategy_name(), params=dict(strategy.params), symbols=list(eng.symbols),
        venue=eng.venue_name, timeframe=src.timeframe, initial_capital=eng.initial_capital, final_equity=final,
        metrics=mt.results(final, trips), equity_curve=[(p[0], p[1]) for p in mt.curve.points],
        price_curve=[(p[0], tuple(p[2:])) for p in mt.curve.points], fills=LazyFills(nf, build), ticks=n,
        orders=n_orders, elapsed_s=time.perf_counter() - t0, start_ns=mt.first_ts, end_ns=mt.last_ts, fees=fees_d,
        extra={"denied": 0, "denials": {}, "columnar": True, "fills_in_columns": True})


def _int_sum(a: np.ndarray) -> int:
    """An exact sum of int64s (Python ints past int64's range)."""
    if not len(a):
        return 0
    if int(np.max(np.abs(a))) * len(a) < _I63:
        return int(a.sum())
    return sum(a.tolist())


def _taker_fees(px_raw: np.ndarray, q_raw: int, num: int, den: int, scale_digits: int) -> np.ndarray | None:
    """Matcher._fill's fee for each price: px_raw * q_raw * num / (den * 10**(pp + sp)), rounded
    half to even, in integers (int64 when nothing can overflow, else Python ints)."""
    a = q_raw * num
    d = den * 10**scale_digits
    g = math.gcd(a, d)
    a //= g
    d //= g
    if not len(px_raw):
        return np.empty(0, dtype=np.int64)
    top = int(px_raw.max())
    if top * a < _I63 and d < _I63:
        nmr = px_raw * a
        quo, rem = np.divmod(nmr, d)
        twice = 2 * rem
        up = (twice > d) | ((twice == d) & (quo % 2 == 1))
        return quo + up
    out = []
    for p in px_raw.tolist():
        quo, rem = divmod(p * a, d)
        twice = 2 * rem
        out.append(quo + 1 if twice > d or (twice == d and quo % 2 == 1) else quo)
    if max(out) >= _I63:
        return None
    return np.array(out, dtype=np.int64)


def _risk_clear(eng: BacktestEngine, strategy: Strategy, inst: Any, qty: Any, o_i: np.ndarray, o_buy: np.ndarray,
                ts: np.ndarray, price: np.ndarray, cash_before: np.ndarray, cash_tol: float) -> bool:
    """True when every check of the run's risk engine passes every planned order for sure."""
    risk = eng.kernel.risk
    env = risk.env
    s = risk.settings
    if env.state is not TradingState.ACTIVE or eng.kernel.cache.open:
        return False
    checks = risk.checks
    if any(type(c) not in _KNOWN_CHECKS for c in checks):
        return False
    kinds = {type(c) for c in checks}
    venue, symbol = eng.venue_name, inst.symbol
    # the checks that only look at the order's fields (and the state at the start, which stays)
    for side in (OrderSide.BUY, OrderSide.SELL):
        intent = OrderIntent(venue, symbol, side, OrderType.MARKET, qty, None, None, TimeInForce.GTC, False, False,
                             strategy.id, "", inst, None)
        for c in checks:
            if isinstance(c, _STATIC_CHECKS) and c.check(intent, env) is not None:
                return False
    if (DailyLossCheck in kinds and s.daily_loss_limit) or (DrawdownCheck in kinds and s.max_drawdown_pct):
        return False
    qd = qty.as_decimal()
    ref = price[o_i]
    notional = ref * float(qd)  # intent.notional, in floats: ref * qty (contract size 1)
    lo, hi = 1.0 - _MARGIN, 1.0 + _MARGIN
    if InstrumentCheck in kinds and inst.min_notional and np.any(notional < float(inst.min_notional) * hi):
        return False
    if MaxOrderNotionalCheck in kinds and s.max_order_notional and np.any(notional > float(s.max_order_notional) * lo):
        return False
    if MaxPositionCheck in kinds:
        lim_n = s.max_position_notional
        limits = s.max_position_qty
        lim_q = limits.get(symbol, limits.get("*")) if limits else None
        # a buy opens the position from flat with nothing else open (worst = qty); a sell closes
        # all of it (it reduces: not checked)
        if lim_q and qd > lim_q:
            return False
        if lim_n and np.any(notional[o_buy] > float(lim_n) * lo):
            return False
    if BalanceCheck in kinds and s.check_balance:
        # need = notional * (1 + the larger fee rate) <= free quote = the cash after every fill
        # before the buy (all earlier orders have filled); the float cash with a margin for its
        # rounding (the exact comparison is the kernel path's)
        rate = float(1 + max(inst.taker_fee, inst.maker_fee))
        need = notional[o_buy] * rate
        have = cash_before[o_buy]
        if np.any(need * hi + cash_tol > have):
            return False
    if RateLimitCheck in kinds and s.max_orders_per_second > 0:
        t = ts[o_i]
        if np.any(np.diff(t) < 0):
            return False
        k = np.arange(len(t))
        in_window = k - np.searchsorted(t, t - 1_000_000_000, side="right")
        if np.any(in_window + 1 > s.max_orders_per_second):
            return False
    return True


__all__ = ["plan_orders", "run_direct"]

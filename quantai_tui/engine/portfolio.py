"""The portfolio: balances, positions, P&L, exposure and the equity curve, for every venue.

The ledger (core/positions.py) is exact: Decimal quantities, prices, fees and realised P&L.
Valuations (unrealised P&L, equity, exposure) use the float marks of the cache: they feed
risk checks and the screen, never the ledger. A fill costs O(1): the ledger update, a few
events, one sample appended to an array-backed equity curve (nothing grows a pandas object).

Events: PositionOpened / PositionChanged / PositionClosed (a flip is a close then an open),
BalanceUpdated per asset a fill moved, EquityBaseline when the UTC day rolls or a new equity
peak is seen (so a restart cannot reset the daily-loss and drawdown limits).
"""

from __future__ import annotations

import logging
from array import array
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from quantai_tui.core.clock import Clock, utc_day_start_ns
from quantai_tui.core.enums import OrderSide
from quantai_tui.core.events import (
    BalanceUpdated,
    EquityBaseline,
    Event,
    OrderFilled,
    PositionAdjusted,
    PositionChanged,
    PositionClosed,
    PositionOpened,
)
from quantai_tui.core.instruments import Instrument
from quantai_tui.core.positions import ZERO, Ledger, NettingPosition, to_raw
from quantai_tui.core.values import EXACT, FixedPoint, Money, Price, Quantity, decimal_places

if TYPE_CHECKING:
    from quantai_tui.engine.cache import Cache
    from quantai_tui.engine.journal import Journal

log = logging.getLogger("quantai.portfolio")
_BASELINE_EVERY_NS = 60_000_000_000  # a new peak is stored at most once a minute
# a day's baseline waits this long for the first price of every held asset (see update_baseline)
_PRICE_GRACE_NS = 30_000_000_000


class EquityCurve:
    """(ts, equity) samples in two arrays. When full, every other sample is dropped and later
    samples are taken at half the rate: memory stays bounded on a long run."""

    def __init__(self, max_points: int = 200_000) -> None:
        self.ts = array("q")
        self.values = array("d")
        self.max_points = max(16, max_points)
        self._stride = 1
        self._n = 0

    def add(self, ts: int, value: float) -> None:
        self._n += 1
        if self._n % self._stride:
            return
        if len(self.ts) >= self.max_points:
            del self.ts[1::2]
            del self.values[1::2]
            self._stride *= 2
        self.ts.append(ts)
        self.values.append(value)

    def __len__(self) -> int:
        return len(self.ts)

    @property
    def last(self) -> float | None:
        return self.values[-1] if self.values else None


class Portfolio:
    def __init__(self, cache: Cache, clock: Clock, journal: Journal, *, currency: str = "USDT",
                 money_precision: int = 8) -> None:
        self.cache = cache
        self.clock = clock
        self.journal = journal
        self.currency = currency
        self.money_precision = money_precision
        self.ledger = Ledger(cache.positions)
        self.curve = EquityCurve()
        self.fills = 0
        self.fees: dict[str, Decimal] = {}
        self.day_start_ns = 0
        self.day_start_equity: float | None = None
        self.peak_equity: float | None = None
        self._baseline_stored_ns = 0
        self._warned: set[str] = set()
        self.equity_complete = True  # the last equity() valued everything held
        self._unpriced_since: int | None = None  # clock ns when equity was first incomplete
        self.sample_on_fill = True  # the equity curve gets a sample per fill (backtests keep their own)
        self._topics: dict[tuple[str, str], tuple[str, str]] = {}  # (venue, symbol) -> position, account topics
        self._wanted: dict[tuple[str, str], tuple[Any, bool]] = {}  # (venue, symbol) -> ((bus version, store), wanted)

    # --- fills ------------------------------------------------------------------------------------
    def apply_fill(self, fill: OrderFilled) -> list[Event]:
        """Book a fill; returns the position and balance events to emit after the fill."""
        venue, symbol = fill.venue, fill.symbol
        inst = self.cache.instruments.get((venue, symbol)) or self.cache.instrument_or_default(venue, symbol)
        # once per fill: the exact values' raw slots, read directly, to Decimals in one step each
        q, px, fee_m = fill.last_qty, fill.last_px, fill.fee
        amount = fee_m._amount  # noqa: SLF001
        signed = EXACT.scaleb(Decimal(q._raw if fill.side is OrderSide.BUY else -q._raw), -q._prec)  # noqa: SLF001
        fee = EXACT.scaleb(Decimal(amount._raw), -amount._prec)  # noqa: SLF001
        ccy = fee_m._currency  # noqa: SLF001
        ts = fill.ts_event
        pos, before, _, assets = self.ledger.apply_fill(
            venue, inst, signed, EXACT.scaleb(Decimal(px._raw), -px._prec), fee, ccy, ts)  # noqa: SLF001
        self.fills += 1
        if fee:
            self.fees[ccy] = self.fees.get(ccy, ZERO) + fee
        j = self.journal
        if j.replaying:
            return []
        if self.sample_on_fill:
            mark = self.cache.mark(venue, symbol)
            self.curve.add(ts, self.equity() if mark is not None else self._last_equity())
        topics = self._topics.get((venue, symbol))
        if topics is None:
            topics = self._topics[(venue, symbol)] = (f"positions.{venue}.{symbol}", f"account.{venue}")
        # whether anyone keeps or reads them, asked again only when the bus's subscriptions changed
        want = self._wanted.get((venue, symbol))
        version = (j.bus.version, j.store)
        if want is None or want[0] != version:
            want = self._wanted[(venue, symbol)] = (version, j.wanted(topics[0]) or j.wanted(topics[1]))
        if not want[1] and not getattr(j.store, "keep", True):
            return []  # nobody keeps or reads them (a backtest's in-memory store): not made at all
        out = self._position_events(pos, before, inst, ts)
        for asset in assets:
            out.append(self._balance_event(venue, asset, ts))
        return out

    def _last_equity(self) -> float:
        last = self.curve.last
        return last if last is not None else self.equity()

    def _position_events(self, pos: NettingPosition, before: Decimal, inst: Instrument, ts: int) -> list[Event]:
        now = pos.qty
        v, s = pos.venue, pos.symbol
        realized = self._money(pos.realized_pnl, pos.settle or inst.settle_currency)
        if not now:
            return [PositionClosed.make(v, s, realized, ts, ts)]
        side = pos.side
        q = self._qty(abs(now), inst)
        avg = self._avg(pos, inst)
        if not before:
            return [PositionOpened.make(v, s, side, q, avg, realized, ts, ts)]
        if (before > 0) != (now > 0):  # a flip
            return [PositionClosed.make(v, s, realized, ts, ts), PositionOpened.make(v, s, side, q, avg, realized, ts, ts)]
        mark = self.cache.mark(v, s)
        unreal = self._money_f(pos.unrealized(mark) if mark is not None else 0.0, pos.settle or inst.settle_currency)
        return [PositionChanged.make(v, s, side, q, avg, realized, unreal, ts, ts)]

    def _balance_event(self, venue: str, asset: str, ts: int) -> BalanceUpdated:
        return BalanceUpdated.make(venue, asset, self.ledger.balance(venue, asset), self.ledger.free(venue, asset), ts, ts)

    def _money(self, d: Decimal, ccy: str) -> Money:
        p = self.money_precision
        return Money.of(FixedPoint.from_raw(to_raw(d, p), p), ccy)

    def _money_f(self, f: float, ccy: str) -> Money:
        return Money.from_float(f, ccy, self.money_precision)

    @staticmethod
    def _qty(d: Decimal, inst: Instrument) -> Quantity:
        p = inst.size_precision
        raw = to_raw(d, p)
        if EXACT.scaleb(d, p) != raw:  # finer than the lot (a venue's own fill sizes): keep every digit
            p = min(18, max(p, decimal_places(d.normalize())))
            raw = to_raw(d, p)
        return Quantity.from_raw(raw, p)

    @staticmethod
    def _avg(pos: NettingPosition, inst: Instrument) -> Price:
        p = min(18, inst.price_precision + 4)
        return Price.from_raw(to_raw(pos.avg_price, p), p)

    # --- balances and adjustments -----------------------------------------------------------------
    def set_balance(self, venue: str, asset: str, total: Decimal) -> BalanceUpdated | None:
        """Set a balance outright (a paper account's opening balance, a reconciled figure)."""
        self.ledger.set_balance(venue, asset, total)
        now = self.clock.timestamp_ns()
        ev = self._balance_event(venue, asset, now)
        self.journal.emit(ev)
        return ev

    def adjust_position(self, venue: str, symbol: str, qty: Decimal, avg_price: Decimal, reason: str) -> None:
        inst = self.cache.instrument_or_default(venue, symbol)
        self.ledger.position(venue, symbol, inst).set(qty, avg_price)
        now = self.clock.timestamp_ns()
        self.journal.emit(PositionAdjusted(venue, symbol, qty, avg_price, reason, ts_event=now, ts_init=now))

    def set_leverage(self, venue: str, symbol: str, leverage: Decimal) -> None:
        self.ledger.set_leverage(venue, symbol, leverage)

    def replay(self, ev: Event) -> None:
        """Rebuild from a stored event (fills come through `apply_fill` with the journal replaying)."""
        if isinstance(ev, BalanceUpdated):
            self.ledger.set_balance(ev.venue, ev.asset, ev.total)
        elif isinstance(ev, PositionAdjusted):
            inst = self.cache.instrument_or_default(ev.venue, ev.symbol)
            self.ledger.position(ev.venue, ev.symbol, inst).set(ev.quantity, ev.avg_price)
        elif isinstance(ev, EquityBaseline):
            self.day_start_ns = ev.day_start_ns
            self.day_start_equity = float(ev.day_start_equity)
            self.peak_equity = float(ev.peak_equity)

    # --- reading ------------------------------------------------------------------------------------
    def position(self, venue: str, symbol: str) -> NettingPosition | None:
        return self.ledger.positions.get((venue, symbol))

    def position_qty(self, venue: str, symbol: str) -> Decimal:
        p = self.ledger.positions.get((venue, symbol))
        return p.qty if p is not None else ZERO

    def positions(self, venue: str | None = None, open_only: bool = True) -> list[NettingPosition]:
        return [p for (v, _), p in self.ledger.positions.items()
                if (venue is None or v == venue) and (p.qty or not open_only)]

    def balance(self, venue: str, asset: str) -> Decimal:
        return self.ledger.balance(venue, asset)

    def free(self, venue: str, asset: str) -> Decimal:
        return self.ledger.free(venue, asset)

    def balances(self, venue: str | None = None) -> dict[str, dict[str, Decimal]]:
        return {v: dict(b) for v, b in self.ledger.balances.items() if venue is None or v == venue}

    def venues(self) -> set[str]:
        return set(self.ledger.balances) | {v for v, _ in self.ledger.positions}

    def realized_pnl(self, venue: str | None = None) -> Decimal:
        total = ZERO
        for (v, _), p in self.ledger.positions.items():
            if venue is None or v == venue:
                total += p.realized_pnl
        return total

    def unrealized_pnl(self, venue: str | None = None, symbol: str | None = None) -> float:
        total = 0.0
        for (v, s), p in self.ledger.positions.items():
            if p.qty and (venue is None or v == venue) and (symbol is None or s == symbol):
                mark = self.cache.mark(v, s)
                if mark is not None:
                    total += p.unrealized(mark)
        return total

    def asset_price(self, venue: str, asset: str) -> float | None:
        """The asset's value in the valuation currency, from the venue's market."""
        if asset == self.currency:
            return 1.0
        mark = self.cache.mark(venue, f"{asset}/{self.currency}")
        if mark is None:
            for (v, s), st in self.cache.markets.items():
                if s == f"{asset}/{self.currency}" and st.mark is not None:
                    return st.mark
        return mark

    def equity(self, venue: str | None = None) -> float:
        """Balances valued at marks plus unrealised P&L of derivatives, in the valuation currency.
        `equity_complete` says afterwards whether everything held had a price."""
        total = 0.0
        complete = True
        for v, bals in self.ledger.balances.items():
            if venue is not None and v != venue:
                continue
            for asset, amount in bals.items():
                if not amount:
                    continue
                px = self.asset_price(v, asset)
                if px is None:
                    complete = False
                    if asset not in self._warned:
                        self._warned.add(asset)
                        log.info("no price yet for %s in %s: left out of equity until one arrives", asset,
                                 self.currency)
                    continue
                total += float(amount) * px
        for (v, s), p in self.ledger.positions.items():
            if p.qty and p.derivative and (venue is None or v == venue):
                mark = self.cache.mark(v, s)
                if mark is None:
                    complete = False
                else:
                    u = p.unrealized(mark)
                    total += u if p.settle == self.currency else u * (self.asset_price(v, p.settle) or 0.0)
        self.equity_complete = complete
        return total

    def exposure(self, venue: str | None = None) -> float:
        """Sum of absolute position values at marks."""
        total = 0.0
        for (v, s), p in self.ledger.positions.items():
            if p.qty and (venue is None or v == venue):
                mark = self.cache.mark(v, s) or float(p.avg_price)
                total += abs(float(p.qty)) * mark * float(p.contract_size)
        return total

    # --- equity curve and risk baselines --------------------------------------------------------------
    def sample_equity(self, ts: int | None = None) -> float:
        now = self.clock.timestamp_ns() if ts is None else ts
        eq = self.equity()
        self.curve.add(now, eq)
        self.update_baseline(now, eq)
        return eq

    def update_baseline(self, now: int, eq: float | None = None) -> None:
        eq = self.equity() if eq is None else eq
        if not self.equity_complete:
            # before the first prices (a start, a reconnect) equity leaves assets out: a day's
            # start fixed then would book their whole value as the day's gain and loosen the
            # daily loss limit by as much. Wait for the prices; an asset that never gets one
            # (no market for it) is left out after the grace period.
            if self._unpriced_since is None:
                self._unpriced_since = now
            if now - self._unpriced_since < _PRICE_GRACE_NS:
                return
        else:
            self._unpriced_since = None
        day = utc_day_start_ns(now)
        store = False
        # a zero baseline (asked before any balance was known) would switch the daily loss limit off
        if day != self.day_start_ns or self.day_start_equity is None or (not self.day_start_equity and eq > 0):
            self.day_start_ns = day
            self.day_start_equity = eq
            store = True
        if self.peak_equity is None or eq > self.peak_equity:
            self.peak_equity = eq
            store = store or now - self._baseline_stored_ns >= _BASELINE_EVERY_NS
        if store:
            self._baseline_stored_ns = now
            self.journal.emit(EquityBaseline(day, _dec(self.day_start_equity), _dec(self.peak_equity), self.currency,
                                             ts_event=now, ts_init=now))

    def day_pnl(self, now: int | None = None, eq: float | None = None) -> float:
        """Realised + unrealised since 00:00 UTC, as equity now less equity at the day's start."""
        now = self.clock.timestamp_ns() if now is None else now
        eq = self.equity() if eq is None else eq
        self.update_baseline(now, eq)
        return eq - (self.day_start_equity or eq)

    def day_pnl_view(self, eq: float | None = None) -> float:
        """`day_pnl` for display: reads the baseline and never sets one (a view that asks before
        the engine has started, balances loaded, would otherwise fix the day's start at zero)."""
        eq = self.equity() if eq is None else eq
        if not self.day_start_equity or self.day_start_ns != utc_day_start_ns(self.clock.timestamp_ns()):
            return 0.0
        return eq - self.day_start_equity

    def drawdown_pct(self, now: int | None = None, eq: float | None = None) -> float:
        now = self.clock.timestamp_ns() if now is None else now
        eq = self.equity() if eq is None else eq
        self.update_baseline(now, eq)
        peak = self.peak_equity or eq
        return 0.0 if peak <= 0 else max(0.0, (peak - eq) / peak * 100.0)


def _dec(f: float | None) -> Decimal:
    return Decimal(repr(round(f or 0.0, 8)))

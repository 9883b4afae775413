"""A seeded synthetic market: a pure generator of the events a real venue would publish.

Per symbol, a fair price follows a log random walk whose volatility switches between regimes
(calm, normal, volatile) and which jumps now and then. An L2 book of `depth` levels per side
sits around it: the touch follows the fair price, deeper levels are spaced a few ticks apart
with log-normal sizes that grow away from the touch, and levels churn. Trades arrive at the
touch, consume liquidity and nudge the price. Everything is kept in integer ticks and lots, so
every published price is on the tick and every size on the lot.

One *step* is one market message for one symbol: a book update or a trade (whose book change
comes with it). Each step publishes the events a venue would: OrderBookDeltas (a snapshot
first, deltas after), TradeTick, a QuoteTick whenever the best bid or ask changed, and a 1m Bar
at every minute boundary. Steps arrive as a Poisson process at `rate` per second per symbol,
in simulated time starting at `start_ns`; symbols are merged in time order.

The same seed, symbols, rate, depth and start give the same events, with no asyncio and no
wall clock: `SimMarket(seed, symbols).generate(n)` is what snapshots, benchmarks and the
backtest-equals-live test use; `SimMarketDataClient` paces the same generator in real time.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import random
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterable, Iterator
from decimal import Decimal

from quantai_tui.connectors.sim.instruments import VENUE, SimSpec, sim_spec
from quantai_tui.core.book import OrderBook
from quantai_tui.core.enums import AggressorSide
from quantai_tui.core.events import Bar, Event, OrderBookDeltas, QuoteTick, TradeTick, market_topic
from quantai_tui.core.instruments import Instrument
from quantai_tui.core.values import decimal_places

DEFAULT_START_NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z: a fixed, replayable start
MINUTE_NS = 60_000_000_000
_SQRT_DAY = math.sqrt(86_400.0)

# (volatility multiplier, mean duration in seconds, spread scale in level gaps)
_REGIMES = ((0.45, 900.0, 0.05), (1.0, 1200.0, 0.15), (2.8, 300.0, 0.6))
_JUMPS_PER_S = 1 / 900.0  # about four an hour
_JUMP_SIGMA = 0.003  # log size of a jump (0.3%)
_TRADE_SHARE = 0.3  # share of steps that are trades

Topic = str
Message = tuple[Topic, Event]


def _stable_seed(seed: int, symbol: str) -> int:
    # Python's hash() is salted per process; this is not.
    return int.from_bytes(hashlib.blake2b(f"{seed}:{symbol}".encode(), digest_size=8).digest(), "big")


class _Scale:
    """An exact decimal step (tick or lot) as integer / 10**places, for float conversion:
    k * raw / 10**places is correctly rounded, so the float equals the decimal k * step."""

    __slots__ = ("raw", "div", "step")

    def __init__(self, step: str) -> None:
        d = Decimal(step)
        places = decimal_places(d)
        self.raw = int(d.scaleb(places))
        self.div = 10**places
        self.step = float(d)

    def value(self, k: int) -> float:
        return k * self.raw / self.div


class _Side:
    """One side of the generator's book in integer ticks and lots. `keys` holds sign * tick in
    ascending order, so keys[0] is the best level on either side. `orig` remembers the size a
    level had before this message touched it, so a message publishes exactly the diff."""

    __slots__ = ("sign", "keys", "sizes", "orig")

    def __init__(self, is_bid: bool) -> None:
        self.sign = -1 if is_bid else 1
        self.keys: list[int] = []
        self.sizes: dict[int, int] = {}  # tick -> lots
        self.orig: dict[int, int] = {}

    def best(self) -> int:
        return self.keys[0] * self.sign

    def put(self, key: int, lots: int) -> None:
        tick = key * self.sign
        sizes = self.sizes
        old = sizes.get(tick)
        if old is None:
            insort(self.keys, key)
            self.orig.setdefault(tick, 0)
        else:
            self.orig.setdefault(tick, old)
        sizes[tick] = lots

    def drop_range(self, lo: int, hi: int) -> None:
        """Remove keys[lo:hi]."""
        sizes, orig, sign = self.sizes, self.orig, self.sign
        for key in self.keys[lo:hi]:
            tick = key * sign
            orig.setdefault(tick, sizes.pop(tick))
        del self.keys[lo:hi]

    def changes(self) -> dict[int, int]:
        sizes = self.sizes
        out = {t: sizes.get(t, 0) for t, o in self.orig.items() if sizes.get(t, 0) != o}
        self.orig.clear()
        return out


class SymbolMarket:
    """One symbol's market state and step logic. Use through SimMarket."""

    def __init__(self, spec: SimSpec, instrument: Instrument, seed: int, start_ns: int, rate: float, depth: int,
                 venue: str = VENUE) -> None:
        self.spec = spec
        self.instrument = instrument
        self.symbol = spec.symbol
        self.venue = venue
        self.rate = float(rate)
        self.depth = max(1, int(depth))
        self.rng = random.Random(_stable_seed(seed, spec.symbol))
        self.px = _Scale(spec.tick)
        self.qty = _Scale(spec.lot)
        self.t = start_ns
        self.book = OrderBook(venue, spec.symbol)
        self.topics = {k: market_topic(k, venue, spec.symbol) for k in ("trades", "quotes", "book", "bars")}
        rng = self.rng
        self.fair = math.log(spec.price * math.exp(rng.uniform(-0.1, 0.1)) / self.px.step)  # log of ticks
        self.regime = 1
        self.gap = max(1, spec.level_gap_ticks)
        self.spread = 1
        self.level_lots = spec.level_size / self.qty.step
        self.trade_lots = math.log(spec.trade_size / self.qty.step)
        self.bids = _Side(is_bid=True)
        self.asks = _Side(is_bid=False)
        self.sequence = 0
        self.trade_id = 0
        self.last_quote: tuple[int, int, int, int] = (0, 0, 0, 0)
        self.started = False
        # the 1m bar being built (from trades; a minute without trades repeats the last close)
        self.bar_start = start_ns - start_ns % MINUTE_NS
        self.bar: list[float] | None = None  # open, high, low, close, volume in lots
        self.last_price = 0.0
        self.momentum = 0.0

    # --- the fair price -------------------------------------------------------------------------
    def _move(self, dt_s: float) -> None:
        rng = self.rng
        mult, duration, _ = _REGIMES[self.regime]
        if rng.random() < dt_s / duration:
            self.regime = rng.choice([r for r in range(len(_REGIMES)) if r != self.regime])
            mult = _REGIMES[self.regime][0]
        sigma = self.spec.vol_per_day / _SQRT_DAY * mult * math.sqrt(dt_s)
        d = rng.gauss(0.0, sigma)
        if rng.random() < _JUMPS_PER_S * dt_s:
            d += rng.gauss(0.0, _JUMP_SIGMA)
        self.fair += d
        self.momentum = 0.9 * self.momentum + (0.1 if d > 0 else -0.1)
        if rng.random() < 0.1:  # the spread changes now and then, more in volatile regimes
            self.spread = 1 + int(rng.expovariate(1.0 / (1e-9 + self.gap * _REGIMES[self.regime][2])))

    def _level_size(self, distance: int) -> int:
        median = self.level_lots * (1.0 + 0.08 * distance / self.gap)
        return max(1, int(median * math.exp(0.9 * self.rng.gauss(0.0, 1.0))))

    def _gap(self) -> int:
        return 1 + int(self.rng.expovariate(1.0 / self.gap))

    # --- the book ---------------------------------------------------------------------------------
    def _reshape(self) -> None:
        """Bring the book around the fair price: pull levels the price moved through, fill the
        hollow a move left, churn a level or two, keep `depth` levels per side."""
        rng = self.rng
        b = int(math.exp(self.fair) - self.spread / 2.0)
        gap, depth = self.gap, self.depth
        far = gap * depth * 3
        for side, best in ((self.bids, b), (self.asks, b + self.spread)):
            keys = side.keys
            bk = best * side.sign
            # levels the touch moved through, or left far behind by a jump
            n = bisect_left(keys, bk)
            if n:
                side.drop_range(0, n)
            if keys and keys[-1] > bk + far:
                side.drop_range(bisect_left(keys, bk + far + 1), len(keys))
            if not keys or keys[0] != bk:
                side.put(bk, self._level_size(0))
            # fill the hollow a move left between the touch and the next older level
            if len(keys) > 1 and keys[1] - keys[0] > 2 * gap:
                nxt = keys[1] - gap // 2
                k = keys[0] + self._gap()
                while k < nxt:
                    side.put(k, self._level_size(k - bk))
                    k += self._gap()
            # churn: resize or cancel a random level, sometimes add one inside the range
            for _ in range(1 + (rng.random() < 0.5)):
                i = int(rng.random() * len(keys))
                if i > 0 and rng.random() < 0.2:
                    side.drop_range(i, i + 1)
                else:
                    side.put(keys[i], self._level_size(keys[i] - bk))
            if rng.random() < 0.3:
                k = bk + 1 + int(rng.random() * gap * min(len(keys), depth))
                if side.sizes.get(k * side.sign) is None:
                    side.put(k, self._level_size(k - bk))
            # exactly `depth` levels: trim the far end, or extend it
            if len(keys) > depth:
                side.drop_range(depth, len(keys))
            while len(keys) < depth:
                k = keys[-1] + self._gap()
                side.put(k, self._level_size(k - bk))

    def _deltas(self, bids: dict[int, int], asks: dict[int, int], snapshot: bool) -> OrderBookDeltas:
        praw, pdiv, qraw, qdiv = self.px.raw, self.px.div, self.qty.raw, self.qty.div
        self.sequence += 1
        ev = OrderBookDeltas.make(
            self.venue,
            self.symbol,
            tuple([(k * praw / pdiv, v * qraw / qdiv) for k, v in sorted(bids.items(), reverse=True)]),
            tuple([(k * praw / pdiv, v * qraw / qdiv) for k, v in sorted(asks.items())]),
            snapshot,
            self.sequence,
            self.t,
            self.t,
        )
        return ev

    def _quote(self, out: list[Message]) -> None:
        b = self.bids.best()
        a = self.asks.best()
        q = (b, self.bids.sizes[b], a, self.asks.sizes[a])
        if q != self.last_quote:
            self.last_quote = q
            praw, pdiv, qraw, qdiv = self.px.raw, self.px.div, self.qty.raw, self.qty.div
            out.append((self.topics["quotes"], QuoteTick.make(
                self.venue, self.symbol, b * praw / pdiv, q[1] * qraw / qdiv, a * praw / pdiv, q[3] * qraw / qdiv,
                self.t, self.t)))

    # --- bars ---------------------------------------------------------------------------------------
    def _close_bars(self, out: list[Message]) -> None:
        while self.t >= self.bar_start + MINUTE_NS:
            end = self.bar_start + MINUTE_NS
            if self.bar is None:
                c = self.last_price or self.px.value(int(math.exp(self.fair)))
                o = h = low = c
                v = 0.0
            else:
                o, h, low, c, v = self.bar
                v = self.qty.value(int(v))
            # ts_event is the close; ts_init is when the bar was published: the first message
            # after the close (so ts_init never goes back in publish order)
            out.append((self.topics["bars"], Bar.make(
                self.venue, self.symbol, "1m", o, h, low, c, v, True, end, self.t)))
            self.bar = None
            self.bar_start = end

    # --- one message ------------------------------------------------------------------------------
    def step(self, out: list[Message]) -> None:
        """Append the events of the next message to `out` and advance the clock."""
        if not self.started:
            self.started = True
            self._reshape()
            self.bids.orig.clear()
            self.asks.orig.clear()
            out.append((self.topics["book"], self._deltas(self.bids.sizes, self.asks.sizes, True)))
            self._quote(out)
            self._advance()
            return
        if self.t >= self.bar_start + MINUTE_NS:
            self._close_bars(out)
        if self.rng.random() < _TRADE_SHARE:
            self._trade(out)
        else:
            self._reshape()
            cb, ca = self.bids.changes(), self.asks.changes()
            if cb or ca:
                out.append((self.topics["book"], self._deltas(cb, ca, False)))
        self._quote(out)
        self._advance()

    def _advance(self) -> None:
        dt_s = self.rng.expovariate(self.rate)
        self.t += 1 + int(dt_s * 1e9)
        self._move(dt_s)

    def _trade(self, out: list[Message]) -> None:
        rng = self.rng
        buy = rng.random() < 0.5 + 0.15 * self.momentum
        side = self.asks if buy else self.bids
        k = side.best()
        avail = side.sizes[k]
        lots = max(1, int(math.exp(self.trade_lots + 1.1 * rng.gauss(0.0, 1.0))))
        fill = min(lots, avail)
        if fill < avail:
            side.put(k * side.sign, avail - fill)
        elif len(side.keys) > 1:
            side.drop_range(0, 1)
        else:  # never empty a side: the last level refills (a venue's market maker)
            side.put(k * side.sign, self._level_size(0))
        price = self.px.value(k)
        self.trade_id += 1
        out.append((self.topics["trades"], TradeTick.make(
            self.venue, self.symbol, price, self.qty.value(fill), AggressorSide.BUYER if buy else AggressorSide.SELLER,
            str(self.trade_id), self.t, self.t)))
        changed = side.changes()
        out.append((self.topics["book"], self._deltas({} if buy else changed, changed if buy else {}, False)))
        # a trade leans on the price a little
        self.fair += (0.05 if buy else -0.05) * self.gap / (k or 1)
        self.last_price = price
        bar = self.bar
        if bar is None:
            self.bar = [price, price, price, price, float(fill)]
        else:
            if price > bar[1]:
                bar[1] = price
            if price < bar[2]:
                bar[2] = price
            bar[3] = price
            bar[4] += fill


class SimMarket:
    """The synthetic market of several symbols, merged in time order.

        m = SimMarket(seed=42, symbols=["BTC/USDT", "ETH/USDT"], rate=1000)
        for topic, event in m.generate(10_000): ...
        m.book("BTC/USDT")  # the L2 book after everything generated so far
    """

    def __init__(self, seed: int = 42, symbols: Iterable[str] = ("BTC/USDT",), *, rate: float = 50.0,
                 depth: int = 20, start_ns: int = DEFAULT_START_NS, venue: str = VENUE) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.seed = seed
        self.rate = rate
        self.depth = depth
        self.start_ns = start_ns
        self.venue = venue
        self._markets: dict[str, SymbolMarket] = {}
        self._order: list[SymbolMarket] = []
        self._heap: list[tuple[int, int]] = []
        self._pending: deque[Message] = deque()
        self._books: dict[str, OrderBook] = {}
        self.events_generated = 0
        for s in symbols:
            self.add_symbol(s)

    def add_symbol(self, symbol: str, start_ns: int | None = None) -> SymbolMarket:
        """Start a symbol's market (at `start_ns`, default the market's start). Idempotent."""
        from quantai_tui.connectors.sim.instruments import INSTRUMENTS

        spec = sim_spec(symbol)
        m = self._markets.get(spec.symbol)
        if m is None:
            m = SymbolMarket(spec, INSTRUMENTS[spec.symbol], self.seed, self.start_ns if start_ns is None else start_ns,
                             self.rate, self.depth, self.venue)
            self._markets[spec.symbol] = m
            self._books[spec.symbol] = m.book
            self._order.append(m)
            heapq.heappush(self._heap, (m.t, len(self._order) - 1))
        return m

    @property
    def symbols(self) -> list[str]:
        return [m.symbol for m in self._order]

    def book(self, symbol: str) -> OrderBook:
        return self._markets[sim_spec(symbol).symbol].book

    def instrument(self, symbol: str) -> Instrument:
        return self._markets[sim_spec(symbol).symbol].instrument

    @property
    def next_ts(self) -> int | None:
        """Time of the next message (None with no symbols)."""
        if self._pending:
            return self._pending[0][1].ts_init
        return self._heap[0][0] if self._heap else None

    def step(self) -> list[Message]:
        """The next message of the earliest symbol: every event it caused, in order."""
        if self._pending:
            out = list(self._pending)
            self._pending.clear()
        else:
            out = self._next()
        self._hand_out(out)
        return out

    def _next(self) -> list[Message]:
        if not self._heap:
            return []
        _, i = heapq.heappop(self._heap)
        m = self._order[i]
        out: list[Message] = []
        m.step(out)
        heapq.heappush(self._heap, (m.t, i))
        self.events_generated += len(out)
        return out

    def _hand_out(self, out: list[Message]) -> None:
        # The exposed books follow what was handed out, never what is still pending.
        books = self._books
        for _, ev in out:
            if type(ev) is OrderBookDeltas:
                books[ev.symbol].apply(ev)

    def generate(self, n: int) -> list[Message]:
        """Exactly the next `n` events (a message cut in two continues in the next call)."""
        out: list[Message] = []
        pending = self._pending
        while len(out) < n and (pending or self._heap):
            if not pending:
                pending.extend(self._next())
            while pending and len(out) < n:
                out.append(pending.popleft())
        self._hand_out(out)
        return out

    def generate_until(self, ts_ns: int, max_events: int | None = None) -> list[Message]:
        """Every event up to time `ts_ns` (at most `max_events`; the rest stays pending)."""
        out: list[Message] = []
        pending = self._pending
        limit = max_events if max_events is not None else 1 << 62
        while len(out) < limit:
            if not pending:
                if not self._heap or self._heap[0][0] > ts_ns:
                    break
                pending.extend(self._next())
            while pending and len(out) < limit:
                out.append(pending.popleft())
        self._hand_out(out)
        return out

    def __iter__(self) -> Iterator[Message]:
        while self._heap or self._pending:
            yield from self.step()

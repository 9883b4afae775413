"""The engine's cache: instruments, books, the latest trade/quote/mid per symbol, and the
OMS's orders and the portfolio's positions by reference.

Market state is updated by bus handlers subscribed per topic with a high priority, so the
cache (then the paper venue) has seen a tick before any strategy does. Prices are floats, as
on the wire. A book comes from the market data client that keeps it (`set_book_source`), or
the cache applies the deltas itself (replays, tests).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from quantai_tui.core.book import OrderBook
from quantai_tui.core.errors import ValidationError
from quantai_tui.core.events import Bar, OrderBookDeltas, QuoteTick, TradeTick, market_topic
from quantai_tui.core.instruments import Instrument, make_instrument
from quantai_tui.core.symbols import parse_symbol

if TYPE_CHECKING:
    from quantai_tui.core.orders import Order
    from quantai_tui.core.positions import NettingPosition
    from quantai_tui.engine.bus import MessageBus

CACHE_PRIORITY = 1000  # before the paper venue (900) and strategies (0)
BookSource = Callable[[str], OrderBook | None]


class MarketState:
    """Latest market of one symbol on one venue."""

    __slots__ = ("venue", "symbol", "last", "last_ts", "bid", "ask", "bid_size", "ask_size", "quote_ts", "book",
                 "own_book", "ticks")

    def __init__(self, venue: str, symbol: str) -> None:
        self.venue = venue
        self.symbol = symbol
        self.last = math.nan
        self.last_ts = 0
        self.bid = math.nan
        self.ask = math.nan
        self.bid_size = 0.0
        self.ask_size = 0.0
        self.quote_ts = 0
        self.book: OrderBook | None = None
        self.own_book = False
        self.ticks = 0

    def on_trade(self, ev: TradeTick) -> None:
        self.last = ev.price
        self.last_ts = ev.ts_event
        self.ticks += 1

    def on_quote(self, ev: QuoteTick) -> None:
        self.bid = ev.bid
        self.ask = ev.ask
        self.bid_size = ev.bid_size
        self.ask_size = ev.ask_size
        self.quote_ts = ev.ts_event

    def on_book(self, ev: OrderBookDeltas) -> None:
        book = self.book
        if book is None:
            book = self.book = OrderBook(self.venue, self.symbol)
            self.own_book = True
        if self.own_book:
            book.apply(ev)
        b = book.bids.best()
        a = book.asks.best()
        if b is not None:
            self.bid, self.bid_size = b
        if a is not None:
            self.ask, self.ask_size = a
        self.quote_ts = ev.ts_event

    def on_bar(self, ev: Bar) -> None:
        self.last = ev.close
        self.last_ts = ev.ts_event

    @property
    def mid(self) -> float | None:
        b, a = self.bid, self.ask
        if b == b and a == a:
            return (b + a) / 2
        return None

    @property
    def mark(self) -> float | None:
        """The price positions are valued at: the mid, else the last trade."""
        m = self.mid
        if m is not None:
            return m
        return self.last if self.last == self.last else None


class Cache:
    def __init__(self) -> None:
        self.instruments: dict[tuple[str, str], Instrument] = {}
        self.markets: dict[tuple[str, str], MarketState] = {}
        self.orders: dict[str, Order] = {}  # every order of this run and the store, by client order id
        self.open: dict[str, Order] = {}  # the open ones; both kept by the OMS
        self.positions: dict[tuple[str, str], NettingPosition] = {}  # filled in by the portfolio
        self._book_sources: dict[str, BookSource] = {}
        self._subscribed: set[tuple[str, str]] = set()

    # --- instruments --------------------------------------------------------------------------
    def add_instrument(self, inst: Instrument) -> None:
        self.instruments[(inst.venue, inst.symbol)] = inst

    def add_instruments(self, insts: dict[str, Instrument] | list[Instrument], venue: str | None = None) -> None:
        for inst in insts.values() if isinstance(insts, dict) else insts:
            if venue is not None and inst.venue != venue:
                # the same instrument traded under another venue name (paper over a real venue)
                from dataclasses import replace

                inst = replace(inst, venue=venue)
            self.add_instrument(inst)

    def instrument(self, venue: str, symbol: str) -> Instrument:
        inst = self.instruments.get((venue, symbol))
        if inst is None:
            raise ValidationError(f"unknown instrument {symbol} on {venue}")
        return inst

    def find_instrument(self, venue: str, symbol: str) -> Instrument | None:
        return self.instruments.get((venue, symbol))

    def instrument_or_default(self, venue: str, symbol: str) -> Instrument:
        """The instrument, or a stand-in parsed from the symbol (replaying a store whose venue is
        not configured this run): accounting only needs kind, currencies and contract size."""
        inst = self.instruments.get((venue, symbol))
        if inst is None:
            parse_symbol(symbol)
            inst = make_instrument(venue, symbol, "0.00000001", "0.00000001")
        return inst

    # --- market state -------------------------------------------------------------------------
    def market(self, venue: str, symbol: str) -> MarketState:
        key = (venue, symbol)
        st = self.markets.get(key)
        if st is None:
            st = self.markets[key] = MarketState(venue, symbol)
            src = self._book_sources.get(venue)
            if src is not None:
                st.book = src(symbol)
        return st

    def set_book_source(self, venue: str, source: BookSource) -> None:
        """Books of `venue` are kept by its market data client; read them from there."""
        self._book_sources[venue] = source
        for (v, sym), st in self.markets.items():
            if v == venue:
                st.book = source(sym)
                st.own_book = False

    def book(self, venue: str, symbol: str) -> OrderBook | None:
        st = self.markets.get((venue, symbol))
        if st is None:
            return None
        if st.book is None and not st.own_book:
            src = self._book_sources.get(venue)
            if src is not None:
                st.book = src(symbol)
        return st.book

    def mid(self, venue: str, symbol: str) -> float | None:
        st = self.markets.get((venue, symbol))
        return st.mid if st is not None else None

    def mark(self, venue: str, symbol: str) -> float | None:
        st = self.markets.get((venue, symbol))
        return st.mark if st is not None else None

    def last(self, venue: str, symbol: str) -> float | None:
        st = self.markets.get((venue, symbol))
        return st.last if st is not None and st.last == st.last else None

    def subscribe(self, bus: MessageBus, venue: str, symbol: str) -> MarketState:
        """Keep this symbol's market state from the bus (once)."""
        st = self.market(venue, symbol)
        if (venue, symbol) in self._subscribed:
            return st
        self._subscribed.add((venue, symbol))
        name = f"cache:{venue}:{symbol}"
        bus.subscribe(market_topic("trades", venue, symbol), st.on_trade, priority=CACHE_PRIORITY, name=name)
        bus.subscribe(market_topic("quotes", venue, symbol), st.on_quote, priority=CACHE_PRIORITY, name=name)
        bus.subscribe(market_topic("book", venue, symbol), st.on_book, priority=CACHE_PRIORITY, name=name)
        bus.subscribe(market_topic("bars", venue, symbol), st.on_bar, priority=CACHE_PRIORITY, name=name)
        return st

    # --- orders and positions (views) ---------------------------------------------------------
    def open_orders(self, venue: str | None = None, symbol: str | None = None,
                    strategy_id: str | None = None) -> list[Order]:
        return [o for o in self.open.values() if (venue is None or o.venue == venue)
                and (symbol is None or o.symbol == symbol) and (strategy_id is None or o.strategy_id == strategy_id)]

    def position(self, venue: str, symbol: str) -> NettingPosition | None:
        return self.positions.get((venue, symbol))

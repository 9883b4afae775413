"""The strategy base class: what a user writes, run unchanged in backtest, paper and live.

    class MaCrossover(Strategy):
        fast = Param(10, "fast SMA length", min=1)
        slow = Param(30, "slow SMA length", min=2)
        qty = Param(Decimal("0.01"), "order size in base units", min=Decimal(0))

        async def on_bar(self, bar: Bar) -> None:
            ...
            await self.buy(self.qty)

A strategy sees the market through `on_tick` (trades), `on_quote`, `on_book`, `on_bar`, its own
orders through `on_order` / `on_fill`, time through timers, and trades only through a
`TradingContext` (the kernel's OMS, risk and portfolio behind a small interface), so the same
code runs against a replay or an exchange. Handlers are `async def`: live, they may await; in a
backtest every awaited engine call completes without suspending and the replay drives each
coroutine with one `send(None)` (no event loop, no queue hop). A handler that does suspend in a
backtest is an error that names the strategy.

Parameters are declared on the class with typed defaults; `--param fast=12` strings are parsed
and validated against them (`resolve_params`), and an unknown or ill-typed one is a one-line
`StrategyError` naming it. Loading by name or path lives in `engine/strategy_loader.py`.
"""

from __future__ import annotations

import inspect
import logging
import re
from types import MethodType
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Generic, Protocol, TypeVar, runtime_checkable

from quantai_tui.core.clock import Clock, TimeEvent
from quantai_tui.core.commands import CancelAllOrders, CancelOrder, SubmitOrder
from quantai_tui.core.enums import OrderSide, OrderType, TimeInForce
from quantai_tui.core.errors import StrategyError
from quantai_tui.core.events import (
    Bar,
    OrderBookDeltas,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    QuoteTick,
    TradeTick,
)
from quantai_tui.core.instruments import Instrument
from quantai_tui.core.values import Price, Quantity
from quantai_tui.engine.strategy_sync import sync_twin

T = TypeVar("T")
Driver = Callable[[Coroutine[Any, Any, Any]], Any]


# --- the trading context: the only way a strategy reaches the OMS and the portfolio ----------
@runtime_checkable
class TradingContext(Protocol):
    """What the kernel (live, paper) or the backtest engine gives a strategy."""

    @property
    def clock(self) -> Clock: ...
    def instrument(self, venue: str, symbol: str) -> Instrument: ...
    async def submit_order(self, command: SubmitOrder) -> str:
        """Risk-check and send an order; returns its client order id. A denial is reported as an
        order event (OrderDenied / OrderRejected), never raised into the strategy."""
        ...
    async def cancel_order(self, command: CancelOrder) -> None: ...
    async def cancel_all_orders(self, command: CancelAllOrders) -> None: ...
    def position_qty(self, venue: str, symbol: str) -> Decimal:
        """Signed position in base units (> 0 long, < 0 short)."""
        ...
    def balance(self, venue: str, asset: str) -> Decimal: ...
    def open_order_ids(self, venue: str | None = None, symbol: str | None = None,
                       strategy_id: str | None = None) -> list[str]: ...


# --- parameters -------------------------------------------------------------------------------
_TRUE = {"1", "true", "yes", "on", "y"}
_FALSE = {"0", "false", "no", "off", "n"}


class Param(Generic[T]):
    """A typed strategy parameter with a default. The type is the default's type (int, float,
    Decimal, str or bool); `min` / `max` / `choices` constrain it."""

    def __init__(self, default: T, doc: str = "", *, min: Any = None, max: Any = None,  # noqa: A002
                 choices: tuple[Any, ...] | None = None) -> None:
        if type(default) not in (int, float, Decimal, str, bool):
            raise TypeError(f"Param default must be int, float, Decimal, str or bool, got {type(default).__name__}")
        self.default = default
        self.type: type = type(default)
        self.doc = doc
        self.min = min
        self.max = max
        self.choices = choices
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        # Strategy.__init__ puts the resolved value in the instance dict, which wins over a
        # non-data descriptor: reading a parameter on the hot path is a plain attribute read.
        return self.default

    def parse(self, value: Any, where: str) -> T:
        """`value` (a CLI string or a typed value) converted to this parameter's type."""
        t = self.type
        label = {int: "an integer", float: "a number", Decimal: "a decimal number", str: "a string",
                 bool: "true or false"}[t]
        bad = StrategyError(f"{where}: parameter {self.name} must be {label}, got {value!r}")
        out: Any
        try:
            if t is bool:
                if isinstance(value, bool):
                    out = value
                elif isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
                    out = value.strip().lower() in _TRUE
                else:
                    raise bad
            elif t is int:
                if isinstance(value, bool):
                    raise bad
                if isinstance(value, int):
                    out = value
                elif isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
                    out = int(value)
                elif isinstance(value, float) and value.is_integer():
                    out = int(value)
                else:
                    raise bad
            elif t is float:
                if isinstance(value, bool):
                    raise bad
                out = float(value)
                if out != out or out in (float("inf"), float("-inf")):
                    raise bad
            elif t is Decimal:
                if isinstance(value, bool):
                    raise bad
                out = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
                if not out.is_finite():
                    raise bad
            else:
                out = str(value)
        except (ValueError, TypeError, InvalidOperation):
            raise bad from None
        if self.choices is not None and out not in self.choices:
            raise StrategyError(f"{where}: parameter {self.name} must be one of {', '.join(map(str, self.choices))}, got {value!r}")
        if self.min is not None and out < self.min:
            raise StrategyError(f"{where}: parameter {self.name} must be >= {self.min}, got {value!r}")
        if self.max is not None and out > self.max:
            raise StrategyError(f"{where}: parameter {self.name} must be <= {self.max}, got {value!r}")
        return out


def parse_param_args(items: list[str] | None) -> dict[str, str]:
    """['fast=10', 'slow=50'] -> {'fast': '10', 'slow': '50'}; a malformed item is an error."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise StrategyError(f"--param {item!r}: expected NAME=VALUE")
        out[key] = value.strip()
    return out


# --- advisors (the AI layer plugs one in; strategies never import it) --------------------------
AdvisorReply = Mapping[str, Any] | None
Advisor = Callable[[Mapping[str, Any]], "AdvisorReply | Awaitable[AdvisorReply]"]


# --- the base class ---------------------------------------------------------------------------
class Strategy:
    """Subclass and override the handlers you need; declare parameters with `Param`."""

    #: name shown in reports and used as the default strategy id (default: the class name)
    name: ClassVar[str] = ""
    #: how many of the run's symbols it trades (the first ones); None: all of them
    max_symbols: ClassVar[int | None] = None

    def __init__(self, params: Mapping[str, Any] | None = None, *, strategy_id: str | None = None) -> None:
        resolved = resolve_params(type(self), params or {})
        self.__dict__.update(resolved)
        self.params: dict[str, Any] = resolved
        self.id = strategy_id or type(self).strategy_name()
        self.log = logging.getLogger(f"quantai.strategy.{self.id}")
        self.ctx: TradingContext | None = None
        self.venue = ""
        self.symbols: list[str] = []
        self.advisor: Advisor | None = None
        self.data_kinds: set[str] = set()  # market data kinds the run provides: trades, bars, quotes, book
        self._drive: Driver = drive_sync
        self._instruments: dict[str, Instrument] = {}
        self._own_orders: set[str] = set()  # open orders whose events go to on_order / on_fill
        # without on_order / on_fill no order event is routed to it: nothing to remember
        self.tracks_orders = self.overrides("on_order") or self.overrides("on_fill")

    # --- class-level introspection ------------------------------------------------------------
    @classmethod
    def strategy_name(cls) -> str:
        return cls.name or cls.__name__

    @classmethod
    def param_specs(cls) -> dict[str, Param[Any]]:
        specs: dict[str, Param[Any]] = {}
        for klass in reversed(cls.__mro__):
            for key, val in vars(klass).items():
                if isinstance(val, Param):
                    specs[key] = val
        return specs

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {k: p.default for k, p in cls.param_specs().items()}

    # --- wiring (done by the kernel or the backtest engine) -------------------------------------
    def bind(self, ctx: TradingContext, *, venue: str, symbols: list[str], drive: Driver | None = None,
             data_kinds: set[str] | None = None) -> None:
        if not symbols:
            raise StrategyError(f"{self.id}: no symbols to trade")
        self.ctx = ctx
        self.venue = venue
        self.symbols = list(symbols)
        if data_kinds is not None:
            self.data_kinds = set(data_kinds)
        if drive is not None:
            self._drive = drive

    @property
    def symbol(self) -> str:
        """The first (primary) symbol."""
        return self.symbols[0]

    @property
    def clock(self) -> Clock:
        return self._context.clock

    @property
    def _context(self) -> TradingContext:
        if self.ctx is None:
            raise StrategyError(f"{self.id}: not bound to an engine yet")
        return self.ctx

    def now_ns(self) -> int:
        return self._context.clock.timestamp_ns()

    def subscriptions(self) -> set[str] | None:
        """Market data kinds to receive (trades, quotes, book, bars); None: every kind whose
        handler is overridden. Called after bind, so it may look at `data_kinds`."""
        return None

    def overrides(self, method: str) -> bool:
        """True if this strategy implements the handler (the engine subscribes only those)."""
        return getattr(type(self), method) is not getattr(Strategy, method)

    def dispatcher(self, method: str) -> Callable[[Any], Any]:
        """A synchronous callable for the bus that runs handler `method` to completion."""
        fn = getattr(self, method)
        wanted = self.subscriptions()
        kind = _KIND_OF.get(method)
        if wanted is not None and kind is not None and kind not in wanted:
            return _ignore  # subscribed by a runtime that does not ask subscriptions(): a no-op
        if not inspect.iscoroutinefunction(fn):
            return fn
        drive = self._drive
        if drive is drive_sync:
            # the handler's synchronous twin when it can have one (engine/strategy_sync.py): the
            # same statements run as a plain function, each await run to its end in place, with
            # no coroutine to make and drive per event
            func = getattr(fn, "__func__", None)
            if func is not None and getattr(fn, "__self__", None) is self and getattr(type(self), method, None) is func:
                twin = sync_twin(func)
                if twin is not None:
                    return MethodType(twin, self)
            sid = self.id

            def call(ev: Any, _next: Any = next, _done: Any = _DONE) -> None:
                # drive_sync inlined: this runs once per tick. next(awaitable iterator, default)
                # runs the handler to its end without raising StopIteration (no exception object
                # per tick); anything but the default means it suspended.
                coro = fn(ev)
                try:
                    if _next(coro.__await__(), _done) is _done:
                        return
                except RuntimeError as exc:
                    if "no running event loop" not in str(exc):
                        raise
                    raise StrategyError(f"strategy {sid}: {method} {_NO_LOOP}") from None
                coro.close()
                raise StrategyError(f"strategy {sid}: {method} {_SUSPENDED}")

            return call
        return lambda ev: drive(fn(ev))

    def order_dispatcher(self) -> Callable[[OrderEvent], None]:
        """Routes this strategy's own order events to on_fill / on_order."""
        own = self._own_orders
        on_fill = self.dispatcher("on_fill") if self.overrides("on_fill") else None
        on_order = self.dispatcher("on_order") if self.overrides("on_order") else None

        closing = (OrderCanceled, OrderRejected, OrderExpired)
        closed = self._order_closed

        def route(ev: OrderEvent) -> None:
            coid = ev.client_order_id
            if coid not in own:
                return
            t = type(ev)
            if on_fill is not None and t is OrderFilled:
                on_fill(ev)
            if on_order is not None:
                on_order(ev)
            if t in closing or (t is OrderFilled and closed(coid)):
                own.discard(coid)  # its last event: the set stays as small as the open orders

        return route

    def _order_closed(self, coid: str) -> bool:
        """Whether the OMS holds `coid` as closed (or no longer holds it: denied, or forgotten)."""
        ctx = self.ctx
        lookup = getattr(ctx, "order", None)
        if lookup is None:
            return False
        o = lookup(coid)
        return o is None or o.is_closed

    # --- handlers (override what you need) -----------------------------------------------------
    async def on_start(self) -> None:
        """Called once before the first market event."""

    async def on_stop(self) -> None:
        """Called once after the last market event (or on shutdown)."""

    async def on_tick(self, tick: TradeTick) -> None:
        """A trade on one of the strategy's symbols."""

    async def on_quote(self, quote: QuoteTick) -> None:
        """A best bid/offer change."""

    async def on_book(self, deltas: OrderBookDeltas) -> None:
        """An order book update."""

    async def on_bar(self, bar: Bar) -> None:
        """A closed bar."""

    async def on_order(self, event: OrderEvent) -> None:
        """Any event about one of this strategy's orders (accepted, filled, canceled, ...)."""

    async def on_fill(self, fill: OrderFilled) -> None:
        """A fill of one of this strategy's orders (before on_order sees the same event)."""

    async def on_timer(self, event: TimeEvent) -> None:
        """A timer set with set_timer fired (unless it was given its own callback)."""

    # --- timers ---------------------------------------------------------------------------------
    def set_timer(self, name: str, interval_s: float, callback: Callable[[TimeEvent], Any] | None = None) -> None:
        """Call `callback` (default `on_timer`; sync or async) every `interval_s` of clock time."""
        cb = callback or self.on_timer
        drive = self._drive
        if inspect.iscoroutinefunction(cb):
            def fire(ev: TimeEvent) -> None:
                drive(cb(ev))
        else:
            fire = cb  # type: ignore[assignment]
        self.clock.set_timer(f"{self.id}:{name}", int(interval_s * 1_000_000_000), fire)

    def cancel_timer(self, name: str) -> None:
        self.clock.cancel_timer(f"{self.id}:{name}")

    # --- trading --------------------------------------------------------------------------------
    def instrument(self, symbol: str | None = None) -> Instrument:
        sym = symbol or self.symbols[0]
        inst = self._instruments.get(sym)
        if inst is None:
            inst = self._instruments[sym] = self._context.instrument(self.venue, sym)
        return inst

    def position(self, symbol: str | None = None) -> Decimal:
        """Signed position in base units."""
        ctx = self.ctx  # (self._context, inline: strategies ask this on their hot path)
        if ctx is None:
            ctx = self._context
        return ctx.position_qty(self.venue, symbol or self.symbols[0])

    def is_flat(self, symbol: str | None = None) -> bool:
        ctx = self.ctx
        if ctx is None:
            ctx = self._context
        return not ctx.position_qty(self.venue, symbol or self.symbols[0])

    async def submit(self, side: OrderSide, quantity: Any, symbol: str | None = None, *,
                     order_type: OrderType | None = None, price: Any = None, trigger_price: Any = None,
                     time_in_force: TimeInForce = TimeInForce.GTC, post_only: bool = False,
                     reduce_only: bool = False) -> str:
        """Send an order; returns its client order id. `quantity` and prices may be Decimal,
        str, int or float: they are snapped to the instrument's lot and tick."""
        sym = symbol or self.symbols[0]
        inst = self._instruments.get(sym) or self.instrument(sym)
        qty = quantity if isinstance(quantity, Quantity) else _to_qty(inst, quantity)
        px = price if price is None or isinstance(price, Price) else inst.make_price(price)
        trig = trigger_price if trigger_price is None or isinstance(trigger_price, Price) else inst.make_price(trigger_price)
        if order_type is None:
            order_type = OrderType.MARKET if px is None else OrderType.LIMIT
        ctx = self.ctx
        if ctx is None:
            ctx = self._context  # raises: not bound
        # a context that can run the whole submit without suspending (the kernel's, in a backtest)
        # takes the fields as they are: no command object, no chain of awaits
        now = getattr(ctx, "submit_now", None)
        if now is not None:
            coid = now(self.venue, sym, side, order_type, qty, px, trig, time_in_force, post_only, reduce_only, self.id)
            if coid is not None:
                self._keep_if_open(coid)
                return coid
        # an id up front (when the context hands them out) spares it copying the command
        next_id = getattr(ctx, "next_client_order_id", None)
        cmd = SubmitOrder(self.venue, sym, side, order_type, qty, px, trig, time_in_force, post_only,
                          reduce_only, self.id, next_id() if next_id is not None else None)
        coid = await ctx.submit_order(cmd)
        self._keep_if_open(coid)
        return coid

    def order_id_sink(self) -> Callable[[str], Any] | None:
        """What the context tells a new order id to before the order is sent (see pre_submit)."""
        return self._own_orders.add if self.tracks_orders else None

    def _keep_if_open(self, coid: str) -> None:
        # events that came while it was submitted (a paper fill, a denial) were routed already
        if not self.tracks_orders or self._order_closed(coid):
            self._own_orders.discard(coid)
        else:
            self._own_orders.add(coid)

    async def buy(self, quantity: Any, symbol: str | None = None, price: Any = None, **kw: Any) -> str:
        return await self.submit(OrderSide.BUY, quantity, symbol, price=price, **kw)

    async def sell(self, quantity: Any, symbol: str | None = None, price: Any = None, **kw: Any) -> str:
        return await self.submit(OrderSide.SELL, quantity, symbol, price=price, **kw)

    async def close_position(self, symbol: str | None = None) -> str | None:
        """A reduce-only market order for the whole position; None when flat."""
        sym = symbol or self.symbols[0]
        pos = self.position(sym)
        if not pos:
            return None
        side = OrderSide.SELL if pos > 0 else OrderSide.BUY
        return await self.submit(side, abs(pos), sym, reduce_only=True)

    async def cancel(self, client_order_id: str) -> None:
        await self._context.cancel_order(CancelOrder(client_order_id, self.venue))

    async def cancel_all(self, symbol: str | None = None) -> None:
        await self._context.cancel_all_orders(CancelAllOrders(self.venue, symbol, self.id))

    async def ask_advisor(self, request: Mapping[str, Any]) -> AdvisorReply:
        """The advisor's reply to `request`, or None when none is plugged in or it fails."""
        if self.advisor is None:
            return None
        try:
            reply = self.advisor(request)
            if inspect.isawaitable(reply):
                reply = await reply
        except Exception as exc:  # an advisor never takes a strategy down
            self.log.warning("advisor failed: %r", exc)
            return None
        return reply  # type: ignore[return-value]

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"


def resolve_params(cls: type[Strategy], given: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults overlaid with `given` (strings or typed values), validated against the specs."""
    specs = cls.param_specs()
    where = cls.strategy_name()
    out = {k: p.default for k, p in specs.items()}
    for key, value in given.items():
        spec = specs.get(key)
        if spec is None:
            known = ", ".join(specs) or "none"
            raise StrategyError(f"{where}: unknown parameter {key!r} (parameters: {known})")
        out[key] = spec.parse(value, where)
    validate = getattr(cls, "validate_params", None)
    if validate is not None:
        problem = validate(out)
        if problem:
            raise StrategyError(f"{where}: {problem}")
    return out


_KIND_OF = {"on_tick": "trades", "on_quote": "quotes", "on_book": "book", "on_bar": "bars"}


def _ignore(_ev: Any) -> None:
    return None


def _to_qty(inst: Instrument, value: Any) -> Quantity:
    """make_qty, with a fast path for a Decimal already on the lot (a position being closed)."""
    if isinstance(value, Decimal) and value >= 0:
        p = inst.size_precision
        scaled = value.scaleb(p)
        if scaled == scaled.to_integral_value() and inst.lot_size.raw == 1:
            return Quantity.from_raw(int(scaled), p)
    return inst.make_qty(value)


def drive_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that must not suspend (the backtest path) to completion."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    except RuntimeError as exc:
        name = getattr(coro, "__qualname__", "a coroutine")
        if "no running event loop" not in str(exc):
            raise
        raise StrategyError(f"{name} {_NO_LOOP}") from None
    coro.close()
    raise StrategyError(f"{getattr(coro, '__qualname__', 'a coroutine')} {_SUSPENDED}")


_DONE = object()  # what next() returns when a driven handler ran to its end
_SUSPENDED = "suspended in a backtest: it awaited something that waits (network, sleep, a queue)"
_NO_LOOP = ("suspended in a backtest: it awaited something that needs an event loop (asyncio.sleep, network "
            "I/O); backtests drive handlers without one")

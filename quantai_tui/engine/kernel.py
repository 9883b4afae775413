"""The kernel: the one engine the TUI, headless mode, backtests and the AI all use.

    kernel = Kernel(settings, KernelConfig(mode=TradingMode.PAPER, venues=["sim"], symbols=["BTC/USDT"]))
    await kernel.start()                       # store replayed, venues reconciled, market data flowing
    result = await kernel.execute(SubmitOrder(...))   # or CancelOrder, EngageKillSwitch, ...
    ctx = kernel.context("my_strategy")         # what strategies trade through
    await kernel.stop()

It wires the bus, the store (SQLite EventStore; a MemoryStore for backtests), the cache, the
portfolio, the risk engine, the OMS, the kill switch, reconciliation and the venues: market
data by name through connectors/registry.py, execution by mode — `paper` (and every venue in
paper mode, `sim` always) fills through the paper venue; `live` takes a factory registered with
`register_execution_venue`. Backtests pass mode=BACKTEST, a TestClock and market_data=False,
publish market events on `kernel.bus` themselves, and may run `start`/`execute` with
`run_sync` (nothing on that path suspends).
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from quantai_tui import __version__
from quantai_tui.core.clock import Clock, LiveClock
from quantai_tui.core.commands import (
    CancelAllOrders,
    CancelOrder,
    Command,
    EngageKillSwitch,
    ModifyOrder,
    ReleaseKillSwitch,
    SetTradingState,
    SubmitOrder,
)
from quantai_tui.core.enums import TradingMode, TradingState
from quantai_tui.core.errors import ConfigError, QuantAIError
from quantai_tui.core.events import (
    EngineStarted,
    EngineStopped,
    Event,
    OrderEvent,
    TradingStateChanged,
    VenueConnected,
    VenueDisconnected,
    market_topic,
)
from quantai_tui.core.execution import OrderRequest
from quantai_tui.core.identifiers import ClientOrderIdGenerator
from quantai_tui.core.instruments import Instrument
from quantai_tui.engine.bus import MessageBus
from quantai_tui.engine.cache import Cache
from quantai_tui.engine.context import KernelTradingContext
from quantai_tui.engine.journal import Journal
from quantai_tui.engine.killswitch import KillSwitch
from quantai_tui.engine.oms import OrderManager
from quantai_tui.engine.portfolio import Portfolio
from quantai_tui.engine.ports import EventStorePort, ExecutionClient
from quantai_tui.engine.reconcile import Reconciler
from quantai_tui.engine.risk import RiskEngine
from quantai_tui.engine.tasks import TaskGroup
from quantai_tui.settings.schema import Settings

log = logging.getLogger("quantai.kernel")
PAPER_PRIORITY = 900  # after the cache (1000), before strategies (0)
REPLAY_TYPES = ("OrderSubmitted", "OrderAccepted", "OrderRejected", "OrderCancelRequested", "OrderCanceled",
                "OrderCancelRejected", "OrderExpired", "OrderUpdateRequested", "OrderUpdated", "OrderUpdateRejected",
                "OrderFilled", "OrderStatusUnknown", "BalanceUpdated", "PositionAdjusted", "EquityBaseline",
                "TradingStateChanged")

# live execution venues: name -> "module:function" or a callable
#   create_execution_client(venue, settings: ExchangeSettings, report, clock, credentials, **options)
ExecutionFactory = Callable[..., ExecutionClient]
EXECUTION_FACTORIES: dict[str, str | ExecutionFactory] = {}


def register_execution_venue(venue: str, factory: str | ExecutionFactory) -> None:
    EXECUTION_FACTORIES[venue] = factory


# The native live venues (docs/live-venues.md): module paths, imported on first live use only.
for _venue, _module in (("binance", "binance"), ("binanceusdm", "binance"), ("okx", "okx"), ("bybit", "bybit")):
    register_execution_venue(_venue, f"quantai_tui.connectors.{_module}.execution:create_execution_client")


@dataclass
class KernelConfig:
    mode: TradingMode = TradingMode.PAPER
    venues: list[str] = field(default_factory=lambda: ["sim"])  # the first is the default venue
    symbols: list[str] = field(default_factory=lambda: ["BTC/USDT", "ETH/USDT"])
    profile: str = "default"
    store: str = "auto"  # "sqlite", "memory" or "auto" (memory for backtests)
    store_path: Path | None = None
    instruments: list[Instrument] = field(default_factory=list)  # known up front (backtests)
    initial_balances: dict[str, Decimal] | None = None  # a new paper account (default: [paper] settings)
    fee_bps: Decimal | None = None  # maker and taker fee override (backtest --fee-bps)
    slippage_bps: Decimal | None = None
    latency_ms: float | None = None
    bar_mode: bool = False  # backtests on OHLC bars
    market_data: bool = True  # start market data clients (False: the caller publishes market events)
    reconcile: bool = True
    control_socket: bool = False  # headless and the TUI: `quantai kill` reaches this engine
    cancel_on_stop: bool = False
    client_id_tag: str | None = None  # fixed for deterministic ids (replays)
    sample_equity_s: float = 1.0


@dataclass(frozen=True)
class CommandResult:
    ok: bool
    message: str = ""
    client_order_id: str | None = None
    data: Any = None


class Kernel:
    def __init__(self, settings: Settings | None = None, config: KernelConfig | None = None, *,
                 clock: Clock | None = None, store: EventStorePort | None = None, bus: MessageBus | None = None,
                 market_data: dict[str, Any] | None = None, execution: dict[str, ExecutionClient] | None = None,
                 paths: Any = None) -> None:
        self.settings = settings or Settings()
        self.config = cfg = config or KernelConfig()
        if not cfg.venues:
            raise ConfigError("the kernel needs at least one venue")
        self.mode = cfg.mode
        self.backtest = cfg.mode is TradingMode.BACKTEST
        if paths is None and not self.backtest:
            from quantai_tui.paths import Paths

            paths = Paths(cfg.profile)
        self.paths = paths
        self.clock: Clock = clock or LiveClock()
        self.bus = bus or MessageBus()
        self.store: EventStorePort = store or self._make_store()
        self.journal = Journal(self.store, self.bus)
        self.cache = Cache()
        for inst in cfg.instruments:
            self.cache.add_instrument(inst)
        self.portfolio = Portfolio(self.cache, self.clock, self.journal, currency=self.settings.paper.currency)
        self.portfolio.sample_on_fill = not self.backtest  # a backtest samples equity on its own clock
        self.risk = RiskEngine(self.settings.risk, self.cache, self.portfolio, self.clock, self.journal)
        self.venues: dict[str, ExecutionClient] = {}
        ids = ClientOrderIdGenerator(self.settings.general.client_id_prefix, cfg.client_id_tag)
        self.oms = OrderManager(cache=self.cache, risk=self.risk, portfolio=self.portfolio, journal=self.journal,
                                clock=self.clock, venues=self.venues, ids=ids, sync=self.backtest)
        self.oms.on_venue_event = self._on_venue_event
        self.kill_switch = KillSwitch(oms=self.oms, risk=self.risk, portfolio=self.portfolio, journal=self.journal,
                                      clock=self.clock, settings=self.settings.kill_switch)
        self.reconciler = Reconciler(self.oms, self.portfolio, id_prefix=self.settings.general.client_id_prefix)
        self.market_data: dict[str, Any] = dict(market_data or {})
        self._given_execution = dict(execution or {})
        self.paper_venues: set[str] = set()
        self._paper_fed: set[tuple[str, str]] = set()
        self.strategies: dict[str, Any] = {}
        self.tasks = TaskGroup("kernel")
        self.control: Any = None
        self.started = False
        self.last_reconcile: dict[str, Any] = {}
        self._user_down: set[str] = set()

    @property
    def venue(self) -> str:
        return self.config.venues[0]

    # --- construction helpers -----------------------------------------------------------------------
    def _make_store(self) -> EventStorePort:
        kind = self.config.store
        if kind == "memory" or (kind == "auto" and self.backtest):
            from quantai_tui.store.memory import MemoryStore

            return MemoryStore()
        from quantai_tui.store.sqlite import EventStore

        path = self.config.store_path or self.paths.store_file
        return EventStore(path, synchronous=self.settings.store_synchronous(self.mode.value))

    def _make_market_data(self, venue: str) -> Any:
        if venue == "sim":
            from quantai_tui.connectors.sim import SimMarketDataClient

            s = self.settings.sim
            return SimMarketDataClient(self.bus.publish, self.clock, seed=s.seed, rate=s.rate, depth=s.depth)
        from quantai_tui.connectors.registry import make_market_data_client

        cache_dir = self.paths.markets_cache_dir if self.paths is not None else None
        return make_market_data_client(venue, self.settings.exchange(venue), self.bus.publish, self.clock, cache_dir)

    def _make_execution(self, venue: str) -> ExecutionClient:
        if venue in self._given_execution:
            return self._given_execution[venue]
        if self.mode is not TradingMode.LIVE or venue == "sim":
            return self._make_paper(venue)
        ref = EXECUTION_FACTORIES.get(venue)
        if ref is None:
            raise ConfigError(f"live trading on {venue} is not available (no execution connector registered)")
        factory = ref
        if isinstance(ref, str):
            module, _, name = ref.partition(":")
            factory = getattr(importlib.import_module(module), name)
        from quantai_tui.connectors.credentials import load_credentials

        creds = load_credentials(venue, self.settings.exchange(venue), live=True)
        if creds is None:
            raise ConfigError(f"live trading on {venue} needs API keys: set exchanges.{venue}.api_key_env/"
                              f"api_secret_env or key_file")
        return factory(venue, self.settings.exchange(venue), self.oms.on_report, self.clock, creds)  # type: ignore[operator]

    def _make_paper(self, venue: str) -> ExecutionClient:
        from quantai_tui.connectors.paper import PaperExecutionClient

        p = self.settings.paper
        cfg = self.config
        fee = cfg.fee_bps
        # bound partials rather than lambdas: one Python call less per lookup (the venue asks per order)
        client = PaperExecutionClient(
            venue, self.oms.on_report, self.clock,
            instrument=functools.partial(self.cache.find_instrument, venue),
            book=functools.partial(self.cache.book, venue),
            position=functools.partial(self.portfolio.position_qty, venue),
            latency_ms=p.latency_ms if cfg.latency_ms is None else cfg.latency_ms,
            maker_fee_bps=fee if fee is not None else (None if self.backtest or venue == "sim" else p.maker_fee_bps),
            taker_fee_bps=fee if fee is not None else (None if self.backtest or venue == "sim" else p.taker_fee_bps),
            slippage_bps=p.slippage_bps if cfg.slippage_bps is None else cfg.slippage_bps,
            bar_mode=cfg.bar_mode, track_account=not self.backtest)
        self.paper_venues.add(venue)
        return client

    # --- lifecycle ---------------------------------------------------------------------------------------
    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self._abort()
            raise

    async def _abort(self) -> None:
        """A start that failed half way: undo what was started, leave the store consistent."""
        for part in (*self.market_data.values(), *self.venues.values()):
            try:
                await part.stop()
            except Exception:
                log.debug("stop after a failed start", exc_info=True)
        if self.control is not None:
            await self.control.stop()
        await self.oms.close()
        await self.tasks.close()
        try:
            await self.store.close()
        except Exception:
            log.debug("store close after a failed start", exc_info=True)

    async def _start(self) -> None:
        cfg = self.config
        await self.store.open()
        for venue in cfg.venues:
            if cfg.market_data and venue not in self.market_data:
                self.market_data[venue] = self._make_market_data(venue)
            md = self.market_data.get(venue)
            if md is not None:
                self.cache.add_instruments(await md.load_instruments(), venue)
                if hasattr(md, "book"):
                    self.cache.set_book_source(venue, md.book)
        await self.replay()
        for venue in cfg.venues:
            self.venues[venue] = self._make_execution(venue)
            for sym in cfg.symbols:
                self.watch(venue, sym)
        self._restore_paper()
        for venue, client in self.venues.items():
            await client.start()
        if cfg.reconcile:
            for venue, client in self.venues.items():
                await self.reconcile(venue, client)
        now = self.clock.timestamp_ns()
        self.journal.emit(EngineStarted(cfg.profile, self.mode.value, __version__, ts_event=now, ts_init=now))
        if not self.backtest:
            await self.store.flush()
            for venue, md in self.market_data.items():
                for sym in cfg.symbols:
                    await md.subscribe(sym)
                await md.start()
            if cfg.sample_equity_s > 0:
                self.clock.set_timer("kernel:equity", int(cfg.sample_equity_s * 1e9),
                                     lambda _e: self.portfolio.sample_equity())
            if cfg.control_socket and self.paths is not None:
                from quantai_tui.engine.control import ControlServer

                self.control = ControlServer(self.paths.control_socket, self.paths.pid_file, self._control)
                await self.control.start()
        self.started = True
        log.info("engine started: %s mode, venues %s, state %s", self.mode.value, ", ".join(cfg.venues),
                 self.risk.state.value)

    async def replay(self) -> int:
        """Rebuild orders, balances, positions and the trading state from the store."""
        self.journal.replaying = True
        n = 0
        state: TradingState | None = None
        try:
            async for _, ev in self.store.replay(0, REPLAY_TYPES):
                n += 1
                if isinstance(ev, OrderEvent):
                    self.oms.replay(ev)
                elif isinstance(ev, TradingStateChanged):
                    state = ev.state
                else:
                    self.portfolio.replay(ev)
        finally:
            self.journal.replaying = False
        if state is not None:
            self.risk.restore_state(state)
        if n:
            log.info("rebuilt from %d stored events: %d open orders, state %s", n, self.oms.open_count,
                     self.risk.state.value)
        return n

    def _restore_paper(self) -> None:
        p = self.settings.paper
        for venue in self.paper_venues:
            client: Any = self.venues[venue]
            bals = self.portfolio.balances(venue).get(venue, {})
            if not bals and not self.portfolio.positions(venue):
                opening = self.config.initial_balances or {p.currency: p.initial_balance}
                for asset, amount in opening.items():
                    self.portfolio.set_balance(venue, asset, Decimal(amount))
                bals = self.portfolio.balances(venue).get(venue, {})
            orders = [(OrderRequest(o.client_order_id, o.venue, o.symbol, o.side, o.order_type, o.quantity, o.price,
                                    o.trigger_price, o.time_in_force, o.post_only, o.reduce_only),
                       o.filled_qty, o.venue_order_id) for o in self.oms.open_orders(venue)]
            client.restore(bals, self.portfolio.positions(venue), orders)

    def watch(self, venue: str, symbol: str) -> None:
        """Keep market state for a symbol and feed its market to the venue's paper matcher."""
        self.cache.subscribe(self.bus, venue, symbol)
        client = self.venues.get(venue)
        if client is not None and venue in self.paper_venues:
            key = (venue, symbol)
            if key not in self._paper_fed:  # one subscription per symbol
                self._paper_fed.add(key)
                for kind, handler in client.market_handlers(symbol).items():  # type: ignore[attr-defined]
                    self.bus.subscribe(market_topic(kind, venue, symbol), handler, priority=PAPER_PRIORITY,
                                       name=f"paper:{venue}:{symbol}:{kind}")

    async def reconcile(self, venue: str, client: ExecutionClient | None = None) -> bool:
        client = client or self.venues[venue]
        res = await self.reconciler.reconcile(venue, client)
        self.last_reconcile[venue] = res
        if not res.ok and self.risk.state is not TradingState.HALTED:
            await self.kill_switch.engage(f"reconciliation with {venue} failed: {res.summary()[:300]}", "reconcile")
        return res.ok

    def _on_venue_event(self, ev: Event) -> None:
        """A private stream came back: reconcile that venue (fills may have been missed)."""
        if isinstance(ev, VenueDisconnected) and ev.stream == "user":
            self._user_down.add(ev.venue)
        elif isinstance(ev, VenueConnected) and ev.stream == "user" and ev.venue in self._user_down:
            self._user_down.discard(ev.venue)
            if self.started and ev.venue in self.venues:
                self.tasks.spawn(self.reconcile(ev.venue), f"reconcile:{ev.venue}")

    async def stop(self, reason: str = "stopped", cancel_open: bool | None = None) -> None:
        if not self.started:
            return
        self.started = False
        for sid in list(self.strategies):
            await self.stop_strategy(sid)
        if (self.config.cancel_on_stop if cancel_open is None else cancel_open) and self.oms.open_count:
            await self.oms.cancel_all()
            if not self.backtest and not await self.oms.wait_no_open_orders(timeout=5.0):
                log.warning("%d order(s) still open at stop: the next start reconciles them", self.oms.open_count)
        self.clock.cancel_timer("kernel:equity")
        if self.control is not None:
            await self.control.stop()
        # Background work (a reconciliation in flight) ends before its venues close: otherwise it
        # fails on a closed venue and a normal shutdown would leave the engine HALTED.
        await self.tasks.close()
        for md in self.market_data.values():
            try:
                await md.stop()
            except Exception:
                log.exception("market data stop failed")
        for client in self.venues.values():
            try:
                await client.stop()
            except Exception:
                log.exception("venue stop failed")
        await self.oms.close()
        await self.kill_switch.close()
        await self.tasks.close()  # anything the venues' shutdown started
        now = self.clock.timestamp_ns()
        self.journal.emit(EngineStopped(reason, ts_event=now, ts_init=now))
        await self.store.flush()
        await self.store.close()

    # --- commands -------------------------------------------------------------------------------------
    async def execute(self, command: Command) -> CommandResult:
        """Run a command from the UI, the CLI, the AI or a script."""
        try:
            return await self._execute(command)
        except QuantAIError as exc:
            return CommandResult(False, str(exc))

    async def _execute(self, c: Command) -> CommandResult:
        if isinstance(c, SubmitOrder):
            order = await self.oms.submit(c)
            if order is None:
                d = self.oms.denials[-1] if self.oms.denials else None
                return CommandResult(False, f"denied by {d.check}: {d.reason}" if d else "denied",
                                     d.client_order_id if d else None)
            return CommandResult(True, order.status.value, order.client_order_id, order)
        if isinstance(c, CancelOrder):
            ok = await self.oms.cancel(c.client_order_id)
            return CommandResult(ok, "cancel requested" if ok else "not an open order", c.client_order_id)
        if isinstance(c, CancelAllOrders):
            n = await self.oms.cancel_all(c.venue, c.symbol, c.strategy_id)
            return CommandResult(True, f"{n} order(s) to cancel", data=n)
        if isinstance(c, ModifyOrder):
            before = len(self.oms.denials) and self.oms.denials[-1]
            ok = await self.oms.modify(c)
            msg = "amend requested"
            if not ok:
                d = self.oms.denials[-1] if self.oms.denials else None
                if d is not None and d is not before:
                    msg = f"denied by {d.check}: {d.reason}"
                elif self.oms.amend_refusal:
                    msg = f"refused by the venue: {self.oms.amend_refusal}"
                else:
                    msg = "not an open order"
            return CommandResult(ok, msg, c.client_order_id)
        if isinstance(c, EngageKillSwitch):
            report = await self.kill_switch.engage(c.reason, c.source, c.flatten)
            return CommandResult(True, "kill switch engaged", data=report)
        if isinstance(c, ReleaseKillSwitch):
            ok = await self.kill_switch.release(c.reason, c.source)
            return CommandResult(ok, "kill switch released" if ok else "the kill switch was not engaged")
        if isinstance(c, SetTradingState):
            if self.risk.state is TradingState.HALTED and c.state is not TradingState.HALTED:
                return CommandResult(False, "trading is HALTED by the kill switch: release it first")
            if c.state is TradingState.HALTED:
                report = await self.kill_switch.engage(c.reason, c.source)
                return CommandResult(True, "kill switch engaged", data=report)
            ev = self.risk.state_event(c.state, f"{c.source}: {c.reason}")
            if ev is not None:
                await self.journal.emit_durable(ev)
            return CommandResult(True, f"trading state {c.state.value}")
        return CommandResult(False, f"unknown command {type(c).__name__}")

    async def _control(self, req: dict[str, Any]) -> dict[str, Any]:
        cmd = req.get("cmd")
        source = str(req.get("source") or "control")
        reason = str(req.get("reason") or "control socket")
        if cmd == "kill":
            res = await self.execute(EngageKillSwitch(reason, source, req.get("flatten")))
            return {"ok": res.ok, "state": self.risk.state.value, "report": res.data.as_dict() if res.data else None}
        if cmd == "release":
            res = await self.execute(ReleaseKillSwitch(reason, source))
            return {"ok": res.ok, "state": self.risk.state.value, "message": res.message}
        if cmd == "status":
            import os

            return {"ok": True, "state": self.risk.state.value, "pid": os.getpid(), "mode": self.mode.value,
                    "open_orders": self.oms.open_count, "venues": sorted(self.venues)}
        return {"ok": False, "error": f"unknown command {cmd!r}"}

    # --- strategies ---------------------------------------------------------------------------------
    def context(self, strategy_id: str = "manual", venue: str | None = None) -> KernelTradingContext:
        return KernelTradingContext(oms=self.oms, portfolio=self.portfolio, cache=self.cache, clock=self.clock,
                                    strategy_id=strategy_id, default_venue=venue or self.venue)

    async def add_strategy(self, strategy: Any, *, venue: str | None = None, symbols: list[str] | None = None,
                           start: bool = True) -> str:
        """Bind a Strategy (engine/strategy.py), subscribe its handlers and run on_start."""
        from quantai_tui.engine.strategy_runtime import attach_strategy

        return await attach_strategy(self, strategy, venue or self.venue, symbols or list(self.config.symbols), start)

    async def stop_strategy(self, strategy_id: str) -> None:
        from quantai_tui.engine.strategy_runtime import detach_strategy

        await detach_strategy(self, strategy_id)

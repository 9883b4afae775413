"""What the TUI face is wired to: the kernel for the main screen, a replay kernel for the
replay screen, and the sim market as a named data source for backtests.

This lives beside the CLI command, not in tui/: it may import the kernel's venues and the
connectors, which the TUI package itself never does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from quantai_tui.core.enums import TradingMode
from quantai_tui.core.events import Event, market_topic
from quantai_tui.paths import Paths
from quantai_tui.settings.schema import Settings
from quantai_tui.tui.kernel_adapter import KernelFacade

log = logging.getLogger("quantai.tui")
SIM_REPLAY = "sim market (seeded, endless)"
SIM_BACKTEST = "sim BTC/USDT · 1 day"


def build_engine(settings: Settings, paths: Paths, exchange: str, symbols: list[str], mode: TradingMode) -> KernelFacade:
    from quantai_tui.engine.kernel import Kernel, KernelConfig

    config = KernelConfig(mode=mode, venues=[exchange], symbols=symbols, profile=paths.profile, control_socket=True)
    kernel = Kernel(settings, config, paths=paths)
    account = settings.exchange(exchange).account
    # the engine on its own loop and thread: a slow screen update never delays it
    return KernelFacade(kernel, account or ("paper" if mode is not TradingMode.LIVE else exchange), threaded=True)


def sim_backtest_data(settings: Settings, events: int = 90_000) -> Any:
    """About a day of the seeded sim market as a Recording (one message a second)."""
    from quantai_tui.backtest.api import Recording
    from quantai_tui.connectors.sim import SimMarket, sim_instruments

    market = SimMarket(settings.sim.seed, ["BTC/USDT"], rate=1.0)
    return Recording(events=market.generate(events), instruments={"BTC/USDT": sim_instruments()["BTC/USDT"]},
                     venue="sim", timeframe="1m")


class ReplayFacade(KernelFacade):
    """A paper kernel fed from a recording (or the endless sim market) at 1×, 10× or full speed."""

    def __init__(self, kernel: Any, events: Callable[[], Iterator[Event]], speed: float,
                 strategy: Any = None) -> None:
        super().__init__(kernel, "replay", threaded=True)
        self._events = events
        self.speed = speed
        self.strategy = strategy
        self._task: asyncio.Task[None] | None = None
        self.published = 0

    async def start(self) -> None:
        await self.call(self._start())

    async def _start(self) -> None:  # on the engine's loop
        await self.kernel.start()
        if self.strategy is not None:
            await self.kernel.add_strategy(self.strategy)
        self._task = asyncio.get_running_loop().create_task(self._feed(), name="replay-feed")

    async def stop(self) -> None:
        await self.call(self._stop())
        if self.thread is not None:
            await asyncio.to_thread(self.thread.stop)

    async def _stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self.kernel.stop("replay stopped")

    async def _feed(self) -> None:
        loop = asyncio.get_running_loop()
        publish = self.bus.publish
        wall0 = loop.time()
        t0: int | None = None
        try:
            for ev in self._events():
                if t0 is None:
                    t0 = ev.ts_event
                if self.speed > 0:
                    delay = (ev.ts_event - t0) / 1e9 / self.speed - (loop.time() - wall0)
                    if delay > 0.002:
                        await asyncio.sleep(delay)
                elif self.published % 256 == 0:
                    await asyncio.sleep(0)  # full speed, but the UI keeps its turn
                publish(market_topic(ev.TOPIC, ev.venue, ev.symbol), ev)  # type: ignore[attr-defined]
                self.published += 1
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the replay feed failed")
        log.info("replay finished: %d events", self.published)


def replay_choices(paths: Paths) -> list[str]:
    """The endless sim market, then every recording (newest first)."""
    files = sorted(paths.recordings_dir.rglob("*.parquet"), key=lambda p: p.stat().st_mtime, reverse=True) \
        if paths.recordings_dir.is_dir() else []
    return [SIM_REPLAY, *(str(f) for f in files)]


def replay_factory(settings: Settings, paths: Paths) -> Callable[[Any], KernelFacade]:
    def make(req: Any) -> KernelFacade:
        from quantai_tui.engine.kernel import Kernel, KernelConfig

        if req.data == SIM_REPLAY:
            from quantai_tui.connectors.sim import SimMarket, sim_instruments

            symbols = list(settings.general.symbols[:2]) or ["BTC/USDT"]
            insts = [sim_instruments()[s] for s in symbols if s in sim_instruments()]
            venue = "sim"

            def events() -> Iterator[Event]:
                for _topic, ev in SimMarket(settings.sim.seed, symbols, rate=settings.sim.rate):
                    yield ev
        else:
            from quantai_tui.backtest.api import infer_instrument
            from quantai_tui.backtest.sources import open_source
            from quantai_tui.data.reader import replay

            path = Path(req.data)
            src = open_source(path)
            symbols, venue, insts = [src.symbol], src.venue, [infer_instrument(src)]

            def events() -> Iterator[Event]:
                yield from replay([path])

        config = KernelConfig(mode=TradingMode.PAPER, venues=[venue], symbols=symbols, store="memory",
                              market_data=False, reconcile=False, instruments=insts, profile=paths.profile,
                              initial_balances={settings.paper.currency: Decimal(settings.paper.initial_balance)})
        kernel = Kernel(settings, config, paths=paths)
        strategy = None
        if req.strategy:
            from quantai_tui.engine.strategy_loader import load_strategy

            strategy = load_strategy(req.strategy)(req.params or {})
        return ReplayFacade(kernel, events, req.speed, strategy)

    return make

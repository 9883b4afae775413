"""Headless mode (`quantai headless`, alias `quantai live`): the kernel without a screen.

    quantai headless --exchange sim --symbol BTC/USDT --strategy ma_crossover \
        --param fast=10 --param slow=50 --mode paper --duration 8h --metrics-port 9464 | jq .

stdout carries only events, one JSON object per line, each printed after its store COMMIT
(a commit listener on the EventStore), so a line on stdout is never something a crash could
still lose:
    {"seq": 42, "type": "OrderFilled", "ts": "2026-11-26T12:00:01.123456Z",
     "ts_event": 1795..., "ts_init": 1795..., "payload": {...}}
Market data (ticks, books, bars) are not domain events and are never printed. Logs go to
stderr and the log file. A writer thread does the printing (headless_io.py), so a slow reader
of stdout never stalls the engine; `--from-seq N` first prints stored events from seq N, so a
consumer that remembers the last seq it read misses nothing across restarts.

Signals: SIGTERM, SIGINT and SIGHUP stop gracefully (strategies stopped, open orders canceled
if headless.cancel_on_exit, EngineStopped printed, the store flushed); a second one exits at
once. SIGUSR1 engages the kill switch, as `quantai kill` does over the control socket.
Exit codes: 0 stopped as asked (signal, --duration, stdout closed); 1 refused to start (bad
strategy, parameter, symbol, config or key, another engine running: one line on stderr); 2 bad
command line; 4 failed while running (store write failure); 5 could not start (the venue or the
store could not be opened: worth retrying).
A restart after a crash rebuilds state from the store and reconciles with the venue (the
kernel does both); what reconciliation found is a ReconciliationCompleted line, and a summary
goes to stderr.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from quantai_tui.headless_io import EngineLock, JsonLinePrinter, last_stored_event, setup_logging

if TYPE_CHECKING:
    from quantai_tui.engine.kernel import Kernel
    from quantai_tui.engine.strategy import Strategy
    from quantai_tui.headless_metrics import HeadlessMetrics
    from quantai_tui.paths import Paths
    from quantai_tui.settings.schema import Settings

log = logging.getLogger("quantai.headless")

EXIT_OK = 0
EXIT_RUNTIME_FAILURE = 4
EXIT_START_FAILED = 5
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


@dataclass
class HeadlessOptions:
    exchange: str = "sim"
    symbols: list[str] = field(default_factory=lambda: ["BTC/USDT"])
    strategy: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    mode: str = "paper"  # live only when asked for on the command line
    duration_s: float | None = None
    metrics_port: int = 0
    cancel_on_exit: bool = True
    from_seq: int | None = None
    status_interval_s: float = 60.0


# --- checks before anything starts --------------------------------------------------------------------
def load_strategy_instance(spec: str, params: dict[str, str], paths: Paths) -> Strategy:
    from quantai_tui.engine.strategy_loader import load_strategy

    cls = load_strategy(spec, [paths.data_dir / "strategies"])
    return cls(params)


def check_live(exchange: str, settings: Settings) -> None:
    """Live trading needs a real venue, a configured key and an execution connector."""
    from quantai_tui.connectors.credentials import load_credentials
    from quantai_tui.core.errors import ConfigError
    from quantai_tui.engine.kernel import EXECUTION_FACTORIES

    if exchange == "sim":
        raise ConfigError("--mode live needs a real exchange: sim is simulated (use --mode paper)")
    creds = load_credentials(exchange, settings.exchange(exchange), live=True)
    if creds is None:
        raise ConfigError(f"--mode live on {exchange} needs an API key: set exchanges.{exchange}.api_key_env and "
                          f"api_secret_env (or key_file) in the config")
    if exchange not in EXECUTION_FACTORIES:
        raise ConfigError(f"live trading on {exchange} is not available (no execution connector registered)")


def check_symbols(exchange: str, symbols: list[str]) -> list[str]:
    from quantai_tui.core.symbols import normalize_symbol

    out = [normalize_symbol(s) for s in symbols]
    if exchange == "sim":
        from quantai_tui.connectors.sim import sim_spec

        out = [sim_spec(s).symbol for s in out]
    return list(dict.fromkeys(out))


# --- the run -------------------------------------------------------------------------------------
class Headless:
    def __init__(self, opts: HeadlessOptions, settings: Settings, paths: Paths, strategy: Strategy | None,
                 out: BinaryIO | None = None) -> None:
        from quantai_tui.engine.tasks import TaskGroup

        self.opts = opts
        self.settings = settings
        self.paths = paths
        self.strategy = strategy
        self.out = out if out is not None else sys.stdout.buffer
        self.tasks = TaskGroup("headless")
        self.kernel: Kernel | None = None
        self.metrics: HeadlessMetrics | None = None
        self.printer: JsonLinePrinter | None = None
        self.stop_reason = ""
        self.exit_code = EXIT_OK
        self._stop: asyncio.Event | None = None
        self._kill_pending = False
        self._signals = 0
        self._timer: asyncio.TimerHandle | None = None
        self._advisor: Any = None  # the LLMAdvisor headless attached (closed at shutdown)

    # --- stopping and signals ------------------------------------------------------------------
    def request_stop(self, reason: str, code: int = EXIT_OK) -> None:
        if self._stop is None or self._stop.is_set():
            return
        self.stop_reason = reason
        self.exit_code = code
        log.info("stopping: %s", reason)
        self._stop.set()

    def _on_stop_signal(self, sig: signal.Signals) -> None:
        self._signals += 1
        if self._signals > 1:
            log.warning("second %s: exiting now (every printed event is already durable)", sig.name)
            os._exit(128 + int(sig))
        self.request_stop(sig.name)

    def _on_sigusr1(self) -> None:
        k = self.kernel
        if k is None or not k.started:
            self._kill_pending = True  # engaged as soon as the engine is up
            log.warning("SIGUSR1 before the engine started: the kill switch engages once it is up")
            return
        self.tasks.spawn(self._engage("SIGUSR1"), "sigusr1-kill")

    async def _engage(self, reason: str) -> None:
        from quantai_tui.core.commands import EngageKillSwitch

        assert self.kernel is not None
        res = await self.kernel.execute(EngageKillSwitch(reason, "signal"))
        if not res.ok:
            log.error("kill switch: %s", res.message)

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, self._on_stop_signal, sig)
        loop.add_signal_handler(signal.SIGUSR1, self._on_sigusr1)

    def _remove_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in (*STOP_SIGNALS, signal.SIGUSR1):
            loop.remove_signal_handler(sig)

    # --- main ------------------------------------------------------------------------------------
    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._install_signals(loop)
        lock = EngineLock(self.paths)
        try:
            lock.acquire()
            return await self._run()
        finally:
            lock.release()
            self._remove_signals(loop)

    async def _run(self) -> int:
        from quantai_tui.core.enums import TradingMode
        from quantai_tui.engine.kernel import Kernel, KernelConfig

        opts = self.opts
        previous = await asyncio.to_thread(last_stored_event, self.paths.store_file)
        if opts.metrics_port:
            from quantai_tui.headless_metrics import HeadlessMetrics

            self.metrics = HeadlessMetrics()
            self.metrics.serve(opts.metrics_port)  # a taken port fails here, before the store is touched
        mode = TradingMode.LIVE if opts.mode == "live" else TradingMode.PAPER
        config = KernelConfig(mode=mode, venues=[opts.exchange], symbols=list(opts.symbols),
                              profile=self.paths.profile, control_socket=True, cancel_on_stop=opts.cancel_on_exit)
        self.kernel = kernel = Kernel(self.settings, config, paths=self.paths)
        loop = asyncio.get_running_loop()

        def stdout_closed() -> None:  # from the writer thread
            try:
                loop.call_soon_threadsafe(self.request_stop, "stdout closed")
            except RuntimeError:
                pass  # the loop is already gone: we are exiting anyway

        self.printer = printer = JsonLinePrinter(self.out, stdout_closed)
        printer.start()
        if opts.from_seq is not None:
            printer.hold()
        kernel.store.add_commit_listener(printer)  # type: ignore[attr-defined]
        if self.metrics is not None:
            self.metrics.attach(kernel)
        if previous is not None:
            seq, kind = previous
            if kind == "EngineStopped":
                log.info("resuming after a clean stop (store at seq %d)", seq)
            else:
                log.warning("the previous run did not stop cleanly (last stored event: seq %d %s): rebuilding "
                            "from the store and reconciling", seq, kind)
        try:
            if not await self._start(kernel):
                log.info("stopped before the engine was up: %s", self.stop_reason)
                await self._shutdown(self.stop_reason)
                return self.exit_code
            if opts.from_seq is not None:
                n = await printer.catch_up(kernel.store, opts.from_seq)
                log.info("printed %d stored event(s) from seq %d", n, opts.from_seq)
            self._report_restart(kernel, previous)
            if self.strategy is not None:
                await self._attach_advisor(self.strategy)
                await kernel.add_strategy(self.strategy, venue=opts.exchange, symbols=list(opts.symbols))
            else:
                log.warning("no --strategy: the engine runs without one (market data, risk, kill switch)")
        except Exception as exc:
            log.error("could not start: %s", _one_line(exc), exc_info=True)
            await self._shutdown("start failed")
            return EXIT_START_FAILED
        from quantai_tui.engine.control import install_kill_signal

        install_kill_signal(lambda: self._engage("SIGUSR1"), self.tasks)
        if self._kill_pending:
            self.tasks.spawn(self._engage("SIGUSR1"), "sigusr1-kill")
        if self.metrics is not None:
            self.tasks.spawn(self.metrics.lag.run(), "loop-lag")
        self.tasks.spawn(self._monitor(), "monitor")
        if opts.duration_s is not None:
            self._timer = loop.call_later(opts.duration_s, self.request_stop,
                                          f"--duration {_fmt_s(opts.duration_s)} elapsed")
        log.info("headless engine running: %s %s on %s %s (pid %d; `quantai kill` or SIGUSR1 engages the kill switch)",
                 opts.strategy or "no strategy", mode.value, opts.exchange, ",".join(opts.symbols), os.getpid())
        assert self._stop is not None
        await self._stop.wait()
        await self._shutdown(self.stop_reason)
        return self.exit_code

    async def _start(self, kernel: Kernel) -> bool:
        """kernel.start(), unless a stop signal comes first (a venue may take long to answer)."""
        assert self._stop is not None
        start = asyncio.ensure_future(kernel.start())
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({start, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if start.done():
            start.result()  # raises what start raised
            return True
        start.cancel()
        try:
            await start
        except (asyncio.CancelledError, Exception):
            pass
        return False

    async def _attach_advisor(self, strategy: Strategy) -> None:
        """A strategy that asks for advice (ai_guided) gets the configured model, as in the TUI;
        with no model it runs on its offline rule. The AI layer is imported only for such a one."""
        if not (getattr(strategy, "uses_advisor", False) or type(strategy).strategy_name() == "ai_guided"):
            return
        from quantai_tui.ai.advisor import attach_advisor

        if not attach_advisor(strategy, self.settings):
            return
        self._advisor = strategy.advisor
        # openai takes 1-2 s to import: here, in a thread, not on the engine loop at the first advice
        await asyncio.to_thread(_import_quietly, "openai")
        log.info("%s asks the model %s for advice (any failure: its offline rule)", strategy.id,
                 self.settings.llm.model)

    def _report_restart(self, kernel: Kernel, previous: tuple[int, str] | None) -> None:
        positions = [f"{p.symbol} {p.qty:+}" for p in kernel.portfolio.positions()]
        state = kernel.risk.state.value
        recon = "; ".join(f"{v}: {r.summary()}" for v, r in kernel.last_reconcile.items())
        if previous is not None:
            log.info("rebuilt from the store: %d order(s) open, positions: %s, trading state %s",
                     kernel.oms.open_count, ", ".join(positions) or "none", state)
        log.info("reconciliation: %s", recon or "not run")
        if state == "HALTED":
            log.warning("trading is HALTED (kill switch): release it with `quantai kill --release`")

    async def _monitor(self) -> None:
        """Once a second: metrics, store health; a status line every status_interval_s."""
        assert self.kernel is not None and self.printer is not None
        kernel, printer = self.kernel, self.printer
        store: Any = kernel.store
        elapsed = 0.0
        while True:
            await asyncio.sleep(1.0)
            elapsed += 1.0
            if self.metrics is not None:
                self.metrics.refresh(kernel, printed=printer.written, backlog=printer.backlog)
            if getattr(store, "write_errors", 0):
                log.critical("the event store failed to write %d event(s): stopping", store.write_errors)
                self.request_stop("event store write failure", EXIT_RUNTIME_FAILURE)
                return
            every = self.opts.status_interval_s
            if every > 0 and elapsed >= every:
                elapsed = 0.0
                pf = kernel.portfolio
                log.info("status: %s, equity %.2f %s, %d position(s), %d open order(s), seq %d, %d line(s) printed%s",
                         kernel.risk.state.value, pf.equity(), pf.currency, len(pf.positions()),
                         kernel.oms.open_count, getattr(store, "committed_seq", 0), printer.written,
                         f", {printer.backlog} waiting for the reader" if printer.backlog else "")

    async def _shutdown(self, reason: str) -> None:
        kernel = self.kernel
        asyncio.get_running_loop().add_signal_handler(
            signal.SIGUSR1, lambda: log.warning("SIGUSR1 ignored: the engine is stopping"))
        if self._timer is not None:
            self._timer.cancel()
        await self.tasks.close()
        if kernel is not None:
            try:
                if kernel.started:
                    await _quiesce(kernel)
                    await kernel.stop(reason, cancel_open=self.opts.cancel_on_exit)
                else:
                    await _close_partial(kernel)
            except Exception as exc:
                log.error("shutdown failed: %s", _one_line(exc), exc_info=True)
                self.exit_code = self.exit_code or EXIT_RUNTIME_FAILURE
                store: Any = kernel.store
                if getattr(store, "is_open", False):
                    await store.close()
        if self._advisor is not None:
            from quantai_tui.ai.advisor import close_advisor

            await close_advisor(self._advisor, self.strategy.id if self.strategy else "headless")
        if self.printer is not None:
            await asyncio.to_thread(self.printer.close)
        if self.metrics is not None:
            self.metrics.close()
        log.info("stopped (%s)", reason)


async def _quiesce(kernel: Kernel, timeout_s: float = 10.0) -> None:
    """Stop the strategies and let the orders they already sent on their way reach the venue
    (a venue's rate limiter may hold some): canceled half-way, they would stay pending in the
    store until the next start's reconciliation, and cancel-on-exit would miss them."""
    for sid in list(kernel.strategies):
        await kernel.stop_strategy(sid)
    pending = [t for name, t in kernel.tasks.tasks.items() if name.startswith("strategy:") and not t.done()]
    if pending:
        log.info("waiting for %d order submission(s) in flight", len(pending))
        _done, late = await asyncio.wait(pending, timeout=timeout_s)
        if late:
            log.warning("%d order submission(s) still in flight after %.0f s", len(late), timeout_s)


async def _close_partial(kernel: Kernel) -> None:
    """What a start that failed or was interrupted may have opened."""
    steps: list[Any] = [md.stop for md in kernel.market_data.values()]
    steps += [c.stop for c in kernel.venues.values()]
    if kernel.control is not None:
        steps.append(kernel.control.stop)
    steps.append(kernel.store.close)
    for step in steps:
        try:
            await step()
        except Exception:
            log.debug("cleanup step failed", exc_info=True)


def _import_quietly(name: str) -> None:
    import importlib

    try:
        importlib.import_module(name)
    except ImportError:
        pass  # the first request says so, as a one-line error


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _fmt_s(s: float) -> str:
    return f"{s:g}s" if s < 120 else f"{s / 60:g}m"


def run(opts: HeadlessOptions, settings: Settings, paths: Paths) -> int:
    """Validate, then run until stopped; returns the exit code. Raises QuantAIError (one line)
    for a bad strategy, parameter, symbol or configuration, before anything starts."""
    opts.symbols = check_symbols(opts.exchange, opts.symbols)
    strategy = load_strategy_instance(opts.strategy, opts.params, paths) if opts.strategy else None
    if opts.mode == "live":
        check_live(opts.exchange, settings)
    setup_logging(settings.general.log_level, paths.log_file)
    if opts.mode == "live":
        acct = settings.exchange(opts.exchange).account
        log.warning("LIVE trading on %s%s: real orders, real money", opts.exchange, f" (account {acct})" if acct else "")
    return asyncio.run(Headless(opts, settings, paths, strategy).run())

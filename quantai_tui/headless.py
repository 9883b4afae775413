"""Headless mode (`quantai headless`, alias `quantai live`): the kernel without a screen.

    quantai headless --exchange sim --symbol BTC/USDT --strategy ma_crossover \
        --param fast=10 --param slow=50 --mode paper --duration 8h --metrics-port 9464 | jq .

stdout carries only events, one JSON object per line, each printed after its store COMMIT
(a commit listener on the EventStore), so a line on stdout is never something a crash could
still lose:
    {"seq": 42, "type": "OrderFilled", "ts": "2026-11-26T12:00:01.123456Z",
     "ts_event": 1795..., "ts_init": 1795..., "payload": {...}}
Market data (ticks, books, bars) are not domain events and are never printed. Logs go to
stderr and the log file. A writer thread does the printing, so a slow reader of stdout never
stalls the engine; `--from-seq N` first prints stored events from seq N, so a consumer that
remembers the last seq it read misses nothing across restarts.

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
import queue
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from quantai_tui.core.events import Event
    from quantai_tui.engine.kernel import Kernel
    from quantai_tui.engine.strategy import Strategy
    from quantai_tui.headless_metrics import HeadlessMetrics
    from quantai_tui.paths import Paths
    from quantai_tui.settings.schema import Settings

log = logging.getLogger("quantai.headless")

EXIT_OK = 0
EXIT_RUNTIME_FAILURE = 4
EXIT_START_FAILED = 5
MARKET_TYPES = frozenset({"TradeTick", "QuoteTick", "OrderBookDeltas", "Bar"})
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


# --- stdout ----------------------------------------------------------------------------------------
class JsonLinePrinter:
    """A store commit listener: every durable event becomes one JSON line on `out`, written by a
    thread (the engine never waits for the reader). `hold()` buffers while stored events are
    caught up (`--from-seq`), so lines stay in seq order."""

    def __init__(self, out: BinaryIO, on_broken: Callable[[], None] | None = None) -> None:
        self.out = out
        self.on_broken = on_broken
        self._q: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write_loop, name="stdout-writer", daemon=True)
        self._held: list[tuple[int, bytes]] | None = None
        self.enqueued = 0
        self.written = 0
        self.first_seq: int | None = None
        self.last_seq = 0
        self.broken = False

    @staticmethod
    def encode(batch: list[tuple[int, Event]]) -> tuple[bytes, int]:
        import orjson

        from quantai_tui.store.codecs import to_record

        lines = [orjson.dumps(to_record(seq, ev)) for seq, ev in batch if type(ev).__name__ not in MARKET_TYPES]
        return b"".join(line + b"\n" for line in lines), len(lines)

    def __call__(self, batch: list[tuple[int, Event]]) -> None:
        if not batch:
            return
        if self.first_seq is None:
            self.first_seq = batch[0][0]
        self.last_seq = batch[-1][0]
        data, n = self.encode(batch)
        if self._held is not None:
            self._held.append((batch[0][0], data))
            self.enqueued += n
        elif n:
            self._put(data, n)

    def _put(self, data: bytes, n: int) -> None:
        if not self.broken:
            self.enqueued += n
            self._q.put(data)

    def start(self) -> None:
        self._thread.start()

    def hold(self) -> None:
        self._held = []

    async def catch_up(self, store: Any, from_seq: int) -> int:
        """Print stored events from `from_seq` up to the first one this run printed; then go live."""
        held = self._held or []
        cutoff = held[0][0] if held else store.committed_seq + 1
        n = 0
        batch: list[tuple[int, Event]] = []
        async for seq, ev in store.replay(from_seq):
            if seq >= cutoff:
                break
            batch.append((seq, ev))
            if len(batch) >= 1000:
                n += self._flush_catchup(batch)
        n += self._flush_catchup(batch)
        for _, data in self._held or []:
            self._q.put(data)  # counted in enqueued when held
        self._held = None
        return n

    def _flush_catchup(self, batch: list[tuple[int, Event]]) -> int:
        data, n = self.encode(batch)
        batch.clear()
        if n:
            self._put(data, n)
        return n

    def _write_loop(self) -> None:
        while True:
            data = self._q.get()
            if data is None:
                return
            if self.broken:
                continue
            try:
                self.out.write(data)
                self.out.flush()
                self.written += data.count(b"\n")
            except (BrokenPipeError, ValueError, OSError):
                self.broken = True
                _silence_stdout()
                if self.on_broken is not None:
                    self.on_broken()

    @property
    def backlog(self) -> int:
        return max(0, self.enqueued - self.written)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (waiting at most `timeout` for a stuck reader), then stop."""
        if self._held is not None:
            for _, data in self._held:
                self._q.put(data)
            self._held = None
        self._q.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("stdout reader is not reading: %d event line(s) were not written", self.backlog)


def _silence_stdout() -> None:
    """The reader went away: point fd 1 at /dev/null so exit-time flushes do not complain."""
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
        os.close(fd)
    except OSError:
        pass


# --- logging ---------------------------------------------------------------------------------------
class _OneLineFormatter(logging.Formatter):
    """stderr gets one line per record; tracebacks go to the log file only."""

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info or record.exc_text or record.stack_info:
            record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None,
                                            "stack_info": None})
        return super().format(record).replace("\n", " | ")


def setup_logging(level: str, log_file: Path | None) -> None:
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.setLevel(level)
    err = logging.StreamHandler(sys.stderr)
    err.setFormatter(_OneLineFormatter(fmt))
    root.addHandler(err)
    if log_file is not None:
        from logging.handlers import RotatingFileHandler

        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            fh = RotatingFileHandler(log_file, maxBytes=10_000_000, backupCount=5, encoding="utf-8")
        except OSError as exc:
            log.warning("cannot write the log file %s: %s (logging to stderr only)", log_file, exc)
            return
        fh.setFormatter(logging.Formatter(fmt))
        root.addHandler(fh)


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


class EngineLock:
    """One engine per profile: an flock on run/engine.lock, released by the OS if we die."""

    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self._fd: int | None = None

    def acquire(self) -> None:
        import fcntl

        from quantai_tui.core.errors import ConfigError

        run = self.paths.run_dir
        run.mkdir(parents=True, exist_ok=True)
        os.chmod(run, 0o700)
        fd = os.open(run / "engine.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            pid = _read_pid(self.paths.pid_file)
            raise ConfigError(f"another engine is running for profile {self.paths.profile!r}"
                              + (f" (pid {pid})" if pid else "") + "; stop it first or use --profile") from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def last_stored_event(path: Path) -> tuple[int, str] | None:
    """(seq, type) of the newest event in the store, read-only; None for a new or unreadable one."""
    import sqlite3

    if not path.exists():
        return None
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = con.execute("SELECT seq, type FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        return None  # the kernel's open reports a damaged store properly
    return (int(row[0]), str(row[1])) if row else None


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

"""`quantai record`: market data to Parquet."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from quantai_tui.commands.base import Context, add_venue_arguments, venue_overrides

HELP = "record market data (trades, book, quotes, bars) to Parquet"
ALL_KINDS = ("trades", "book", "quotes", "bars")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_venue_arguments(p, multi_symbol=True)
    p.add_argument("--kinds", default="trades,book,quotes,bars", help="comma-separated: trades,book,quotes,bars")
    p.add_argument("--duration", help="stop after this long, e.g. 10s, 1h (default: until Ctrl-C)")
    p.add_argument("--out", help="output directory (default: <data dir>/recordings)")


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0}


def parse_duration(text: str) -> float:
    """'10s', '1h30m', '90' (seconds) -> seconds."""
    from quantai_tui.core.errors import ValidationError

    t = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", t):
        return float(t)
    pos, total = 0, 0.0
    for m in _DURATION.finditer(t):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT_S[m.group(2)]
        pos = m.end()
    if pos != len(t) or pos == 0:
        raise ValidationError(f"bad duration {text!r}: use e.g. 10s, 5m, 1h30m, 2d")
    return total


def parse_kinds(text: str) -> list[str]:
    from quantai_tui.core.errors import ValidationError

    kinds = [k.strip() for k in text.split(",") if k.strip()]
    bad = [k for k in kinds if k not in ALL_KINDS]
    if bad or not kinds:
        raise ValidationError(f"bad --kinds {text!r}: choose from {','.join(ALL_KINDS)}")
    return list(dict.fromkeys(kinds))


def run(args: argparse.Namespace, ctx: Context) -> int:
    import asyncio
    from pathlib import Path

    from quantai_tui.core.symbols import normalize_symbol

    exchange = (args.exchange or ctx.settings.general.exchange).lower()
    venue_overrides(ctx, exchange)
    symbols = [normalize_symbol(s) for s in (args.symbols or ctx.settings.general.symbols[:1])]
    if exchange == "sim":  # refuse an unknown symbol before anything starts
        from quantai_tui.connectors.sim import sim_spec

        symbols = [sim_spec(s).symbol for s in symbols]
    kinds = parse_kinds(args.kinds)
    duration = parse_duration(args.duration) if args.duration else None
    out = Path(args.out).expanduser() if args.out else ctx.paths.recordings_dir
    return asyncio.run(_record(ctx, exchange, symbols, kinds, duration, out))


def make_market_client(exchange: str, publish: Any, clock: Any, ctx: Context) -> Any:
    """The market data client of a venue, through the connector registry (sim is built in;
    names without a native connector go to the generic ccxt one)."""
    from quantai_tui.connectors.registry import make_market_data_client

    settings = ctx.settings
    options: dict[str, Any] = {}
    if exchange == "sim":
        s = settings.sim
        options = {"seed": s.seed, "rate": s.rate, "depth": s.depth}
    return make_market_data_client(exchange, settings.exchange(exchange), publish, clock, ctx.paths.markets_cache_dir,
                                   **options)


async def _record(ctx: Context, exchange: str, symbols: list[str], kinds: list[str], duration: float | None,
                  out: Any) -> int:
    import asyncio
    import signal
    import time

    from quantai_tui.core.clock import LiveClock
    from quantai_tui.data.codec import warm_up
    from quantai_tui.data.recorder import Recorder, subscribe_recorder
    from quantai_tui.engine.bus import MessageBus

    settings = ctx.settings
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):  # first: a Ctrl-C from now on stops cleanly
        loop.add_signal_handler(sig, stop.set)
    await asyncio.to_thread(warm_up)
    bus = MessageBus()
    clock = LiveClock()
    client = make_market_client(exchange, bus.publish, clock, ctx)
    venue = getattr(client, "venue", exchange)
    out.mkdir(parents=True, exist_ok=True)
    recorder = Recorder(out, clock=clock, flush_interval_s=settings.data.flush_interval_s,
                        snapshot_interval_s=settings.data.book_snapshot_interval_s)
    sub = subscribe_recorder(bus, recorder, venue, symbols, kinds)
    bus.subscribe(f"connector.{venue}", lambda ev: _status(ev))
    progress = _Progress(f"{venue} {','.join(symbols)}", out)
    t0 = time.monotonic()
    await bus.start()
    recorder.start()
    try:
        await client.start()
        for s in symbols:
            await client.subscribe(s, kinds)
        while not stop.is_set():
            left = None if duration is None else duration - (time.monotonic() - t0)
            if left is not None and left <= 0:
                break
            try:
                await asyncio.wait_for(stop.wait(), min(0.5, left) if left is not None else 0.5)
            except TimeoutError:
                pass
            progress.show(time.monotonic() - t0, recorder.stats(), sub.dropped)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await client.stop()
        await sub.drain()
        await bus.close()
        files = await recorder.close()
        progress.show(time.monotonic() - t0, recorder.stats(), sub.dropped, final=True)
    for f in files:
        print(f)
    if sub.dropped:
        print(f"quantai record: {sub.dropped} messages were dropped (the writer fell behind)", file=sys.stderr)
    return 0


def _status(ev: Any) -> None:
    name = type(ev).__name__
    detail = getattr(ev, "reason", "") or (f"attempt {ev.attempt} in {ev.delay_s:.1f}s" if hasattr(ev, "attempt") else "")
    prefix = "\r\x1b[K" if sys.stderr.isatty() else ""
    print(f"{prefix}{name} {ev.venue} {detail}".rstrip(), file=sys.stderr)


class _Progress:
    """One line on stderr: rewritten in place on a terminal, every 10 s otherwise."""

    def __init__(self, what: str, out: Any) -> None:
        self.what = what
        self.out = out
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def show(self, elapsed: float, stats: dict[str, int], dropped: int, final: bool = False) -> None:
        if not self.tty and not final and elapsed - self.last < 10:
            return
        self.last = elapsed
        m, s = divmod(int(elapsed), 60)
        h, m = divmod(m, 60)
        line = (f"recording {self.what}  {h:02d}:{m:02d}:{s:02d}  {stats['messages']:,} msgs  "
                f"{_size(stats['bytes'])}  {stats['files']} files" + (f"  {dropped:,} dropped" if dropped else ""))
        if self.tty:
            print(f"\r\x1b[K{line}", end="\n" if final else "", file=sys.stderr, flush=True)
        else:
            print(line, file=sys.stderr, flush=True)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"

"""`quantai headless` (alias `quantai live`): the engine without a screen, events as JSON lines."""

from __future__ import annotations

import argparse

from quantai_tui.commands.base import Context, add_venue_arguments, venue_overrides

HELP = "run the engine without a screen: every durable event is one JSON line on stdout"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_venue_arguments(p, multi_symbol=True)
    p.add_argument("--strategy", help="built-in name, module in strategies/, or path/to/file.py[:Class]")
    p.add_argument("--param", action="append", default=[], metavar="K=V", help="strategy parameter (repeatable)")
    p.add_argument("--mode", choices=["paper", "live"], help="paper (default) or live (needs a configured key)")
    p.add_argument("--duration", help="stop after this long, e.g. 30s, 10m, 2h (default: until signalled)")
    p.add_argument("--metrics-port", type=int, metavar="PORT",
                   help="serve Prometheus metrics on 127.0.0.1:PORT (default: headless.metrics_port; 0 = off)")
    p.add_argument("--cancel-on-exit", action=argparse.BooleanOptionalAction, default=None,
                   help="cancel open orders on SIGTERM/SIGINT (default: headless.cancel_on_exit, true)")
    p.add_argument("--from-seq", type=int, metavar="SEQ",
                   help="first print the stored events from SEQ on (resume a consumer without gaps)")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from quantai_tui.core.errors import ConfigError
    from quantai_tui.engine.strategy import parse_param_args
    from quantai_tui.headless import HeadlessOptions
    from quantai_tui.headless import run as run_headless

    exchange = (args.exchange or "").strip().lower()
    if not exchange:
        exchange = ctx.settings.general.exchange.lower()
        ctx.__dict__.pop("settings", None)  # reloaded below with this venue's endpoint overrides
    venue_overrides(ctx, exchange)
    settings = ctx.settings
    duration = None
    if args.duration:
        from quantai_tui.commands.record import parse_duration

        duration = parse_duration(args.duration)
        if duration <= 0:
            raise ConfigError(f"--duration {args.duration!r} must be longer than zero")
    port = settings.headless.metrics_port if args.metrics_port is None else args.metrics_port
    if not 0 <= port <= 65535:
        raise ConfigError(f"--metrics-port {port}: must be 0 (off) to 65535")
    if args.from_seq is not None and args.from_seq < 1:
        raise ConfigError("--from-seq must be 1 or more")
    opts = HeadlessOptions(
        exchange=exchange,
        symbols=list(args.symbols or settings.general.symbols[:1]),
        strategy=args.strategy,
        params=parse_param_args(args.param),
        mode=args.mode or "paper",  # never live unless asked for here
        duration_s=duration,
        metrics_port=port,
        cancel_on_exit=settings.headless.cancel_on_exit if args.cancel_on_exit is None else args.cancel_on_exit,
        from_seq=args.from_seq,
        status_interval_s=settings.headless.status_interval_s,
    )
    return run_headless(opts, settings, ctx.paths)

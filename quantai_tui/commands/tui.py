"""`quantai tui`: the full-screen app (the default command)."""

from __future__ import annotations

import argparse
import sys

from quantai_tui.commands.base import Context, add_venue_arguments, venue_overrides

HELP = "open the terminal app (default; paper trading on the offline sim exchange)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_venue_arguments(p, multi_symbol=True)
    p.add_argument("--mode", choices=["paper", "live"], help="paper (default) or live (needs a configured key)")
    p.add_argument("--theme", help="theme name (see themes/); ctrl+p switches at run time")


def _setup_logging(level: str, log_file) -> None:  # type: ignore[no-untyped-def]
    """Logs go to the log file and the Log pane, never to the terminal the app draws on."""
    import logging
    from logging.handlers import RotatingFileHandler

    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.setLevel(level)
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        fh = RotatingFileHandler(log_file, maxBytes=10_000_000, backupCount=5, encoding="utf-8")
    except OSError:
        root.addHandler(logging.NullHandler())
        return
    fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(fh)


def run(args: argparse.Namespace, ctx: Context) -> int:
    import logging

    from quantai_tui.commands.tui_engine import (
        SIM_BACKTEST,
        build_engine,
        replay_choices,
        replay_factory,
        sim_backtest_data,
    )
    from quantai_tui.core.enums import TradingMode
    from quantai_tui.headless import EngineLock, check_live, check_symbols

    exchange = (args.exchange or "").strip().lower()
    if not exchange:
        exchange = ctx.settings.general.exchange.lower()
        ctx.__dict__.pop("settings", None)  # reloaded with this venue's endpoint overrides
    venue_overrides(ctx, exchange)
    if args.theme:
        ctx.overrides["tui.theme"] = args.theme
    settings = ctx.settings
    paths = ctx.paths
    if settings.general.mode == "live" and args.mode is None:
        print("quantai: the config says live; live trading also needs --mode live (starting in paper)",
              file=sys.stderr)
    mode = TradingMode.LIVE if args.mode == "live" else TradingMode.PAPER
    symbols = check_symbols(exchange, list(args.symbols or settings.general.symbols))
    live = None
    if mode is TradingMode.LIVE:
        check_live(exchange, settings)
        from quantai_tui.tui.app import LiveInfo

        ex = settings.exchange(exchange)
        live = LiveInfo(exchange, ex.account, symbols, ex.key_file or f"{ex.api_key_env} / {ex.api_secret_env}")

    _setup_logging(settings.general.log_level, paths.log_file)
    lock = EngineLock(paths)
    lock.acquire()  # one engine per profile: a running headless engine would share the store
    try:
        from quantai_tui.tui.app import AppOptions, QuantAIApp
        from quantai_tui.tui.ai_service import AIService
        from quantai_tui.tui.backtest_service import BacktestService

        engine = build_engine(settings, paths, exchange, symbols, mode)

        def switch(venue: str, syms: list[str]):  # type: ignore[no-untyped-def]
            return build_engine(settings, paths, venue, check_symbols(venue, syms), TradingMode.PAPER)

        backtests = BacktestService(
            data_sources={SIM_BACKTEST: lambda: sim_backtest_data(settings)},
            data_dirs=[paths.recordings_dir, paths.catalog_dir],
            strategy_dirs=[paths.data_dir / "strategies"],
        )
        options = AppOptions(
            tui=settings.tui,
            config_file=paths.config_file,
            user_themes_dir=paths.config_dir / "themes",
            live=live,
            log_level=logging.getLevelName(settings.general.log_level),
            engine_factory=switch,
            replay_factory=replay_factory(settings, paths),
            replay_choices=lambda: replay_choices(paths),
            backtest=backtests,
            backtest_capital=settings.backtest.initial_capital,
            ai=AIService(settings, paths),  # the chat's model half and the Knowledge screen
        )
        app = QuantAIApp(engine, options)
        rc = app.run()
    finally:
        lock.release()
    return int(rc or 0)

"""What every subcommand shares: the context (profile, paths, settings) and error handling."""

from __future__ import annotations

import argparse
import importlib
import sys
from functools import cached_property
from typing import Any

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_BUILT = 3


class Context:
    """Built once per invocation; settings are loaded on first use with the flags layered on top."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.overrides: dict[str, Any] = {}
        if getattr(args, "log_level", None):
            self.overrides["general.log_level"] = args.log_level

    @cached_property
    def profile(self) -> str:
        import os

        return getattr(self.args, "profile", None) or os.environ.get("QUANTAI_PROFILE") or "default"

    @cached_property
    def paths(self):  # type: ignore[no-untyped-def]
        from quantai_tui.paths import Paths

        return Paths(self.profile)

    @cached_property
    def settings(self):  # type: ignore[no-untyped-def]
        from pathlib import Path

        from quantai_tui.settings import load_settings

        cfg = getattr(self.args, "config_file", None)
        return load_settings(self.paths, overrides=self.overrides, config_file=Path(cfg) if cfg else None)


def not_built(command: str, issue: int) -> int:
    print(f"quantai {command}: not built yet (issue #{issue})", file=sys.stderr)
    return EXIT_NOT_BUILT


def add_venue_arguments(p: argparse.ArgumentParser, *, multi_symbol: bool = False, default_exchange: str | None = None) -> None:
    """--exchange, --symbol, and the endpoint overrides every connecting command takes."""
    p.add_argument("--exchange", default=default_exchange, help="venue: sim, binance, binanceusdm, okx, bybit, or any ccxt id")
    if multi_symbol:
        p.add_argument("--symbol", dest="symbols", action="append", metavar="SYMBOL",
                       help="symbol in ccxt spelling, e.g. BTC/USDT or BTC/USDT:USDT (repeatable)")
    else:
        p.add_argument("--symbol", help="symbol in ccxt spelling, e.g. BTC/USDT or BTC/USDT:USDT")
    p.add_argument("--rest-url", help="REST base URL override (a testnet or a local server)")
    p.add_argument("--ws-url", help="WebSocket base URL override")
    p.add_argument("--testnet", action="store_true", default=None, help="use the venue's testnet endpoints")


def venue_overrides(ctx: Context, exchange: str) -> None:
    """Layer --rest-url/--ws-url/--testnet into settings.exchanges.<exchange>."""
    a = ctx.args
    for flag, key in (("rest_url", "rest_url"), ("ws_url", "ws_url"), ("testnet", "testnet")):
        v = getattr(a, flag, None)
        if v is not None:
            ctx.overrides[f"exchanges.{exchange}.{key}"] = v


def run_command(args: argparse.Namespace) -> int:
    from quantai_tui.core.errors import QuantAIError

    module = importlib.import_module(f"quantai_tui.commands.{args._module}")
    ctx = Context(args)
    try:
        return int(module.run(args, ctx) or 0)
    except QuantAIError as exc:
        print(f"quantai: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("quantai: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `quantai events export | head`
        return EXIT_OK

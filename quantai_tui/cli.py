"""The `quantai` command line. Each subcommand lives in quantai_tui/commands/<name>.py with
`HELP`, `add_arguments(parser)` and `run(args, ctx) -> int`; those modules import only the
standard library at the top, so `quantai --help` stays fast (heavy imports happen in run)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from quantai_tui import __version__

# (name, module, aliases) in the order --help lists them
COMMANDS: list[tuple[str, str, tuple[str, ...]]] = [
    ("tui", "tui", ()),
    ("headless", "headless", ("live",)),
    ("record", "record", ()),
    ("backtest", "backtest", ()),
    ("sweep", "sweep", ()),
    ("data", "data", ()),
    ("ask", "ask", ()),
    ("kb", "kb", ()),
    ("events", "events", ()),
    ("config", "config", ()),
    ("kill", "kill", ()),
]

EPILOG = """examples:
  quantai                                   the TUI, paper trading on the offline sim exchange
  quantai tui --exchange binance --symbol BTC/USDT --mode paper
  quantai headless --strategy ma_crossover --exchange sim --mode paper --duration 1h
  quantai record --exchange sim --symbol BTC/USDT --duration 10s
  quantai backtest --strategy ma_crossover --data FILE.parquet --param fast=10 --json
  quantai ask "backtest a 10/30 MA crossover on BTC/USDT"
  quantai events tail
"""


def _add_common(p: argparse.ArgumentParser, suppress: bool) -> None:
    d = argparse.SUPPRESS if suppress else None
    p.add_argument("--profile", default=d, help="keep config, store and data apart per profile (default: default)")
    p.add_argument("--config", dest="config_file", default=d, metavar="FILE", help="read this config file instead")
    p.add_argument("--log-level", default=d, choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="log level")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quantai",
        description="QuantAI TUI: a keyboard-driven terminal trading app (order book, OMS with risk checks, "
        "backtests, AI chat). With no command it opens the TUI on the offline sim exchange.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"quantai {__version__}")
    _add_common(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name, aliases in COMMANDS:
        module = importlib.import_module(f"quantai_tui.commands.{module_name}")
        p = sub.add_parser(name, aliases=list(aliases), help=module.HELP, description=module.HELP)
        _add_common(p, suppress=True)
        module.add_arguments(p)
        p.set_defaults(_module=module_name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(args_list)
    if getattr(args, "_module", None) is None:
        # no command: the TUI with its defaults
        args = parser.parse_args([*args_list, "tui"])
    from quantai_tui.commands.base import run_command

    return run_command(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""`quantai tui`: the full-screen app (the default command)."""

from __future__ import annotations

import argparse

from quantai_tui.commands.base import Context, add_venue_arguments, not_built

HELP = "open the terminal app (default; paper trading on the offline sim exchange)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_venue_arguments(p, multi_symbol=True)
    p.add_argument("--mode", choices=["paper", "live"], help="paper (default) or live")
    p.add_argument("--theme", help="theme name (see themes/)")


def run(args: argparse.Namespace, ctx: Context) -> int:
    return not_built("tui", 6)

"""`quantai headless` (alias `quantai live`): the engine without a screen, events as JSON lines."""

from __future__ import annotations

import argparse

from quantai_tui.commands.base import Context, add_venue_arguments, not_built

HELP = "run the engine without a screen: every durable event is one JSON line on stdout"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_venue_arguments(p, multi_symbol=True)
    p.add_argument("--strategy", help="built-in name, module in strategies/, or path/to/file.py[:Class]")
    p.add_argument("--param", action="append", default=[], metavar="K=V", help="strategy parameter (repeatable)")
    p.add_argument("--mode", choices=["paper", "live"], help="paper (default) or live")
    p.add_argument("--duration", help="stop after this long, e.g. 30s, 10m, 2h")
    p.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on 127.0.0.1:PORT")


def run(args: argparse.Namespace, ctx: Context) -> int:
    return not_built("headless", 6)

"""`quantai kill`: engage (or release) the kill switch of a running engine."""

from __future__ import annotations

import argparse

from quantai_tui.commands.base import Context, not_built

HELP = "engage the kill switch of the running engine of this profile (or --release it)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--release", action="store_true", help="release the kill switch (asks for confirmation)")
    p.add_argument("--reason", default="quantai kill", help="recorded with the event")
    p.add_argument("--yes", action="store_true", help="do not ask before releasing")


def run(args: argparse.Namespace, ctx: Context) -> int:
    return not_built("kill", 4)

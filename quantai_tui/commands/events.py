"""`quantai events tail|export`: read the event store (read-only, safe while an engine runs)."""

from __future__ import annotations

import argparse
import sys

from quantai_tui.commands.base import Context

HELP = "inspect the event store: follow new events, or export them as JSON lines or CSV"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="events_command", metavar="ACTION", required=True)
    tail = sub.add_parser("tail", help="print the last events, then follow new ones (Ctrl-C stops)")
    tail.add_argument("-n", "--lines", type=int, default=20, help="how many past events to show first")
    tail.add_argument("--type", dest="types", action="append", metavar="T", help="only this event type (repeatable)")
    tail.add_argument("--no-follow", action="store_true", help="print and exit")
    tail.add_argument("--interval", type=float, default=0.25, help="poll interval in seconds")
    exp = sub.add_parser("export", help="write events as jsonl or csv")
    exp.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    exp.add_argument("--from-seq", type=int, default=0, metavar="N", help="start at this seq")
    exp.add_argument("--type", dest="types", action="append", metavar="T", help="only this event type (repeatable)")
    exp.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    for q in (tail, exp):
        q.add_argument("--store", metavar="FILE", help="an event store file (default: the profile's)")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pathlib import Path

    from quantai_tui.store.export import export_events, tail_events

    path = Path(args.store) if args.store else ctx.paths.store_file
    if args.events_command == "export":
        out = open(args.out, "w", newline="") if args.out else sys.stdout  # noqa: SIM115
        try:
            n = export_events(path, out, fmt=args.format, from_seq=args.from_seq, types=args.types)
        finally:
            if args.out:
                out.close()
        if args.out:
            print(f"{n} events written to {args.out}", file=sys.stderr)
        return 0
    tail_events(path, sys.stdout, last=args.lines, types=args.types, follow=not args.no_follow, interval=args.interval)
    return 0

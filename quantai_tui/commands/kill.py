"""`quantai kill`: engage (or release) the kill switch of a running engine."""

from __future__ import annotations

import argparse
import sys

from quantai_tui.commands.base import EXIT_ERROR, EXIT_OK, Context

HELP = "engage the kill switch of the running engine of this profile (or --release it)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--release", action="store_true", help="release the kill switch (asks for confirmation)")
    p.add_argument("--reason", default="quantai kill", help="recorded with the event")
    p.add_argument("--yes", action="store_true", help="do not ask before releasing")
    p.add_argument("--flatten", action="store_true", default=None,
                   help="also close every position with reduce-only market orders (default: as configured)")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from quantai_tui.engine.control import request

    sock = ctx.paths.control_socket
    profile = ctx.profile
    if not sock.exists():
        print(f"quantai kill: no engine is running for profile {profile!r} (no control socket at {sock})",
              file=sys.stderr)
        return EXIT_ERROR
    if args.release:
        if not args.yes:
            if not sys.stdin.isatty():
                print("quantai kill: --release needs --yes when not run from a terminal", file=sys.stderr)
                return EXIT_ERROR
            answer = input(f"Release the kill switch of profile {profile!r} and allow trading again? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("not released")
                return EXIT_ERROR
        payload = {"cmd": "release", "reason": args.reason, "source": "cli"}
    else:
        payload = {"cmd": "kill", "reason": args.reason, "source": "cli", "flatten": args.flatten}
    try:
        reply = request(sock, payload)
    except (ConnectionRefusedError, FileNotFoundError):
        print(f"quantai kill: no engine is running for profile {profile!r} (stale control socket {sock})",
              file=sys.stderr)
        return EXIT_ERROR
    except (OSError, ValueError) as exc:
        print(f"quantai kill: the engine did not answer: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if not reply.get("ok"):
        print(f"quantai kill: {reply.get('error') or reply.get('message') or 'refused'} (state {reply.get('state')})",
              file=sys.stderr)
        return EXIT_ERROR
    if args.release:
        print(f"kill switch released: trading state {reply.get('state')}")
    else:
        rep = reply.get("report") or {}
        print(f"KILL SWITCH ENGAGED: trading state {reply.get('state')}, HALTED durable in "
              f"{rep.get('halted_ms', 0):.1f} ms, {rep.get('orders_to_cancel', 0)} order(s) canceled"
              + (f", {len(rep.get('flatten_orders') or [])} flatten order(s)" if rep.get("flatten_orders") else ""))
    return EXIT_OK

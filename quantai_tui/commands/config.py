"""`quantai config init|show|path`."""

from __future__ import annotations

import argparse
import json
import sys

from quantai_tui.commands.base import EXIT_ERROR, Context

HELP = "create, show (secrets redacted) or locate the configuration"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    init = sub.add_parser("init", help="write a config.toml with every default, documented")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    sub.add_parser("show", help="print the effective settings (file < environment < flags), secrets redacted")
    path = sub.add_parser("path", help="print where config, store and data live")
    path.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from quantai_tui.settings import default_config_text, dump_toml, settings_to_dict, write_config

    if args.config_command == "init":
        target = ctx.paths.config_file
        if target.exists() and not args.force:
            print(f"quantai: {target} exists; use --force to overwrite it", file=sys.stderr)
            return EXIT_ERROR
        write_config(target, default_config_text())
        print(target)
        return 0
    if args.config_command == "show":
        print(dump_toml(settings_to_dict(ctx.settings, redact=True)), end="")
        return 0
    paths = ctx.paths.as_dict()
    if args.json:
        print(json.dumps(paths, indent=2))
    else:
        width = max(map(len, paths))
        for k, v in paths.items():
            print(f"{k:<{width}}  {v}")
    return 0

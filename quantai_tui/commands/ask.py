"""`quantai ask`: the AI assistant, headless."""

from __future__ import annotations

import argparse

from quantai_tui.commands.base import Context, not_built

HELP = "ask the AI assistant (tool calls on stderr, the answer on stdout)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("question", help="the question, in quotes")
    p.add_argument("--model", help="model name (overrides [llm] model)")
    p.add_argument("--base-url", help="OpenAI-compatible endpoint (overrides [llm] base_url)")


def run(args: argparse.Namespace, ctx: Context) -> int:
    return not_built("ask", 7)

"""`quantai ask`: the AI assistant, headless.

The answer goes to stdout (then its sources); tool calls, retries and order drafts go to
stderr. Exit 0 on an answer, 1 with one line on stderr otherwise. Drafts are reported and
never sent: no order can come out of this command.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from quantai_tui.commands.base import EXIT_ERROR, EXIT_OK, Context

HELP = "ask the AI assistant (tool calls on stderr, the answer on stdout)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("question", help="the question, in quotes")
    p.add_argument("--model", help="model name (overrides [llm] model)")
    p.add_argument("--base-url", help="OpenAI-compatible endpoint (overrides [llm] base_url)")
    p.add_argument("--json", action="store_true", help="print the answer, tool calls and drafts as one JSON object")
    p.add_argument("--quiet", "-q", action="store_true", help="no tool-call lines on stderr")


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.model:
        ctx.overrides["llm.model"] = args.model
    if args.base_url:
        ctx.overrides["llm.base_url"] = args.base_url
    settings = ctx.settings
    from quantai_tui.ai.assistant import model_config_error

    problem = model_config_error(settings)
    if problem:
        print(f"quantai ask: {problem}", file=sys.stderr)
        return EXIT_ERROR
    if not args.question.strip():
        print("quantai ask: the question is empty", file=sys.stderr)
        return EXIT_ERROR
    import asyncio

    return asyncio.run(_ask(args, ctx))


async def _ask(args: argparse.Namespace, ctx: Context) -> int:
    from quantai_tui.ai.assistant import build_session
    from quantai_tui.ai.audit import ProfileAuditSink
    from quantai_tui.ai.engine_view import StoreView
    from quantai_tui.core.errors import AIError

    settings, paths = ctx.settings, ctx.paths
    try:
        session = build_session(
            settings, paths, headless=True,
            engine=StoreView(paths.store_file, venue=settings.general.exchange, mode=settings.general.mode),
            sink=ProfileAuditSink(paths, synchronous=settings.store_synchronous()),
        )
    except AIError as e:
        print(f"quantai ask: {e}", file=sys.stderr)
        return EXIT_ERROR
    _setup_logging(ctx, session.client.resolved.api_key)
    printer = _StderrPrinter(quiet=args.quiet or args.json)
    try:
        answer = await session.ask(args.question, on_event=printer)
    except AIError as e:
        print(f"quantai ask: {' '.join(str(e).split())}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        await session.aclose()
    for d in answer.drafts:
        print(f"order draft {d.draft_id} NOT sent (quantai ask never places orders): {d.summary()}", file=sys.stderr)
    if args.json:
        import json

        print(json.dumps(_as_json(answer), default=str))
    else:
        print(answer.text)
        _print_backtests(answer)
        if answer.citations:
            print("\nSources:")
            for c in answer.citations:
                section = f" § {c['section']}" if c["section"] and c["section"] != c["title"] else ""
                print(f"[{c['n']}] {c['title']}{section} ({c['source']})")
    return EXIT_OK


def _print_backtests(answer: Any) -> None:
    """The metrics of every backtest the tools ran, from the results themselves: the model's
    prose may round or misquote them, these lines do not."""
    import json

    seen: set[str] = set()
    for o in answer.outcomes:
        if not (o.ok and o.name in ("run_backtest", "analyze_strategy_performance") and isinstance(o.value, dict)):
            continue
        v, m = o.value, o.value.get("metrics") or {}
        if v.get("backtest_id") in seen:
            continue
        seen.add(str(v.get("backtest_id")))
        params = " ".join(f"{k}={p}" for k, p in (v.get("params") or {}).items())
        print(f"\nBacktest {v.get('backtest_id')} · {v.get('strategy')} {params} · {v.get('data') or v.get('symbols')}")
        print("  " + "  ".join(f"{k}={json.dumps(m[k])}" for k in m if m[k] is not None))


class _StderrPrinter:
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def __call__(self, ev: Any) -> None:
        from quantai_tui.ai.agent import LLMRetrying, ToolFinished, ToolStarted, describe_call

        if self.quiet:
            return
        if isinstance(ev, ToolStarted):
            print(f"⚙ {describe_call(ev.name, ev.arguments)}", file=sys.stderr, flush=True)
        elif isinstance(ev, ToolFinished):
            o = ev.outcome
            if o.ok:
                print(f"  ✓ {o.name}: {len(o.content):,} chars in {o.elapsed_s:.2f}s", file=sys.stderr, flush=True)
            else:
                print(f"  ✗ {o.name}: {o.content.removeprefix('error: ')[:300]}", file=sys.stderr, flush=True)
        elif isinstance(ev, LLMRetrying):
            n = ev.notice
            print(f"… model request failed ({n.reason}); retry {n.attempt}/{n.max_retries} in {n.delay:.1f}s",
                  file=sys.stderr, flush=True)


def _as_json(answer: Any) -> dict[str, Any]:
    return {
        "answer": answer.text,
        "tool_calls": [{"name": o.name, "arguments": o.arguments, "ok": o.ok, "result": o.content}
                       for o in answer.outcomes],
        "drafts": [d.to_dict() for d in answer.drafts],
        "citations": answer.citations,
        "usage": {"prompt_tokens": answer.usage.prompt_tokens, "completion_tokens": answer.usage.completion_tokens}
        if answer.usage else None,
        "rounds": answer.rounds,
    }


def _setup_logging(ctx: Context, key: Any) -> None:
    """The log file gets quantai's records at the configured level; other libraries (openai,
    httpx) only warnings. A filter scrubs the API key from every record, whatever logs it."""
    import logging

    from quantai_tui.core.secrets import redact

    class Scrub(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            msg = record.getMessage()
            clean = redact(msg, key)
            if clean != msg:
                record.msg, record.args = clean, None
            return True

    level = ctx.settings.general.log_level
    root = logging.getLogger()
    root.setLevel(logging.WARNING)
    logging.getLogger("quantai").setLevel(level)
    err = logging.StreamHandler(sys.stderr)
    err.setLevel(logging.ERROR)  # retries and tool calls are already printed
    err.addFilter(Scrub())
    root.addHandler(err)
    try:
        path = ctx.paths.log_file
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        return
    fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    fh.addFilter(Scrub())
    root.addHandler(fh)

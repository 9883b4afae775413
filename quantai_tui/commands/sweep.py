"""`quantai sweep`: a parameter grid in a process pool."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from quantai_tui.commands.base import EXIT_OK, EXIT_USAGE, Context

HELP = "run a strategy over a parameter grid and rank the results"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--strategy", required=True, help="built-in name, module in strategies/, or path/to/file.py[:Class]")
    p.add_argument("--data", action="append", metavar="FILE", help="Parquet/CSV file (repeatable)")
    p.add_argument("--symbol", help="symbol of --data, or without --data a catalog query")
    p.add_argument("--exchange", help="catalog query: venue of the data")
    p.add_argument("--timeframe", help="bar timeframe")
    p.add_argument("--start", help="catalog query: start")
    p.add_argument("--end", help="catalog query: end")
    p.add_argument("--grid", action="append", default=[], metavar="K=A:B:STEP", help="parameter range (repeatable)")
    p.add_argument("--param", action="append", default=[], metavar="K=V", help="fixed parameter (repeatable)")
    p.add_argument("--jobs", type=int, help="worker processes (default: CPU count)")
    p.add_argument("--sort", default="sharpe", help="metric to rank by (default sharpe)")
    p.add_argument("--initial-capital", help="starting cash")
    p.add_argument("--fee-bps", help="fee in basis points")
    p.add_argument("--columnar", choices=["auto", "on", "off"], default="auto", help="use the vectorised fast path")
    p.add_argument("--top", type=int, default=20, help="rows to print (default 20)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from quantai_tui.backtest.api import grid_values
    from quantai_tui.backtest.sweep import run_sweep
    from quantai_tui.commands.backtest import data_input
    from quantai_tui.engine.strategy import parse_param_args

    data = data_input(args)
    if data is None:
        print("quantai sweep: give --data FILE or a catalog query (--symbol with --timeframe/--start/--end)",
              file=sys.stderr)
        return EXIT_USAGE
    if not args.grid:
        print("quantai sweep: give at least one --grid NAME=START:STOP:STEP", file=sys.stderr)
        return EXIT_USAGE
    grid = dict(grid_values(g) for g in args.grid)
    bt = ctx.settings.backtest
    kwargs: dict[str, Any] = {
        "initial_capital": args.initial_capital or bt.initial_capital,
        "fee_bps": args.fee_bps if args.fee_bps is not None else bt.fee_bps,
        "slippage_bps": bt.slippage_bps,
    }
    if args.data:
        kwargs.update(symbol=args.symbol, timeframe=args.timeframe, venue=args.exchange)
    progress, stop = _progress() if sys.stderr.isatty() else (None, lambda: None)
    try:
        result = run_sweep(args.strategy, data, grid, parse_param_args(args.param), jobs=args.jobs,
                           columnar=args.columnar, sort=args.sort, progress=progress, **kwargs)
    finally:
        stop()
    if args.json:
        import json

        print(json.dumps({"sort": result.sort, "columnar": result.columnar, "jobs": result.jobs,
                          "elapsed_s": round(result.elapsed_s, 4), "rows": result.rows,
                          "skipped": [{"params": p, "reason": r} for p, r in result.skipped]}, default=str))
        return EXIT_OK
    _print_table(result, list(grid), args.top)
    return EXIT_OK


def _progress() -> tuple[Any, Any]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    prog = Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=Console(stderr=True), transient=True)
    prog.start()
    task = prog.add_task("sweep", total=None)

    def update(done: int, total: int) -> None:
        prog.update(task, completed=done, total=total)

    return update, prog.stop


def _print_table(result: Any, keys: list[str], top: int) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    path = "columnar" if result.columnar else "event-driven"
    t = Table(title=f"{len(result.rows)} runs, {path}, {result.jobs} job(s), {result.elapsed_s:.2f} s — by {result.sort}")
    for k in keys:
        t.add_column(k, justify="right")
    for k in ("return %", "sharpe", "sortino", "max DD %", "win %", "PF", "trades", "final equity"):
        t.add_column(k, justify="right")
    for row in result.rows[:top]:
        t.add_row(*[str(row[k]) for k in keys], *[_f(row.get(k)) for k in (
            "return_pct", "sharpe", "sortino", "max_drawdown_pct", "win_rate", "profit_factor")],
            str(row.get("trades")), f"{row['final_equity']:,.2f}")
    con.print(t)
    if result.skipped:
        con.print(f"skipped {len(result.skipped)} combination(s): {result.skipped[0][1]}" +
                  (" ..." if len(result.skipped) > 1 else ""))


def _f(v: float | None) -> str:
    return "n/a" if v is None else f"{v:,.2f}"

"""`quantai backtest`: replay data through a strategy and the full engine."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from quantai_tui.commands.base import EXIT_OK, EXIT_USAGE, Context

HELP = "backtest a strategy on recorded, imported or downloaded data"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--strategy", required=True, help="built-in name, module in strategies/, or path/to/file.py[:Class]")
    p.add_argument("--data", action="append", metavar="FILE",
                   help="Parquet/CSV/Feather file (repeatable; merged in time order)")
    p.add_argument("--symbol", help="symbol of --data (default: from the file); without --data: a catalog query")
    p.add_argument("--exchange", help="catalog query: venue of the data")
    p.add_argument("--timeframe", help="bar timeframe, e.g. 1m (catalog query, or bars whose name does not say)")
    p.add_argument("--start", help="start date/time (UTC), e.g. 2025-03-01")
    p.add_argument("--end", help="end date/time (UTC)")
    p.add_argument("--initial-capital", help="starting cash (default 10000)")
    p.add_argument("--param", action="append", default=[], metavar="K=V", help="strategy parameter (repeatable)")
    p.add_argument("--fee-bps", help="fee in basis points (default: the venue's taker fee, else 10)")
    p.add_argument("--slippage-bps", help="slippage on market fills in basis points")
    p.add_argument("--speed", type=float, help="replay at recorded timing times this factor (default: as fast as possible)")
    p.add_argument("--json", action="store_true", help="print one JSON object with the results")
    p.add_argument("--trades-out", metavar="CSV", help="write one row per fill")
    p.add_argument("--report", metavar="HTML", help="write a self-contained HTML report")
    p.add_argument("--seed", type=int, help="random seed (fill model, strategies)")


def data_input(args: argparse.Namespace) -> Any:
    """--data files, or a catalog query from --symbol/--timeframe/--start/--end."""
    from quantai_tui.backtest.api import CatalogQuery

    if args.data:
        return args.data
    if args.symbol:
        return CatalogQuery(args.symbol, args.timeframe, args.start, args.end, args.exchange)
    return None


def run(args: argparse.Namespace, ctx: Context) -> int:
    from quantai_tui.backtest.api import run_backtest
    from quantai_tui.engine.strategy import parse_param_args

    data = data_input(args)
    if data is None:
        print("quantai backtest: give --data FILE or a catalog query (--symbol with --timeframe/--start/--end)",
              file=sys.stderr)
        return EXIT_USAGE
    bt = ctx.settings.backtest
    params = parse_param_args(args.param)
    show_progress = sys.stderr.isatty()
    progress, done = _progress_bar() if show_progress else (None, lambda: None)
    try:
        result = run_backtest(
            args.strategy, data, params,
            initial_capital=args.initial_capital or bt.initial_capital,
            fee_bps=args.fee_bps if args.fee_bps is not None else bt.fee_bps,
            slippage_bps=args.slippage_bps if args.slippage_bps is not None else bt.slippage_bps,
            symbol=args.symbol if args.data else None, timeframe=args.timeframe if args.data else None,
            venue=args.exchange if args.data else None,
            start=args.start if args.data else None, end=args.end if args.data else None,
            speed=args.speed, progress=progress, seed=args.seed or 0,
            strategy_dirs=[ctx.paths.data_dir / "strategies"] if hasattr(ctx.paths, "data_dir") else None,
        )
    finally:
        done()
    if args.trades_out:
        from quantai_tui.backtest.report import write_trades_csv

        write_trades_csv(result, args.trades_out)
    if args.report:
        from quantai_tui.backtest.report import write_html_report

        write_html_report(result, args.report)
    if args.json:
        import json

        print(json.dumps(result.to_dict()))
    else:
        print_result(result)
        for label, path in (("fills", args.trades_out), ("report", args.report)):
            if path:
                print(f"{label} written to {path}")
    return EXIT_OK


def _progress_bar() -> tuple[Any, Any]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    prog = Progress(TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(stderr=True), transient=True)
    prog.start()
    task = prog.add_task("replay", total=None)

    def update(n: int, total: int | None) -> None:
        prog.update(task, completed=n, total=total)

    return update, prog.stop


def print_result(result: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    from quantai_tui.backtest.report import text_plot

    d = result.to_dict()
    con = Console()
    params = ", ".join(f"{k}={v}" for k, v in result.params.items())
    title = f"{result.strategy} on {', '.join(result.symbols)} ({params})"
    table = Table(title=title, show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows = [
        ("final equity", f"{d['final_equity']:,.2f}"), ("return", _pct(d["return_pct"])),
        ("CAGR", _pct(d["cagr_pct"])), ("Sharpe", _num(d["sharpe"])), ("Sortino", _num(d["sortino"])),
        ("max drawdown", _pct(d["max_drawdown_pct"])), ("win rate", _pct(d["win_rate"])),
        ("profit factor", _num(d["profit_factor"])), ("exposure", _pct(d["exposure_pct"])),
        ("orders / fills", f"{d['orders']} / {d['fills']}"), ("round trips", str(d.get("trades"))),
        ("fees", f"{d['fees']:,.4f}"), ("events", f"{d['ticks']:,}"),
        ("replay", f"{d['elapsed_s']:.2f} s ({(d.get('ticks_per_s') or 0):,} events/s)"),
        ("period", f"{d['start']} → {d['end']}"),
    ]
    for k, v in rows:
        table.add_row(k, v)
    con.print(table)
    eq = [v for _, v in result.equity_curve]
    if len(eq) > 1:
        con.print("\n[bold]equity[/bold]")
        for line in text_plot(eq, width=min(100, max(30, con.width - 16)), height=8):
            con.print(line, highlight=False)


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:,.2f}%"


def _num(v: float | None) -> str:
    return "n/a" if v is None else f"{v:,.2f}"

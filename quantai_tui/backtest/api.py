"""The backtest library API: what the CLI, the AI's run_backtest tool and the TUI call.

    result = run_backtest("ma_crossover", "btc-1m.parquet", {"fast": 10, "slow": 50},
                          initial_capital=10_000, fee_bps=10, progress=lambda done, total: ...)
    result.metrics["sharpe"], result.equity_curve, result.fills, result.to_dict()

`data` is a file path, a DataSource, a CatalogQuery, a Recording (events in memory, e.g. from
the sim market), or a list of paths/sources (merged in time order). Blocking and CPU-bound:
call it from a worker thread or process, never on an event loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Union

from quantai_tui.backtest.engine import BacktestEngine, BacktestResult, Tagged, kinds_of, tagged_stream
from quantai_tui.backtest.sources import VENUE_TAKER_BPS, DataSource, open_source, timeframe_ns
from quantai_tui.core.errors import DataError, StrategyError
from quantai_tui.core.instruments import Instrument, make_instrument
from quantai_tui.core.values import to_decimal
from quantai_tui.engine.strategy import Advisor, Strategy
from quantai_tui.settings.schema import Settings

DEFAULT_FEE_BPS = Decimal(10)


@dataclass(frozen=True)
class CatalogQuery:
    """Data from the local catalog instead of a file (`--symbol --timeframe --start --end`)."""

    symbol: str
    timeframe: str | None = None
    start: str | int | datetime | date | None = None
    end: str | int | datetime | date | None = None
    exchange: str | None = None
    kind: str | None = None  # trades | bars | quotes; None: bars when a timeframe is given


@dataclass
class Recording:
    """Market events already in memory (a sim run, a test): (topic, event) in time order."""

    events: Iterable[Tagged]
    instruments: Mapping[str, Instrument]
    venue: str
    timeframe: str = ""
    kinds: set[str] = field(default_factory=set)


DataInput = Union[str, Path, DataSource, CatalogQuery, Recording, Sequence[Union[str, Path, DataSource]]]


def parse_time(value: str | int | datetime | date | None) -> int | None:
    """ns since the epoch (UTC) from an ISO date/datetime, a datetime or an int (ns)."""
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    else:
        text = value.strip().replace("Z", "+00:00")
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise DataError(f"not a date or time: {value!r} (expected e.g. 2025-03-01 or 2025-03-01T12:00)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp()) * 1_000_000_000 + dt.microsecond * 1000


def resolve_strategy(strategy: str | type[Strategy] | Strategy, params: Mapping[str, Any] | None,
                     extra_dirs: list[Path] | None = None) -> Strategy:
    if isinstance(strategy, Strategy):
        if params:
            raise StrategyError(f"{strategy.id}: pass params to the class, not to a built strategy")
        return strategy
    if isinstance(strategy, str):
        from quantai_tui.engine.strategy_loader import load_strategy

        strategy = load_strategy(strategy, extra_dirs)
    if isinstance(strategy, type) and issubclass(strategy, Strategy):
        return strategy(params or {})
    raise StrategyError(f"not a strategy: {strategy!r}")


def infer_instrument(src: DataSource) -> Instrument:
    """Tick size from the decimals the prices are written with; lot size 1e-8 (crypto's finest)."""
    places = 0
    for px in src.price_sample():
        r = repr(px)
        if len(r.replace(".", "").replace("-", "").lstrip("0")) > 15:
            continue  # float noise such as 0.30000000000000004 says nothing about the tick
        if "e-" in r:
            mant, _, exp = r.partition("e-")
            p = int(exp) + (len(mant.split(".")[1]) if "." in mant else 0)
        else:
            p = len(r.split(".")[1].rstrip("0")) if "." in r else 0
        places = max(places, min(p, 12))
    tick = Decimal(1).scaleb(-places)
    fee = VENUE_TAKER_BPS.get(src.venue, 10)
    return make_instrument(src.venue, src.symbol, tick, "0.00000001", taker_fee=Decimal(fee) / 10_000,
                           maker_fee=Decimal(fee) / 10_000)


def resolve_data(data: DataInput, *, symbol: str | None = None, timeframe: str | None = None,
                 venue: str | None = None) -> list[DataSource] | Recording:
    """Plain files become DataSources; recordings in the QuantAI schema (data/schema.py: what
    `quantai record`, `data import` and `data download` write) and catalog queries become a
    Recording streamed by data/reader.py, merged in the order they were received."""
    if isinstance(data, Recording):
        return data
    if isinstance(data, CatalogQuery):
        return _from_catalog(data)
    items: Sequence[Any] = [data] if isinstance(data, (str, Path, DataSource)) else list(data)
    if not items:
        raise DataError("no data given")
    recorded = [Path(i) for i in items if not isinstance(i, DataSource) and is_recording(i)]
    if recorded:
        if len(recorded) != len(items):
            raise DataError("recordings (QuantAI schema) and plain files cannot be mixed in one backtest")
        return recording_from_files(recorded)
    if symbol and len(items) > 1:
        raise DataError("--symbol names the symbol of one file; with several files name them in the file names")
    out = []
    for item in items:
        out.append(item if isinstance(item, DataSource)
                   else open_source(item, symbol=symbol, venue=venue, timeframe=timeframe))
    return out


def is_recording(path: str | Path) -> bool:
    """A Parquet file (or a recording's parts) in the QuantAI recording schema."""
    p = Path(path)
    if not p.name.endswith(".parquet") and not p.is_dir():
        return False
    try:
        from quantai_tui.data.reader import file_info

        file_info(p)
    except Exception:
        return False
    return True


def recording_from_files(paths: list[Path], start: Any = None, end: Any = None) -> Recording:
    """Recorded files as one stream (data/reader.py merges them by receive order)."""
    from quantai_tui.core.events import market_topic
    from quantai_tui.data.reader import file_info, replay

    infos = [file_info(p) for p in paths]
    if start is None:  # from the beginning the deltas rebuild every book: periodic snapshots are redundant
        books = {(i.meta.venue, i.meta.symbol) for i in infos if i.meta.kind == "book"}
        infos = [i for i in infos if not (i.meta.kind == "book_snapshots" and (i.meta.venue, i.meta.symbol) in books)]
    venues = {i.meta.venue for i in infos}
    if len(venues) > 1:
        raise DataError(f"data from several venues ({', '.join(sorted(venues))}) in one backtest")
    kinds = {"book" if i.meta.kind == "book_snapshots" else i.meta.kind for i in infos}
    symbols = list(dict.fromkeys(i.meta.symbol for i in infos))
    tf = next((i.meta.timeframe for i in infos if i.meta.kind == "bars" and i.meta.timeframe), "") or ""
    venue = venues.pop()
    insts = {s: _instrument_from_recording(venue, s, [i.path for i in infos if i.meta.symbol == s]) for s in symbols}

    def stream() -> Any:
        for ev in replay([i.path for i in infos], start_ns=parse_time(start), end_ns=parse_time(end)):
            yield market_topic(ev.TOPIC, ev.venue, ev.symbol), ev  # type: ignore[attr-defined]

    return Recording(stream(), insts, venue, tf, kinds)


def _instrument_from_recording(venue: str, symbol: str, paths: list[Path]) -> Instrument:
    from quantai_tui.data.reader import record_batches

    prices: list[float] = []
    for p in paths:
        for rb in record_batches(p):
            for col in ("price", "close", "bid"):
                if col in rb.schema.names:
                    prices.extend(x for x in rb.column(col).to_pylist()[:2000] if x is not None)
            break
    src = DataSource(Path(paths[0]), "trades", symbol, venue)
    src.price_sample = lambda n=2000: prices[:n]  # type: ignore[method-assign]
    return infer_instrument(src)


def _from_catalog(q: CatalogQuery) -> Recording:
    from quantai_tui.data.catalog import Catalog

    kind = q.kind or ("bars" if q.timeframe else "trades")
    found = Catalog().find(symbol=q.symbol, kind=kind, timeframe=q.timeframe, start=q.start, end=q.end,
                           exchange=q.exchange)
    if not found:
        span = f" from {q.start or 'the start'} to {q.end or 'the end'}"
        raise DataError(f"no {kind}{' ' + q.timeframe if q.timeframe else ''} for {q.symbol}{span} in the local "
                        "catalog (quantai data download / import / record put data there)")
    return recording_from_files([Path(e.path) for e in found], q.start, q.end)


def _total_rows(sources: list[DataSource]) -> int | None:
    total = 0
    for s in sources:
        if s.path.suffix == ".parquet":
            import pyarrow.parquet as pq

            total += pq.ParquetFile(s.path).metadata.num_rows
        else:
            return None
    return total


def run_backtest(
    strategy: str | type[Strategy] | Strategy,
    data: DataInput,
    params: Mapping[str, Any] | None = None,
    *,
    initial_capital: Decimal | int | float | str = Decimal("10000"),
    fee_bps: Decimal | int | float | str | None = None,
    slippage_bps: Decimal | int | float | str = 0,
    symbol: str | None = None,
    timeframe: str | None = None,
    venue: str | None = None,
    start: str | int | datetime | date | None = None,
    end: str | int | datetime | date | None = None,
    speed: float | None = None,
    metrics_period: str | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    advisor: Advisor | None = None,
    instruments: Mapping[str, Instrument] | None = None,
    check_balance: bool = True,
    seed: int = 0,
    strategy_dirs: list[Path] | None = None,
    settings: Settings | None = None,
) -> BacktestResult:
    """Replay `data` through `strategy` (a name, path, class or instance) with `params`.

    fee_bps None: the venue's taker fee where known (binance/okx/bybit 10), else 10 bps.
    speed None: as fast as possible; 1.0: the recorded timing; 10.0: ten times faster.
    progress(done_events, total_events_or_None) is called every 65,536 events and at the end.
    settings: the risk limits (and the rest) of the engine; default: the built-in defaults.
    check_balance False lets a strategy spend more cash than it has (or sell what it does not hold).
    """
    t_start = time.perf_counter()
    strat = resolve_strategy(strategy, params, strategy_dirs)
    strat.seed = seed  # type: ignore[attr-defined]
    if advisor is not None:
        strat.advisor = advisor
    resolved = resolve_data(data, symbol=symbol, timeframe=timeframe, venue=venue)
    if isinstance(resolved, Recording):
        insts = dict(instruments or resolved.instruments)
        the_venue = resolved.venue
        stream: Iterable[Tagged] = resolved.events
        kinds = resolved.kinds or (kinds_of(resolved.events) if isinstance(resolved.events, list) else {"trades"})
        if isinstance(data, CatalogQuery):
            start = end = None  # the query already selected its window
        bar_ns = {s: timeframe_ns(resolved.timeframe) for s in insts} if resolved.timeframe else {}
        tf_label = resolved.timeframe
        total = len(resolved.events) if isinstance(resolved.events, list) else None
        topic = None
    else:
        venues = {s.venue for s in resolved}
        if len(venues) > 1:
            raise DataError(f"data from several venues ({', '.join(sorted(venues))}) in one backtest")
        the_venue = venues.pop()
        insts = {}
        for src in resolved:
            if src.symbol not in insts:
                insts[src.symbol] = (instruments or {}).get(src.symbol) or infer_instrument(src)
        single = resolved[0] if len(resolved) == 1 else None
        stream = single.events() if single is not None else tagged_stream(resolved)
        topic = single.topic if single is not None else None
        kinds = {s.kind for s in resolved}
        bar_ns = {s.symbol: s.timeframe_ns for s in resolved if s.kind == "bars"}
        tf_label = next((s.timeframe for s in resolved if s.kind == "bars"), "")
        total = _total_rows(resolved)
    fee = to_decimal(fee_bps) if fee_bps is not None else Decimal(VENUE_TAKER_BPS.get(the_venue, DEFAULT_FEE_BPS))
    engine = BacktestEngine(
        venue=the_venue, instruments=insts, initial_capital=to_decimal(initial_capital), fee_bps=fee,
        slippage_bps=to_decimal(slippage_bps), bar_ns=bar_ns,
        metrics_period_ns=timeframe_ns(metrics_period) if metrics_period else None,
        check_balance=check_balance, data_kinds=kinds, settings=settings,
    )
    trade = [symbol] if symbol and symbol in insts else None
    if symbol and isinstance(resolved, Recording) and trade is None:
        raise DataError(f"{symbol} is not in the data (it has {', '.join(insts)})")
    engine.add_strategy(strat, trade)
    engine.run(stream, topic=topic, total=total, progress=progress, speed=speed, start_ns=parse_time(start), end_ns=parse_time(end))
    return engine.result(strat, tf_label, time.perf_counter() - t_start, fee_bps=str(fee),
                         slippage_bps=str(to_decimal(slippage_bps)))


def grid_values(spec: str) -> tuple[str, list[Any]]:
    """'fast=5:50:5' -> ('fast', [5, 10, ..., 50]) (inclusive); 'k=1,2,3' -> a list; decimals ok."""
    name, sep, rng = spec.partition("=")
    name = name.strip()
    if not sep or not name or not rng.strip():
        raise StrategyError(f"--grid {spec!r}: expected NAME=START:STOP:STEP or NAME=V1,V2,...")
    rng = rng.strip()
    if "," in rng or ":" not in rng:
        return name, [v.strip() for v in rng.split(",") if v.strip()]
    parts = rng.split(":")
    if len(parts) not in (2, 3):
        raise StrategyError(f"--grid {spec!r}: expected START:STOP[:STEP]")
    try:
        a, b = Decimal(parts[0]), Decimal(parts[1])
        step = Decimal(parts[2]) if len(parts) == 3 else Decimal(1)
    except ArithmeticError:
        raise StrategyError(f"--grid {spec!r}: START, STOP and STEP must be numbers") from None
    if step <= 0 or b < a:
        raise StrategyError(f"--grid {spec!r}: need STEP > 0 and STOP >= START")
    vals: list[Any] = []
    v = a
    while v <= b:
        vals.append(str(v))
        v += step
        if len(vals) > 100_000:
            raise StrategyError(f"--grid {spec!r}: more than 100,000 values")
    return name, vals


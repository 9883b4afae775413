"""OHLCV bars through ccxt's `fetch_ohlcv`: paginated, resumable, rate-limited.

    result = await download_ohlcv(exchange, venue="binance", symbol="BTC/USDT", timeframe="1m",
                                  start_ns=..., end_ns=..., out_dir=..., catalog=Catalog(paths))

Only what the catalog does not already hold in [start, end) is fetched: a run that was
interrupted continues after the last bar it stored, and holes are filled. Pages of up to
`limit` bars are requested from the oldest missing bar on; every `chunk_bars` bars (and at
the end of each gap) the bars so far are written atomically as their own file, so a kill loses
at most one chunk. ccxt's own rate limiter spaces the requests; rate-limit answers and
network errors are retried with backoff, then reported as one DataError line. Only closed
bars are kept (a bar still forming would be stored wrong). `exchange` is any object with
ccxt's async `fetch_ohlcv(symbol, timeframe, since, limit)`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from quantai_tui.core.errors import DataError
from quantai_tui.core.symbols import normalize_symbol
from quantai_tui.data.catalog import Catalog
from quantai_tui.data.files import write_table
from quantai_tui.data.schema import FileMeta, file_name, timeframe_ns

log = logging.getLogger("quantai.data.download")
MS = 1_000_000


@dataclass
class DownloadResult:
    bars: int = 0  # bars fetched and stored
    already: int = 0  # bars in the range the catalog already held
    requests: int = 0
    files: list[Path] = field(default_factory=list)


def missing_ranges(covered: list[tuple[int, int]], start_ns: int, end_ns: int, tf_ns: int) -> list[tuple[int, int]]:
    """Open-time ranges [a, b) in [start, end) not covered by [first open, last open] spans."""
    gaps = []
    cur = start_ns
    for a, b in covered:
        if b + tf_ns <= cur:
            continue
        if a > cur:
            gaps.append((cur, min(a, end_ns)))
        cur = max(cur, b + tf_ns)
        if cur >= end_ns:
            break
    if cur < end_ns:
        gaps.append((cur, end_ns))
    return [(a, b) for a, b in gaps if b > a]


async def _fetch(exchange: Any, symbol: str, timeframe: str, since_ms: int, limit: int, retries: int,
                 delay: float, rate_limit_delay: float) -> list[list[Any]]:
    import ccxt.async_support as ccxt_async

    for attempt in range(retries + 1):
        try:
            return await exchange.fetch_ohlcv(symbol, timeframe, since=since_ms, limit=limit)
        except (ccxt_async.RateLimitExceeded, ccxt_async.DDoSProtection) as exc:
            if attempt == retries:
                raise DataError(f"{exchange.id}: rate limited and still refused after {retries} retries: {exc}") from None
            delay = max(delay, rate_limit_delay)
        except ccxt_async.BadSymbol as exc:
            raise DataError(f"{exchange.id}: {symbol} is not listed: {exc}") from None
        except ccxt_async.NetworkError as exc:
            if attempt == retries:
                raise DataError(f"cannot reach {exchange.id}: {type(exc).__name__}: {_line(exc)}") from None
        except ccxt_async.OperationFailed as exc:  # a 5xx or the like: worth another try
            if attempt == retries:
                raise DataError(f"{exchange.id}: fetch_ohlcv failed {retries + 1} times: {_line(exc)}") from None
        except ccxt_async.BaseError as exc:
            raise DataError(f"{exchange.id}: fetch_ohlcv failed: {_line(exc)}") from None
        log.warning("fetch_ohlcv %s %s since %d failed; retry %d in %.1fs", symbol, timeframe, since_ms, attempt + 1, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 30.0)
    raise AssertionError("unreachable")


def _line(exc: BaseException) -> str:
    return str(exc).replace("\n", " ")[:200]


def _stamp(ns: int) -> str:
    return datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).strftime("%Y%m%d%H%M")


def _write_chunk(out_dir: Path, meta: FileMeta, rows: list[tuple[int, float, float, float, float, float]],
                 tf_ns: int) -> Path:
    opens = [r[0] for r in rows]
    ts = [o + tf_ns for o in opens]
    n = len(rows)
    table = pa.Table.from_arrays([
        pa.array(ts, pa.int64()), pa.array(ts, pa.int64()), pa.array(ts, pa.int64()),
        pa.array([meta.venue] * n, pa.string()), pa.array([meta.symbol] * n, pa.string()),
        pa.array([meta.timeframe] * n, pa.string()),
        pa.array([r[1] for r in rows], pa.float64()), pa.array([r[2] for r in rows], pa.float64()),
        pa.array([r[3] for r in rows], pa.float64()), pa.array([r[4] for r in rows], pa.float64()),
        pa.array([r[5] for r in rows], pa.float64()), pa.array([True] * n, pa.bool_()),
    ], schema=meta.schema())
    path = out_dir / file_name(meta.venue, meta.symbol, f"{_stamp(opens[0])}-{_stamp(opens[-1])}", "bars",
                               meta.timeframe)
    write_table(path, table)
    return path


async def download_ohlcv(
    exchange: Any,
    *,
    venue: str,
    symbol: str,
    timeframe: str,
    start_ns: int,
    end_ns: int,
    out_dir: Path,
    catalog: Catalog | None = None,
    limit: int = 1000,
    chunk_bars: int = 50_000,
    retries: int = 3,
    retry_delay_s: float = 0.5,
    rate_limit_delay_s: float = 2.0,
    now_ns: Callable[[], int] = time.time_ns,
    progress: Callable[[int, int], None] | None = None,
) -> DownloadResult:
    symbol = normalize_symbol(symbol)
    tf_ns = timeframe_ns(timeframe)
    if end_ns <= start_ns:
        raise DataError("the end must be after the start")
    start_ns -= start_ns % tf_ns  # bars open on the timeframe's grid
    meta = FileMeta("bars", venue, symbol, timeframe, source="download")
    covered = catalog.bar_coverage(venue, symbol, timeframe, start_ns, end_ns) if catalog is not None else []
    gaps = missing_ranges(covered, start_ns, end_ns, tf_ns)
    result = DownloadResult()
    total = sum((b - a + tf_ns - 1) // tf_ns for a, b in gaps)
    result.already = max(0, (end_ns - start_ns + tf_ns - 1) // tf_ns - total)
    done = 0
    for g0, g1 in gaps:
        since = g0
        rows: list[tuple[int, float, float, float, float, float]] = []
        while since < g1:
            page = await _fetch(exchange, symbol, timeframe, since // MS, limit, retries, retry_delay_s,
                                rate_limit_delay_s)
            result.requests += 1
            closed_before = now_ns() - tf_ns
            fresh = [(int(r[0]) * MS, *(float(x) if x is not None else 0.0 for x in r[1:6])) for r in page
                     if r and since <= int(r[0]) * MS < g1 and int(r[0]) * MS <= closed_before]
            if not fresh:
                # no closed bar in range: past the last closed bar, or (before a listing) the
                # venue skipped beyond the gap; either way this gap is done
                break
            rows.extend(fresh)  # type: ignore[arg-type]
            done += len(fresh)
            since = fresh[-1][0] + tf_ns
            if progress is not None:
                progress(done, total)
            if len(rows) >= chunk_bars:
                result.files.append(_write_chunk(out_dir, meta, rows, tf_ns))
                result.bars += len(rows)
                rows = []
        if rows:
            result.files.append(_write_chunk(out_dir, meta, rows, tf_ns))
            result.bars += len(rows)
    return result

"""Import Binance public data dumps (data.binance.vision) into the recording format.

    import_binance_csv(Path("BTCUSDT-trades-2025-03-01.zip"), "binance-trades", "BTC/USDT", out=...)

Formats (the columns of Binance's spot and USD-M dumps; the trailing `is_best_match` of spot
files is optional):

    binance-trades     id, price, qty, quote_qty, time, is_buyer_maker[, is_best_match]
    binance-aggtrades  agg_trade_id, price, quantity, first_trade_id, last_trade_id,
                       transact_time, is_buyer_maker[, is_best_match]
    binance-klines     open_time, open, high, low, close, volume, close_time, quote_volume,
                       count, taker_buy_volume, taker_buy_quote_volume, ignore

With or without a header row (detected), zipped (the one CSV inside), gzipped or plain.
Timestamps in milliseconds or microseconds (spot dumps switched to microseconds in 2025) are
told apart by magnitude, row by row. The file is streamed in blocks with pyarrow's CSV
reader, so memory stays flat; every value is checked, and any bad row fails the import with
the count and the first bad line, leaving nothing behind (the output is written to a temp
file and renamed at the end).
"""

from __future__ import annotations

import gzip
import os
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from quantai_tui.core.errors import DataError
from quantai_tui.core.symbols import normalize_symbol
from quantai_tui.data.files import fsync_dir, temp_path
from quantai_tui.data.schema import COMPRESSION, ROW_GROUP_ROWS, FileMeta, file_name, timeframe_ns

FORMATS = ("binance-trades", "binance-aggtrades", "binance-klines")
_COLUMNS = {
    "binance-trades": ["id", "price", "qty", "quote_qty", "time", "is_buyer_maker", "is_best_match"],
    "binance-aggtrades": ["agg_trade_id", "price", "quantity", "first_trade_id", "last_trade_id", "transact_time",
                          "is_buyer_maker", "is_best_match"],
    "binance-klines": ["open_time", "open", "high", "low", "close", "volume", "close_time", "quote_volume", "count",
                       "taker_buy_volume", "taker_buy_quote_volume", "ignore"],
}
_OPTIONAL_LAST = {"binance-trades": True, "binance-aggtrades": True, "binance-klines": False}
_INT = r"^\d+$"
_NUM = r"^-?\d+(\.\d*)?([eE][-+]?\d+)?$"
_BOOL = r"^(?i:true|false)$"
# the columns read, and the check each must pass
_CHECKS = {
    "binance-trades": {"id": _INT, "price": _NUM, "qty": _NUM, "time": _INT, "is_buyer_maker": _BOOL},
    "binance-aggtrades": {"agg_trade_id": _INT, "price": _NUM, "quantity": _NUM, "transact_time": _INT,
                          "is_buyer_maker": _BOOL},
    "binance-klines": {"open_time": _INT, "open": _NUM, "high": _NUM, "low": _NUM, "close": _NUM, "volume": _NUM},
}
BLOCK_SIZE = 4 << 20


@dataclass(frozen=True, slots=True)
class ImportResult:
    path: Path
    rows: int
    ts_min: int
    ts_max: int
    bytes: int


def _open_csv_bytes(path: Path, raw: IO[bytes]) -> tuple[IO[bytes], str, Callable[[], tuple[int, int]]]:
    """The CSV bytes of a plain, gzipped or zipped file (streamed), the CSV's name, and a
    function telling (bytes done, bytes in all) for progress."""
    magic = raw.read(4)
    raw.seek(0)
    size = path.stat().st_size
    if magic.startswith(b"PK"):
        zf = zipfile.ZipFile(raw)
        infos = [i for i in zf.infolist() if not i.is_dir()]
        csvs = [i for i in infos if i.filename.lower().endswith(".csv")] or infos
        if len(csvs) != 1:
            raise DataError(f"{path}: expected one CSV inside the zip, found {len(csvs)}: "
                            f"{', '.join(i.filename for i in csvs[:5])}")
        member = zf.open(csvs[0])
        return member, csvs[0].filename, lambda: (member.tell(), csvs[0].file_size)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=raw), path.name[:-3], lambda: (raw.tell(), size)  # type: ignore[return-value]
    return raw, path.name, lambda: (raw.tell(), size)


def _first_line(path: Path) -> tuple[str, str]:
    with open(path, "rb") as raw:
        f, inner, _ = _open_csv_bytes(path, raw)
        line = f.readline(1 << 16)
    return line.decode("utf-8", "replace").strip("\r\n\ufeff"), inner


def _timeframe_from_name(name: str) -> str | None:
    m = re.search(r"-(\d+[smhdw])-\d{4}-\d{2}", name)
    return m.group(1) if m else None


def _to_ns(raw: pa.Array) -> pa.Array:
    """Binance times in ms or us (or ns) -> ns, told apart by magnitude."""
    ms = pc.multiply(raw, 1_000_000)
    us = pc.multiply(raw, 1_000)
    return pc.if_else(pc.less(raw, 10**14), ms, pc.if_else(pc.less(raw, 10**17), us, raw))


def import_binance_csv(
    path: Path,
    fmt: str,
    symbol: str,
    *,
    exchange: str = "binance",
    timeframe: str | None = None,
    out: Path | None = None,
    out_dir: Path | None = None,
    progress: Callable[[int, int, int], None] | None = None,
) -> ImportResult:
    """Import one dump. Writes `out`, or `out_dir/<exchange>_<SYMBOL>_<days>.<kind>.parquet`.
    `progress(bytes_done, bytes_in_all, rows)` is called after each block."""
    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such file: {path}")
    symbol = normalize_symbol(symbol)
    first, inner = _first_line(path)
    if not first:
        raise DataError(f"{path}: the file is empty")
    fields = first.split(",")
    header = not re.match(r"^\s*\d", fields[0])
    all_names = _COLUMNS[fmt]
    n = len(fields)
    if not (n == len(all_names) or (_OPTIONAL_LAST[fmt] and n == len(all_names) - 1)):
        raise DataError(f"{path}: line 1 has {n} columns; {fmt} has {len(all_names)}"
                        + (f" or {len(all_names) - 1}" if _OPTIONAL_LAST[fmt] else ""))
    names = all_names[:n]
    kind = "bars" if fmt == "binance-klines" else "trades"
    tf = None
    if kind == "bars":
        tf = timeframe or _timeframe_from_name(inner) or _timeframe_from_name(path.name) or "1m"
        tf_ns = timeframe_ns(tf)
    meta = FileMeta(kind, exchange, symbol, tf, source="import")
    sch = meta.schema()
    checks = _CHECKS[fmt]
    target_dir = out.parent if out is not None else (out_dir or path.parent)
    target_dir.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(target_dir / f"import-{path.name}.parquet")

    invalid: list[tuple[int, str]] = []

    def on_invalid(row: Any) -> str:
        invalid.append((row.number or 0, row.text))
        return "skip"

    bad = 0
    first_bad: tuple[int, str] | None = None
    rows = 0  # rows parsed (blank ones included): the physical line of row r is 1 + header + r + skipped before
    ts_min = ts_max = None
    last_ts = -1
    writer: pq.ParquetWriter | None = None
    pending: list[pa.Table] = []
    pending_rows = 0
    imported = 0
    try:
        with open(path, "rb") as raw:
            f, _, where = _open_csv_bytes(path, raw)
            reader = pacsv.open_csv(
                f,
                read_options=pacsv.ReadOptions(column_names=names, skip_rows=int(header), block_size=BLOCK_SIZE,
                                               use_threads=False),  # row numbers are known only so
                parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, ignore_empty_lines=False),
                convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                                     include_columns=list(checks)),
            )
            writer = pq.ParquetWriter(tmp, sch, compression=COMPRESSION)
            for batch in reader:
                nb = batch.num_rows
                empty = None  # blank lines are skipped, not bad
                ok = None
                for name, rx in checks.items():
                    c = batch.column(name)
                    e = pc.equal(pc.utf8_length(c), 0)
                    m = pc.fill_null(pc.match_substring_regex(c, rx), False)
                    empty = e if empty is None else pc.and_(empty, e)
                    ok = m if ok is None else pc.and_(ok, m)
                badmask = pc.and_(pc.invert(ok), pc.invert(empty))
                nbad = pc.sum(badmask).as_py() or 0
                if nbad:
                    if first_bad is None:
                        i = pc.index(badmask, True).as_py()
                        line = 1 + int(header) + rows + i
                        for num, _ in sorted(invalid):  # rows the parser skipped push it down
                            if num and num <= line:
                                line += 1
                        first_bad = (line, ",".join(str(batch.column(c)[i].as_py()) for c in checks))
                    bad += nbad
                if bad or invalid:
                    rows += nb
                    continue  # keep counting, write nothing more
                keep = pc.invert(empty)
                if not pc.all(keep).as_py():
                    batch = batch.filter(keep)
                table = _convert(fmt, batch, meta, rows, tf_ns if kind == "bars" else 0)
                if table.num_rows:
                    ts = table.column("ts_event")
                    lo, hi = pc.min(ts).as_py(), pc.max(ts).as_py()
                    in_order = pc.all(pc.greater_equal(ts.slice(1), ts.slice(0, len(ts) - 1))).as_py()
                    if lo < last_ts or in_order is False:
                        raise DataError(f"{path}: rows are not in time order (near line {1 + int(header) + rows}); "
                                        "sort the file first")
                    last_ts = hi
                    ts_min = lo if ts_min is None else ts_min
                    ts_max = hi
                rows += nb
                imported += table.num_rows
                pending.append(table)
                pending_rows += table.num_rows
                if pending_rows >= ROW_GROUP_ROWS:
                    writer.write_table(pa.concat_tables(pending))
                    pending, pending_rows = [], 0
                if progress is not None:
                    done, total = where()
                    progress(done, total, rows)
            if pending and not (bad or invalid):
                writer.write_table(pa.concat_tables(pending))
            writer.close()
            writer = None
        if invalid:
            num, text = min(invalid)
            if first_bad is None or num < first_bad[0]:
                first_bad = (num, text)
            bad += len(invalid)
        if bad:
            assert first_bad is not None
            text = _line(path, first_bad[0]) or first_bad[1]
            raise DataError(f"{path}: {bad:,} bad row{'s' if bad != 1 else ''}, the first at line {first_bad[0]}: "
                            f"{text[:100]!r}; nothing was imported")
        if ts_min is None or ts_max is None:
            raise DataError(f"{path}: no rows to import")
        if out is None:
            days = _day(ts_min) if _day(ts_min) == _day(ts_max) else f"{_day(ts_min)}-{_day(ts_max)}"
            out = target_dir / file_name(exchange, symbol, days, kind, tf)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        size = tmp.stat().st_size
        os.replace(tmp, out)
        fsync_dir(out.parent)
        return ImportResult(out, imported, ts_min, ts_max, size)
    finally:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)


def _line(path: Path, number: int) -> str | None:
    """Physical line `number` (1-based) of the CSV, for the error message."""
    with open(path, "rb") as raw:
        f, _, _ = _open_csv_bytes(path, raw)
        for i, line in enumerate(f, 1):
            if i == number:
                return line.decode("utf-8", "replace").rstrip("\r\n")
    return None


def _day(ns: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).strftime("%Y%m%d")


def _convert(fmt: str, batch: pa.RecordBatch, meta: FileMeta, row0: int, tf_ns: int) -> pa.Table:
    n = batch.num_rows
    seq = pa.array(np.arange(row0, row0 + n, dtype=np.int64))
    venue = pa.repeat(pa.scalar(meta.venue, pa.string()), n)
    symbol = pa.repeat(pa.scalar(meta.symbol, pa.string()), n)
    col = batch.column
    f64 = pa.float64()
    if fmt == "binance-klines":
        open_ns = _to_ns(pc.cast(col("open_time"), pa.int64()))
        ts = pc.add(open_ns, tf_ns)
        arrays = [seq, ts, ts, venue, symbol, pa.repeat(pa.scalar(meta.timeframe, pa.string()), n),
                  pc.cast(col("open"), f64), pc.cast(col("high"), f64), pc.cast(col("low"), f64),
                  pc.cast(col("close"), f64), pc.cast(col("volume"), f64), pa.repeat(pa.scalar(True), n)]
    else:
        agg = fmt == "binance-aggtrades"
        ts = _to_ns(pc.cast(col("transact_time" if agg else "time"), pa.int64()))
        maker = pc.equal(pc.utf8_lower(col("is_buyer_maker")), "true")
        # the buyer was the maker: the seller crossed the spread (aggressor 2), else the buyer (1)
        side = pc.cast(pc.if_else(maker, 2, 1), pa.int8())
        arrays = [seq, ts, ts, venue, symbol, pc.cast(col("price"), f64),
                  pc.cast(col("quantity" if agg else "qty"), f64), side, col("agg_trade_id" if agg else "id")]
    return pa.Table.from_arrays(arrays, schema=meta.schema())

"""Market data files as streams of events, read in batches with pyarrow (memory stays flat).

Accepted files (Parquet, Feather/Arrow IPC, CSV, CSV.gz):
- bars:   a time column (`date`, `timestamp`, `open_time`, `time`, `datetime` or the first
          column) holding each bar's OPEN time, then open, high, low, close[, volume]. Headerless
          Binance kline CSVs (open time in ms first) work too. A Bar's ts_event is its close time
          (open + timeframe): a bar is only known once closed, so there is no look-ahead.
- trades: a time column, `price`, and `quantity` / `amount` / `size` / `qty` / `volume`;
          optional `side` (buy/sell) or `buyer_maker`, and `id` / `trade_id`. Headerless
          `ts, price, volume` CSVs (Kraken) work too.
- quotes: a time column, `bid`, `ask`[, `bid_size`, `ask_size`].
Integer times are seconds, ms, us or ns by magnitude; naive datetimes are UTC. The symbol comes
from a `symbol` column, the `symbol=` argument, or the file name (`..._ETH_BTC-5m` -> ETH/BTC).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import chain, repeat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quantai_tui.core.enums import AggressorSide
from quantai_tui.core.errors import DataError
from quantai_tui.core.events import Bar, Event, QuoteTick, TradeTick

BATCH_ROWS = 65_536
_TIME_COLS = ("ts_event", "timestamp", "date", "open_time", "time", "datetime", "ts")
_QTY_COLS = ("quantity", "amount", "size", "qty", "volume")
_QUOTES = ("USDT", "USDC", "BUSD", "FDUSD", "USD", "EUR", "GBP", "BTC", "ETH", "BNB", "JPY", "TRY")
_TF_RE = re.compile(r"(?<![A-Za-z0-9])(\d+)(s|m|h|d|w)(?![A-Za-z])")
_TF_UNIT_NS = {"s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000, "d": 86_400_000_000_000,
               "w": 604_800_000_000_000}
# Spot taker fees in bps where known (the venue's default tier); anything else gets 10.
VENUE_TAKER_BPS = {"binance": 10, "okx": 10, "bybit": 10, "kraken": 26, "bitstamp": 40, "bitfinex": 20,
                   "coinbase": 60, "sim": 10}


def timeframe_ns(tf: str) -> int:
    m = re.fullmatch(r"(\d+)(s|m|h|d|w)", tf.strip())
    if not m:
        raise DataError(f"not a timeframe: {tf!r} (expected e.g. 1m, 5m, 1h, 1d)")
    return int(m.group(1)) * _TF_UNIT_NS[m.group(2)]


def format_timeframe(ns: int) -> str:
    for unit in ("w", "d", "h", "m", "s"):
        u = _TF_UNIT_NS[unit]
        if ns % u == 0:
            return f"{ns // u}{unit}"
    return f"{ns // 1_000_000}ms"


def symbol_from_name(path: Path) -> str | None:
    """ETH/BTC from 'freqtrade_ETH_BTC-5m.parquet', BTC/USDT from 'binance_btcusdt-trades'."""
    stem = path.name.split(".")[0]
    tokens = [t for t in re.split(r"[_\-\s.]+", stem) if t]
    up = [t.upper() for t in tokens]
    for i in reversed(range(len(up) - 1)):  # the last BASE_QUOTE pair: freqtrade_ETH_BTC -> ETH/BTC
        if up[i + 1] in _QUOTES and up[i].isalnum() and not up[i].isdigit():
            return f"{up[i]}/{up[i + 1]}"
    for t in up:
        for q in _QUOTES:
            if t.endswith(q) and len(t) > len(q) and t[: -len(q)].isalpha():
                return f"{t[: -len(q)]}/{q}"
    return None


def venue_from_name(path: Path) -> str | None:
    low = path.name.lower()
    for v in VENUE_TAKER_BPS:
        if low.startswith(v):
            return v
    return None


@dataclass
class DataSource:
    """One file: its kind, symbol and (for bars) timeframe, read lazily in batches."""

    path: Path
    kind: str  # trades | bars | quotes
    symbol: str
    venue: str
    timeframe_ns: int = 0
    columns: dict[str, str] = field(default_factory=dict)  # role -> column name
    headerless: bool = False

    @property
    def timeframe(self) -> str:
        return format_timeframe(self.timeframe_ns) if self.timeframe_ns else ""

    # --- reading ---------------------------------------------------------------------------------
    def batches(self) -> Iterator[dict[str, list[Any]]]:
        """Role -> Python list per batch; 'ts' is int ns (bar open time for bars)."""
        for rb in _record_batches(self.path, self.headerless):
            yield self._convert(rb)

    def _convert(self, rb: Any) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        for role, col in self.columns.items():
            arr = rb.column(col)
            if role == "ts":
                out[role] = _to_ns(arr)
            elif role == "side":
                out[role] = _aggressor(arr)
            elif role == "trade_id":
                out[role] = [str(x) if x is not None else "" for x in arr.to_pylist()]
            else:
                out[role] = _floats(arr)
        return out

    @property
    def topic(self) -> str:
        return f"{self.kind}.{self.venue}.{self.symbol}"

    def tagged_events(self) -> Iterator[tuple[str, Event]]:
        """(topic, event) per row."""
        topic = self.topic
        for ev in self.events():
            yield topic, ev

    def events(self) -> Iterator[Event]:
        """Every row as a core event, in file order (files are expected in time order), with no
        per-row work beyond building the event (this is the replay's hot path): trades are one
        `map` per batch, chained, so the per-row loop runs in C up to the event's constructor."""
        if self.kind == "trades":
            return chain.from_iterable(self._trade_maps())
        return self._other_events()

    def _trade_maps(self) -> Iterator[Iterator[Event]]:
        venue, sym = self.venue, self.symbol
        make_t = TradeTick.make
        for b in self.batches():
            ts = b["ts"]
            n = len(ts)
            sides = b.get("side") or repeat(AggressorSide.NONE, n)
            ids = b.get("trade_id") or repeat("", n)
            yield map(make_t, repeat(venue, n), repeat(sym, n), b["price"], b["qty"], sides, ids, ts, ts)

    def _other_events(self) -> Iterator[Event]:
        venue, sym = self.venue, self.symbol
        if self.kind == "bars":
            make_b = Bar.make
            tf_ns = self.timeframe_ns
            tf = self.timeframe
            for b in self.batches():
                vols = b.get("volume") or [0.0] * len(b["ts"])
                for t, o, h, lo, c, v in zip(b["ts"], b["open"], b["high"], b["low"], b["close"], vols):
                    end = t + tf_ns
                    yield make_b(venue, sym, tf, o, h, lo, c, v, True, end, end)
        elif self.kind == "quotes":
            make_q = QuoteTick.make
            for b in self.batches():
                n = len(b["ts"])
                bs = b.get("bid_size") or [0.0] * n
                az = b.get("ask_size") or [0.0] * n
                for t, bid, bsz, ask, asz in zip(b["ts"], b["bid"], bs, b["ask"], az):
                    yield make_q(venue, sym, bid, bsz, ask, asz, t, t)
        else:  # pragma: no cover - kinds are checked in open_source
            raise DataError(f"{self.path}: cannot replay {self.kind}")

    def first_price(self) -> float | None:
        for b in self.batches():
            col = b.get("price") or b.get("close") or b.get("bid")
            if col:
                return col[0]
        return None

    def price_sample(self, n: int = 2000) -> list[float]:
        for b in self.batches():
            out: list[float] = []
            for role in ("price", "open", "high", "low", "close", "bid", "ask"):
                out.extend((b.get(role) or [])[:n])
            return out
        return []


def open_source(path: str | Path, *, symbol: str | None = None, venue: str | None = None,
                kind: str | None = None, timeframe: str | None = None) -> DataSource:
    """Inspect a file's columns and decide what it holds."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"{p}: no such data file")
    names, headerless = _column_names(p)
    low = {n.lower().strip(): n for n in names}
    cols: dict[str, str] = {}
    tcol = next((low[c] for c in _TIME_COLS if c in low), None)
    if tcol is None and names and names[0].strip() in ("", "index", "Unnamed: 0"):
        tcol = names[0]
    if headerless:
        tcol = names[0]
    if tcol is None:
        raise DataError(f"{p}: no time column (expected one of {', '.join(_TIME_COLS)})")
    cols["ts"] = tcol
    detected: str
    if headerless and len(names) >= 6:
        detected = "bars"
        cols.update(open=names[1], high=names[2], low=names[3], close=names[4], volume=names[5])
    elif headerless and len(names) == 3:
        detected = "trades"
        cols.update(price=names[1], qty=names[2])
    elif all(k in low for k in ("open", "high", "low", "close")):
        detected = "bars"
        cols.update(open=low["open"], high=low["high"], low=low["low"], close=low["close"])
        if "volume" in low:
            cols["volume"] = low["volume"]
    elif "price" in low:
        detected = "trades"
        cols["price"] = low["price"]
        q = next((low[c] for c in _QTY_COLS if c in low), None)
        if q is None:
            raise DataError(f"{p}: a trades file needs a size column ({', '.join(_QTY_COLS)})")
        cols["qty"] = q
        for c in ("side", "buyer_maker", "is_buyer_maker", "m"):
            if c in low:
                cols["side"] = low[c]
                break
        for c in ("trade_id", "id"):
            if c in low:
                cols["trade_id"] = low[c]
                break
    elif "bid" in low and "ask" in low:
        detected = "quotes"
        cols.update(bid=low["bid"], ask=low["ask"])
        for role, c in (("bid_size", "bid_size"), ("ask_size", "ask_size")):
            if c in low:
                cols[role] = low[c]
    else:
        raise DataError(f"{p}: cannot tell bars, trades or quotes apart from columns {names}")
    if kind is not None and kind != detected:
        raise DataError(f"{p}: holds {detected}, not {kind}")
    sym = symbol or _symbol_column(p, low, headerless) or symbol_from_name(p)
    if not sym:
        raise DataError(f"{p}: cannot tell the symbol from the file name; pass --symbol")
    src = DataSource(p, detected, sym, venue or venue_from_name(p) or "backtest", 0, cols, headerless)
    if detected == "bars":
        src.timeframe_ns = timeframe_ns(timeframe) if timeframe else _infer_timeframe(src)
    return src


# --- helpers ------------------------------------------------------------------------------------
def _is_csv(p: Path) -> bool:
    n = p.name.lower()
    return n.endswith((".csv", ".csv.gz", ".txt", ".csv.bz2"))


def _is_ipc(p: Path) -> bool:
    return p.name.lower().endswith((".feather", ".arrow", ".ipc"))


def _csv_reader(p: Path, headerless: bool) -> Any:
    import pyarrow.csv as pcsv

    ro = pcsv.ReadOptions(block_size=1 << 22, autogenerate_column_names=headerless)
    return pcsv.open_csv(p, read_options=ro)


def _sniff_headerless(p: Path) -> bool:
    import gzip

    opener = gzip.open if p.name.lower().endswith(".gz") else open
    with opener(p, "rt", encoding="utf-8", errors="replace") as f:  # type: ignore[operator]
        first = f.readline().split(",")[0].strip()
    return bool(re.fullmatch(r"-?\d+(\.\d+)?", first))


def _column_names(p: Path) -> tuple[list[str], bool]:
    try:
        if _is_csv(p):
            headerless = _sniff_headerless(p)
            return list(_csv_reader(p, headerless).schema.names), headerless
        if _is_ipc(p):
            import pyarrow.ipc as ipc

            return list(ipc.open_file(p).schema.names), False
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(p).schema_arrow.names), False
    except (OSError, ValueError) as exc:
        raise DataError(f"{p}: cannot read: {exc}") from None


def _record_batches(p: Path, headerless: bool) -> Iterator[Any]:
    if _is_csv(p):
        yield from _csv_reader(p, headerless)
    elif _is_ipc(p):
        import pyarrow.ipc as ipc

        reader = ipc.open_file(p)
        for i in range(reader.num_record_batches):
            yield reader.get_batch(i)
    else:
        import pyarrow.parquet as pq

        yield from pq.ParquetFile(p).iter_batches(batch_size=BATCH_ROWS)


def _symbol_column(p: Path, low: dict[str, str], headerless: bool) -> str | None:
    if headerless or "symbol" not in low:
        return None
    for rb in _record_batches(p, headerless):
        vals = rb.column(low["symbol"]).to_pylist()
        if vals and isinstance(vals[0], str) and vals[0]:
            from quantai_tui.core.symbols import normalize_symbol

            try:
                return normalize_symbol(vals[0])
            except Exception:
                return vals[0]
        return None
    return None


def np_view(arr: Any, dtype: str) -> Any:
    """A numpy view of a primitive arrow array without nulls. (arrow's own to_numpy imports
    pandas, ~0.4 s, on first use.)"""
    import numpy as np

    return np.frombuffer(arr.buffers()[1], dtype=dtype)[arr.offset: arr.offset + len(arr)]


def _to_ns(arr: Any) -> list[int]:
    import pyarrow as pa
    import pyarrow.compute as pc

    t = arr.type
    if pa.types.is_timestamp(t):
        return np_view(pc.cast(arr, pa.timestamp("ns", tz=t.tz)).cast(pa.int64()), "int64").tolist()  # type: ignore[no-any-return]
    if pa.types.is_date(t) or pa.types.is_string(t) or pa.types.is_large_string(t):
        return np_view(pc.cast(pc.cast(arr, pa.timestamp("ns")), pa.int64()), "int64").tolist()  # type: ignore[no-any-return]
    if pa.types.is_floating(t) or pa.types.is_integer(t):
        vals = np_view(pc.cast(arr, pa.int64()), "int64")
        if len(vals) == 0:
            return []
        mag = abs(int(vals[0]))
        scale = 1_000_000_000 if mag < 10**11 else 1_000_000 if mag < 10**14 else 1_000 if mag < 10**17 else 1
        return (vals * scale if scale != 1 else vals).tolist()  # type: ignore[no-any-return]
    raise DataError(f"unsupported time column type {t}")


def _floats(arr: Any) -> list[float]:
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pa.types.is_floating(arr.type):
        arr = pc.cast(arr, pa.float64())
    if arr.null_count:
        raise DataError("missing values in a price or size column")
    return np_view(arr, "float64").tolist()  # type: ignore[no-any-return]


_SIDES = (AggressorSide.NONE, AggressorSide.BUYER, AggressorSide.SELLER)


def _aggressor(arr: Any) -> list[AggressorSide]:
    """Aggressor sides, vectorised: 'buy'/'sell' strings or a buyer_maker flag (True: the
    seller crossed the spread)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_boolean(arr.type):
        codes = np.where(np.asarray(pc.fill_null(arr, False).to_pylist(), dtype=bool), 2, 1)
    else:
        # the few distinct spellings are classified once each, then every row takes its code
        enc = pc.dictionary_encode(pc.cast(arr, pa.string()))
        low = pc.utf8_lower(pc.utf8_trim_whitespace(enc.dictionary))
        buy = pc.fill_null(pc.is_in(low, pa.array(["buy", "b", "buyer", "false"])), False)
        sell = pc.fill_null(pc.is_in(low, pa.array(["sell", "s", "seller", "true"])), False)
        lut = np.append(np_view(pc.if_else(buy, 1, pc.if_else(sell, 2, 0)).cast(pa.int64()), "int64"), 0)
        idx = pc.fill_null(enc.indices, len(enc.dictionary)).cast(pa.int64())  # a missing side: none
        codes = lut[np_view(idx, "int64")]
    return _SIDE_ARRAY()[codes].tolist()  # type: ignore[no-any-return]  # the enum members, picked in C


_SIDE_CACHE: list[Any] = []


def _SIDE_ARRAY() -> Any:  # noqa: N802 - a constant, made on first use (numpy is imported lazily)
    if not _SIDE_CACHE:
        import numpy as np

        arr = np.empty(len(_SIDES), dtype=object)
        arr[:] = _SIDES
        _SIDE_CACHE.append(arr)
    return _SIDE_CACHE[0]


def _infer_timeframe(src: DataSource) -> int:
    m = _TF_RE.search(src.path.name)
    if m:
        return int(m.group(1)) * _TF_UNIT_NS[m.group(2)]
    for b in src.batches():
        ts = b["ts"][:500]
        diffs = [y - x for x, y in zip(ts, ts[1:]) if y > x]
        if diffs:
            return min(diffs)
        break
    raise DataError(f"{src.path}: cannot infer the bar timeframe; pass --timeframe")

"""The recording format: one Parquet schema per kind of market data (zstd, int64 ns times).

Every file holds one kind for one venue and one symbol. Columns shared by all kinds:

    seq       int64   replay order: strictly increasing in the order the recorder received
                      messages, across all kinds of one recording (rows of one book message
                      share it); imports and downloads number rows from the first ts_init
    ts_event  int64   exchange time, ns since the epoch (UTC)
    ts_init   int64   local receive time, ns
    venue     string  e.g. "binance", "sim"
    symbol    string  ccxt unified, e.g. "BTC/USDT"

Per kind (the `kind` token in file names is shown in brackets):

    trades [trades]           price f64, size f64, side i8 (aggressor: 1 buyer, 2 seller, 0 unknown),
                              trade_id string
    quotes [quotes]           bid f64, bid_size f64, ask f64, ask_size f64
    bars [bars-<tf>]          timeframe string, open/high/low/close/volume f64, closed bool
                              (ts_event is the bar's close time, as in core.events.Bar)
    book [book]               one row per level change: is_snapshot bool, sequence i64 (the
                              venue's update id), side i8 (0 bid, 1 ask, -1 a message with no
                              levels), price f64, size f64 (0 removes the level; null when side
                              is -1). Rows of one message share seq and are contiguous.
    book_snapshots [book_snapshots]  the same columns: the recorder's full book every
                              snapshot interval and at the start of each day file, so a
                              reader can start mid-day without the day's first message.

File-level metadata (key b"quantai", JSON): {"version", "kind", "venue", "symbol",
"timeframe", "source": "record"|"import"|"download", "parts_upto"}. Replaying a set of files
merges them by (ts_init, seq). See docs/data.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from quantai_tui.core.errors import DataError
from quantai_tui.core.symbols import file_token

SCHEMA_VERSION = 1
META_KEY = b"quantai"
COMPRESSION = "zstd"
ROW_GROUP_ROWS = 256 * 1024

KINDS = ("trades", "quotes", "bars", "book", "book_snapshots")
# market-data kinds as subscribed (ports.MARKET_KINDS) -> the file kinds they produce
SUBSCRIBED_KINDS = ("trades", "book", "quotes", "bars")

_COMMON = [
    pa.field("seq", pa.int64(), nullable=False),
    pa.field("ts_event", pa.int64(), nullable=False),
    pa.field("ts_init", pa.int64(), nullable=False),
    pa.field("venue", pa.string(), nullable=False),
    pa.field("symbol", pa.string(), nullable=False),
]
_BOOK = [
    pa.field("is_snapshot", pa.bool_(), nullable=False),
    pa.field("sequence", pa.int64(), nullable=False),
    pa.field("side", pa.int8(), nullable=False),
    pa.field("price", pa.float64()),
    pa.field("size", pa.float64()),
]
_FIELDS: dict[str, list[pa.Field]] = {
    "trades": [
        pa.field("price", pa.float64(), nullable=False),
        pa.field("size", pa.float64(), nullable=False),
        pa.field("side", pa.int8(), nullable=False),
        pa.field("trade_id", pa.string(), nullable=False),
    ],
    "quotes": [
        pa.field("bid", pa.float64(), nullable=False),
        pa.field("bid_size", pa.float64(), nullable=False),
        pa.field("ask", pa.float64(), nullable=False),
        pa.field("ask_size", pa.float64(), nullable=False),
    ],
    "bars": [
        pa.field("timeframe", pa.string(), nullable=False),
        pa.field("open", pa.float64(), nullable=False),
        pa.field("high", pa.float64(), nullable=False),
        pa.field("low", pa.float64(), nullable=False),
        pa.field("close", pa.float64(), nullable=False),
        pa.field("volume", pa.float64(), nullable=False),
        pa.field("closed", pa.bool_(), nullable=False),
    ],
    "book": _BOOK,
    "book_snapshots": _BOOK,
}
BOOK_NO_LEVEL = -1


def check_kind(kind: str) -> str:
    if kind not in _FIELDS:
        raise DataError(f"unknown data kind {kind!r}; known: {', '.join(KINDS)}")
    return kind


def schema(kind: str) -> pa.Schema:
    """The Arrow schema of a kind (without file metadata)."""
    return pa.schema(_COMMON + _FIELDS[check_kind(kind)])


@dataclass(frozen=True, slots=True)
class FileMeta:
    kind: str
    venue: str
    symbol: str
    timeframe: str | None = None
    source: str = "record"
    parts_upto: int = 0
    version: int = SCHEMA_VERSION

    def to_bytes(self) -> bytes:
        d: dict[str, Any] = {
            "version": self.version, "kind": self.kind, "venue": self.venue, "symbol": self.symbol,
            "timeframe": self.timeframe, "source": self.source, "parts_upto": self.parts_upto,
        }
        return json.dumps(d, separators=(",", ":")).encode()

    @classmethod
    def from_schema(cls, sch: pa.Schema) -> FileMeta | None:
        raw = (sch.metadata or {}).get(META_KEY)
        if raw is None:
            return None
        d = json.loads(raw)
        return cls(kind=d["kind"], venue=d["venue"], symbol=d["symbol"], timeframe=d.get("timeframe"),
                   source=d.get("source", "record"), parts_upto=int(d.get("parts_upto") or 0),
                   version=int(d.get("version", 1)))

    def with_parts_upto(self, n: int) -> FileMeta:
        return FileMeta(self.kind, self.venue, self.symbol, self.timeframe, self.source, n, self.version)

    def schema(self) -> pa.Schema:
        return schema(self.kind).with_metadata({META_KEY: self.to_bytes()})

    @property
    def kind_token(self) -> str:
        return kind_token(self.kind, self.timeframe)


def kind_token(kind: str, timeframe: str | None = None) -> str:
    """How a kind appears in file names: trades, quotes, book, book_snapshots, bars-1m."""
    check_kind(kind)
    if kind == "bars":
        if not timeframe:
            raise DataError("a bars file needs a timeframe")
        return f"bars-{timeframe}"
    return kind


def file_name(venue: str, symbol: str, day: str, kind: str, timeframe: str | None = None) -> str:
    """`<venue>_<SYMBOL>_<day>.<kind>.parquet`, e.g. sim_BTC-USDT_20261128.trades.parquet.
    `day` is YYYYMMDD, or a range YYYYMMDD-YYYYMMDD (imports), or with minutes (downloads)."""
    return f"{venue}_{file_token(symbol)}_{day}.{kind_token(kind, timeframe)}.parquet"


_NAME_RE = re.compile(r"^(?P<venue>[^_]+)_(?P<token>[^_]+)_(?P<day>[0-9-]+)\.(?P<kind>[a-z_]+(?:-\w+)?)\.parquet$")


def parse_file_name(name: str) -> dict[str, str] | None:
    """The parts of a name made by `file_name` (None if it is not one)."""
    m = _NAME_RE.match(name)
    return m.groupdict() if m else None


_TF_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def timeframe_ns(tf: str) -> int:
    """'1m' -> 60e9 ns. Units s, m, h, d, w (ccxt's; months are not fixed-length)."""
    m = re.fullmatch(r"(\d+)([smhdw])", tf or "")
    if not m:
        raise DataError(f"unknown timeframe {tf!r}: expected a number and s, m, h, d or w (e.g. 1m, 4h, 1d)")
    return int(m.group(1)) * _TF_UNITS[m.group(2)] * 1_000_000_000

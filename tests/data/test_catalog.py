"""The catalog: everything recorded, imported or downloaded is found again by exchange, symbol,
kind and time range, and read back in time order in batches."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from quantai_tui.connectors.sim import SimMarket
from quantai_tui.core.errors import DataError
from quantai_tui.core.events import Bar, TradeTick
from quantai_tui.data.binance_csv import import_binance_csv
from quantai_tui.data.catalog import Catalog, to_ns
from quantai_tui.data.codec import ColumnBuffer
from quantai_tui.data.files import DayFileWriter, write_table
from quantai_tui.data.schema import FileMeta, file_name
from quantai_tui.paths import Paths

MAR1 = 1_740_787_200_000_000_000  # 2025-03-01T00:00:00Z
MIN = 60 * 10**9
DAY = 86_400 * 10**9


def _bars(venue: str, symbol: str, first_open: int, n: int, price: float = 100.0) -> list[Bar]:
    return [Bar(venue, symbol, "1m", price, price + 1, price - 1, price + 0.5, 2.0, True,
                ts_event=first_open + (i + 1) * MIN, ts_init=first_open + (i + 1) * MIN) for i in range(n)]


def _store(d: Path, events: list, kind: str, venue: str, symbol: str, name_day: str, tf: str | None = None) -> Path:
    buf = ColumnBuffer(kind)
    for ev in events:
        buf.append(ev, ev.ts_init)
    path = d / venue / file_name(venue, symbol, name_day, kind, tf)
    write_table(path, buf.take(FileMeta(kind, venue, symbol, tf, source="download")))
    return path


@pytest.fixture
def catalog(tmp_path: Path, shared_data: Path) -> Catalog:
    paths = Paths()
    cat_dir, rec_dir = paths.catalog_dir, paths.recordings_dir
    # ten days of BTC/USDT 1m bars on binance, one file a day, and two days on okx
    for d in range(10):
        day = MAR1 + (d - 2) * DAY  # Feb 27 .. Mar 8
        _store(cat_dir, _bars("binance", "BTC/USDT", day, 1440), "bars", "binance", "BTC/USDT",
               datetime.fromtimestamp(day / 1e9, UTC).strftime("%Y%m%d"), "1m")
    for d in range(2):
        day = MAR1 + d * DAY
        _store(cat_dir, _bars("okx", "BTC/USDT", day, 1440, 200.0), "bars", "okx", "BTC/USDT",
               datetime.fromtimestamp(day / 1e9, UTC).strftime("%Y%m%d"), "1m")
    # 1h bars and trades of the same symbol, and another symbol's bars
    _store(cat_dir, [Bar("binance", "BTC/USDT", "1h", 1, 2, 0.5, 1.5, 3, True, ts_event=MAR1 + 3600 * 10**9,
                         ts_init=MAR1 + 3600 * 10**9)], "bars", "binance", "BTC/USDT", "20250301", "1h")
    import_binance_csv(shared_data / "market" / "nautilus" / "ADABTC-1m-2021-11-27.csv", "binance-klines", "ADA/BTC",
                       out_dir=cat_dir / "binance" / "ADA-BTC")
    # a sim recording that is still growing: parts only, no main file yet
    w = DayFileWriter(rec_dir / file_name("sim", "ETH/USDT", "20250302", "trades"),
                      FileMeta("trades", "sim", "ETH/USDT"))
    trades = [ev for _, ev in SimMarket(1, ["ETH/USDT"], start_ns=MAR1 + DAY).generate(2000) if isinstance(ev, TradeTick)]
    buf = ColumnBuffer("trades")
    for i, ev in enumerate(trades):
        buf.append(ev, i)
    w.append(buf.take(w.meta))
    return Catalog(paths)


def test_finds_by_symbol_kind_timeframe_and_range(catalog: Catalog) -> None:
    files = catalog.find(symbol="BTC/USDT", kind="bars", timeframe="1m", start="2025-03-01", end="2025-03-10")
    assert [(e.exchange, datetime.fromtimestamp(e.open_start_ns / 1e9, UTC).day) for e in files] == \
        [("binance", 1), ("okx", 1), ("binance", 2), ("okx", 2)] + [("binance", d) for d in range(3, 9)]
    only = catalog.find(symbol="btc/usdt", kind="bars", timeframe="1m", start=date(2025, 3, 1), end="2025-03-10",
                        exchange="binance")
    assert len(only) == 8 and {e.exchange for e in only} == {"binance"}
    # a range inside one day finds that day only; bars are matched by their open time
    one = catalog.find(symbol="BTC/USDT", kind="bars", timeframe="1m", start="2025-03-03T10:00",
                       end="2025-03-03T11:00", exchange="binance")
    assert len(one) == 1 and one[0].path.name == "binance_BTC-USDT_20250303.bars-1m.parquet"
    assert catalog.find(symbol="BTC/USDT", kind="bars", timeframe="1h")[0].rows == 1
    assert catalog.find(symbol="BTC/USDT", kind="bars", start="2025-04-01") == []
    assert [e.kind for e in catalog.find(symbol="ADA/BTC")] == ["bars"]
    growing = catalog.find(symbol="ETH/USDT", kind="trades", exchange="sim")
    assert len(growing) == 1 and not growing[0].path.exists() and growing[0].rows > 100  # read from its parts
    assert growing[0].source == "record" and growing[0].files[0].parent.name.endswith(".parts")
    with pytest.raises(DataError, match="unknown data kind"):
        catalog.find(kind="candles")


def test_reads_in_time_order_in_batches_and_drops_duplicate_bars(catalog: Catalog, tmp_path: Path) -> None:
    files = catalog.find(symbol="BTC/USDT", kind="bars", timeframe="1m", start="2025-03-01", end="2025-03-03",
                         exchange="binance")
    batches = list(catalog.read(files, start="2025-03-01", end="2025-03-03", batch_events=1000))
    assert all(len(b) <= 1000 for b in batches) and len(batches) == 3
    bars = [ev for b in batches for ev in b]
    assert [b.ts_event for b in bars] == [MAR1 + (i + 1) * MIN for i in range(2880)]
    # a download that overlaps what is there adds no duplicate bars to a read
    extra = _store(tmp_path / "more", _bars("binance", "BTC/USDT", MAR1 + DAY - 60 * MIN, 120), "bars", "binance",
                   "BTC/USDT", "202503012300-202503020059", "1m")
    again = [ev for b in catalog.read([*files, extra], start="2025-03-01", end="2025-03-03") for ev in b]
    assert again == bars
    # two venues' bars interleave by time
    both = catalog.find(symbol="BTC/USDT", kind="bars", timeframe="1m", start="2025-03-01", end="2025-03-01T00:03")
    mixed = [ev for b in catalog.read(both, start="2025-03-01", end="2025-03-01T00:03") for ev in b]
    assert [(e.venue, e.ts_event) for e in mixed] == [(v, MAR1 + i * MIN) for i in (1, 2, 3) for v in ("binance", "okx")]
    # the columnar path streams Arrow batches of the asked columns
    cols = list(catalog.scan(files[:1], columns=["close"]))
    assert sum(rb.num_rows for rb in cols) == 1440 and cols[0].schema.names == ["close"]


def test_coverage_broken_files_and_temp_files(catalog: Catalog) -> None:
    cov = catalog.bar_coverage("binance", "BTC/USDT", "1m", "2025-02-01", "2025-04-01")
    assert cov == [(MAR1 - 2 * DAY, MAR1 + 8 * DAY - MIN)]  # ten whole days, one span
    bad = catalog.dirs[1] / "binance" / "broken.parquet"
    bad.write_bytes(b"not parquet")
    (catalog.dirs[1] / "binance" / ".x.parquet.tmp-1-aa").write_bytes(b"half")
    n = len(catalog.entries())
    assert n == 10 + 2 + 1 + 1 + 1 and len(catalog.errors) == 1 and "broken.parquet" in catalog.errors[0]


def test_times_in_every_spelling() -> None:
    assert to_ns("2025-03-01") == MAR1
    assert to_ns("2025-03-01T00:00:00Z") == MAR1
    assert to_ns("2025-03-01T01:00:00+01:00") == MAR1
    assert to_ns(datetime(2025, 3, 1, tzinfo=UTC)) == to_ns(date(2025, 3, 1)) == MAR1
    assert to_ns("1740787200000") == MAR1  # ms, as ccxt writes them
    assert to_ns(MAR1) == MAR1 and to_ns(None) is None
    with pytest.raises(DataError, match="not a date"):
        to_ns("yesterday")

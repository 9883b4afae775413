"""`quantai data import`: Binance public dumps of real shapes, with and without a header, in
milliseconds and microseconds, zipped, gzipped or plain; bad rows fail with the count and the
first bad line, leaving nothing behind."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import pytest

from quantai_tui.cli import main
from quantai_tui.core.enums import AggressorSide
from quantai_tui.core.errors import DataError
from quantai_tui.core.events import Bar, TradeTick
from quantai_tui.data.binance_csv import import_binance_csv
from quantai_tui.data.reader import file_info, iter_events

MS_2025 = 1_740_787_200_000  # 2025-03-01T00:00:00Z in ms

# Layouts as documented for data.binance.vision: spot files have no header and end with
# is_best_match; USD-M files have a header row and no is_best_match. Spot switched to us in 2025.
SPOT_TRADES_US = "\n".join([
    "4660000001,84250.01000000,0.00120000,101.10001200,1740787200012345,True,True",
    "4660000002,84250.02000000,0.05000000,4212.50100000,1740787200112345,False,True",
    "4660000003,84249.99000000,1.00000000,84249.99000000,1740787201000000,True,True",
]) + "\n"
USDM_TRADES_MS = "id,price,qty,quote_qty,time,is_buyer_maker\n" + "\n".join([
    "5900000001,84260.1,0.003,252.7803,1740787200012,true",
    "5900000002,84260.2,0.120,10111.224,1740787200112,false",
    "5900000003,84260.0,1.500,126390.0,1740787201000,true",
]) + "\n"
SPOT_AGGTRADES_US = "\n".join([
    "3400000001,84250.01000000,0.00120000,4660000001,4660000001,1740787200012345,True,True",
    "3400000002,84250.02000000,0.05000000,4660000002,4660000004,1740787200112345,False,True",
]) + "\n"
USDM_AGGTRADES_MS = ("agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\n"
                     "2600000001,84260.1,0.003,5900000001,5900000001,1740787200012,true\n"
                     "2600000002,84260.2,0.120,5900000002,5900000003,1740787200112,false\n")
KLINES_HEADER = ("open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
                 "taker_buy_quote_volume,ignore")


@pytest.fixture
def adabtc(shared_data: Path) -> list[Path]:
    return sorted((shared_data / "market" / "nautilus").glob("ADABTC-1m-*.csv"))


def _trades(path: Path) -> list[TradeTick]:
    return list(iter_events(path))  # type: ignore[arg-type]


def test_real_kline_rows_import_as_one_minute_bars(adabtc: list[Path], tmp_path: Path) -> None:
    src = adabtc[0]
    res = import_binance_csv(src, "binance-klines", "ADA/BTC", out_dir=tmp_path)
    assert res.path.name == "binance_ADA-BTC_20211127.bars-1m.parquet"
    bars: list[Bar] = list(iter_events(res.path))  # type: ignore[arg-type]
    lines = src.read_text().splitlines()
    assert res.rows == len(bars) == len(lines) == 10
    first = lines[0].split(",")
    b = bars[0]
    assert (b.venue, b.symbol, b.timeframe, b.closed) == ("binance", "ADA/BTC", "1m", True)
    assert b.ts_event == (int(first[0]) + 60_000) * 1_000_000  # close time: open + 1m
    assert (b.open, b.high, b.low, b.close, b.volume) == tuple(float(x) for x in first[1:6])
    assert [x.ts_event for x in bars] == [bars[0].ts_event + i * 60 * 10**9 for i in range(10)]
    assert res.ts_min == bars[0].ts_event and res.ts_max == bars[-1].ts_event


def test_header_microseconds_zip_and_gzip_give_the_same_bars(adabtc: list[Path], tmp_path: Path) -> None:
    src = adabtc[1]
    want = list(iter_events(import_binance_csv(src, "binance-klines", "ADA/BTC", out=tmp_path / "a.parquet").path))
    rows = src.read_text().splitlines()
    with_header = tmp_path / "h.csv"
    with_header.write_text(KLINES_HEADER + "\n" + "\n".join(rows) + "\n")
    micro = tmp_path / "us.csv"  # the 2025 spot layout: open_time and close_time in microseconds
    micro.write_text("\n".join(",".join([f[0] + "000", *f[1:6], f[6] + "999", *f[7:]])
                               for f in (r.split(",") for r in rows)) + "\n")
    zipped = tmp_path / "ADABTC-1m-2021-11-28.zip"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(src, "ADABTC-1m-2021-11-28.csv")
    gz = tmp_path / "ADABTC-1m-2021-11-28.csv.gz"
    gz.write_bytes(gzip.compress(src.read_bytes()))
    for i, f in enumerate((with_header, micro, zipped, gz)):
        got = import_binance_csv(f, "binance-klines", "ADA/BTC", out=tmp_path / f"o{i}.parquet")
        assert list(iter_events(got.path)) == want, f.name


def test_timeframe_comes_from_the_file_name_or_the_flag(adabtc: list[Path], tmp_path: Path) -> None:
    named = tmp_path / "ADABTC-5m-2021-11-27.csv"
    named.write_bytes(adabtc[0].read_bytes())
    res = import_binance_csv(named, "binance-klines", "ADA/BTC", out_dir=tmp_path / "o")
    assert res.path.name.endswith(".bars-5m.parquet") and file_info(res.path).meta.timeframe == "5m"
    res = import_binance_csv(named, "binance-klines", "ADA/BTC", timeframe="1h", out_dir=tmp_path / "p")
    assert file_info(res.path).meta.timeframe == "1h"


@pytest.mark.parametrize(("content", "fmt", "ids"), [
    (SPOT_TRADES_US, "binance-trades", ["4660000001", "4660000002", "4660000003"]),
    (USDM_TRADES_MS, "binance-trades", ["5900000001", "5900000002", "5900000003"]),
    (SPOT_AGGTRADES_US, "binance-aggtrades", ["3400000001", "3400000002"]),
    (USDM_AGGTRADES_MS, "binance-aggtrades", ["2600000001", "2600000002"]),
])
def test_trades_and_aggtrades_in_both_layouts(tmp_path: Path, content: str, fmt: str, ids: list[str]) -> None:
    src = tmp_path / "in.csv"
    src.write_text(content)
    res = import_binance_csv(src, fmt, "BTC/USDT", out_dir=tmp_path)
    assert res.path.name == "binance_BTC-USDT_20250301.trades.parquet"
    trades = _trades(res.path)
    assert [t.trade_id for t in trades] == ids
    data = [line.split(",") for line in content.splitlines() if line[0].isdigit()]
    price_col, qty_col = 1, 2
    ts_col = 4 if fmt == "binance-trades" else 5
    maker_col = ts_col + 1
    for t, row in zip(trades, data, strict=True):
        assert t.price == float(row[price_col]) and t.size == float(row[qty_col])
        raw = int(row[ts_col])
        assert t.ts_event == t.ts_init == (raw * 1000 if raw > 10**14 else raw * 1_000_000)
        # the buyer was the maker: the seller crossed the spread
        maker = row[maker_col].lower() == "true"
        assert t.aggressor is (AggressorSide.SELLER if maker else AggressorSide.BUYER)
    assert trades[0].ts_event // 1_000_000 == MS_2025 + 12


def test_bad_rows_fail_with_the_count_and_the_first_line_and_leave_nothing(tmp_path: Path) -> None:
    lines = USDM_TRADES_MS.splitlines()
    lines.insert(2, "5900000009,84260.x,0.003,1,1740787200050,true")  # line 3: a bad price
    lines.insert(4, "")  # a blank line is skipped, not bad
    lines.append("5900000010,84260.5,0.1")  # too few columns
    lines.append("5900000011,84260.5,0.1,1,1740787202000,maybe")  # not a bool
    src = tmp_path / "bad.csv"
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    with pytest.raises(DataError) as err:
        import_binance_csv(src, "binance-trades", "BTC/USDT", out_dir=out)
    msg = str(err.value)
    assert "3 bad rows" in msg and "first at line 3" in msg and "84260.x" in msg and "\n" not in msg
    assert not out.exists() or not any(out.iterdir())  # no output, no temp file


def test_the_first_bad_line_counts_skipped_and_blank_lines(tmp_path: Path) -> None:
    body = [f"{i},1.5,2,3,{MS_2025 + i},false" for i in range(1, 5000)]
    body[10] = "11,1.5"  # line 11: wrong column count (the parser skips it)
    body[20] = ""  # line 21: blank
    body[4000] = "4001,1.5,2,3,soon,false"  # line 4001: a bad time
    src = tmp_path / "t.csv"
    src.write_text("\n".join(body) + "\n")
    with pytest.raises(DataError, match=r"2 bad rows, the first at line 11: '11,1.5'"):
        import_binance_csv(src, "binance-trades", "BTC/USDT", out_dir=tmp_path)
    body[10] = "11,1.5,2,3,1740787200011,false"
    src.write_text("\n".join(body) + "\n")
    with pytest.raises(DataError, match=r"1 bad row, the first at line 4001: '4001,1.5,2,3,soon,false'"):
        import_binance_csv(src, "binance-trades", "BTC/USDT", out_dir=tmp_path)
    assert not list(tmp_path.glob("*.parquet")) and not list(tmp_path.glob(".*"))


def test_shape_errors_are_one_line(tmp_path: Path, adabtc: list[Path]) -> None:
    with pytest.raises(DataError, match="line 1 has 12 columns; binance-trades has 7 or 6"):
        import_binance_csv(adabtc[0], "binance-trades", "ADA/BTC", out_dir=tmp_path)
    empty = tmp_path / "e.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="empty"):
        import_binance_csv(empty, "binance-klines", "ADA/BTC", out_dir=tmp_path)
    unsorted = tmp_path / "u.csv"
    unsorted.write_text(f"1,1,1,1,{MS_2025 + 5},true\n2,1,1,1,{MS_2025},true\n")
    with pytest.raises(DataError, match="not in time order"):
        import_binance_csv(unsorted, "binance-trades", "BTC/USDT", out_dir=tmp_path)
    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as z:
        z.writestr("a.csv", "x")
        z.writestr("b.csv", "y")
    with pytest.raises(DataError, match="expected one CSV inside the zip, found 2"):
        import_binance_csv(two, "binance-trades", "BTC/USDT", out_dir=tmp_path)
    assert not list(tmp_path.glob("*.parquet"))


def test_the_command_imports_into_the_catalog(adabtc: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "import", str(adabtc[0]), "--format", "binance-klines", "--symbol", "ADA/BTC"]) == 0
    out = capsys.readouterr()
    path = Path(out.out.strip())
    assert path.parent.parts[-3:] == ("catalog", "binance", "ADA-BTC") and path.is_file()
    assert "imported 10 rows" in out.err
    assert main(["data", "list", "--symbol", "ADA/BTC"]) == 0
    listing = capsys.readouterr().out
    assert "ADA/BTC" in listing and "bars 1m" in listing and "2021-11-27 00:00:00" in listing
    assert main(["data", "import", str(adabtc[0]), "--format", "binance-aggtrades", "--symbol", "ADA/BTC"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("quantai: error: ") and err.count("\n") == 1

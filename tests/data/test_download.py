"""`quantai data download`: ccxt's real binance `fetch_ohlcv` against a local REST server:
paginated, resumable from the catalog, retried on 429 and errors, one line when offline."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from quantai_tui.cli import main
from quantai_tui.connectors.market_cache import new_exchange
from quantai_tui.core.errors import DataError
from quantai_tui.core.events import Bar
from quantai_tui.data.catalog import Catalog, to_ns
from quantai_tui.data.download import download_ohlcv, missing_ranges
from quantai_tui.paths import Paths
from tests.data.klines_server import MINUTE_MS, KlinesServer, kline

DAY_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
NS = 1_000_000


@pytest.fixture
def server() -> Iterator[KlinesServer]:
    with KlinesServer(listing_ms=DAY_MS - 3 * 86_400_000, page_cap=500) as s:
        yield s


def _bars(paths: Paths, start: str, end: str) -> list[Bar]:
    cat = Catalog(paths)
    files = cat.find(symbol="BTC/USDT", kind="bars", timeframe="1m", start=start, end=end, exchange="binance")
    return [ev for batch in cat.read(files, start=start, end=end) for ev in batch]  # type: ignore[misc]


def _check(bars: list[Bar], first_ms: int, n: int) -> None:
    assert [b.ts_event // NS - MINUTE_MS for b in bars] == [first_ms + i * MINUTE_MS for i in range(n)]
    for b in bars[:50]:
        k = kline(b.ts_event // NS - MINUTE_MS)
        assert (b.open, b.high, b.low, b.close, b.volume) == tuple(float(x) for x in k[1:6])
        assert b.venue == "binance" and b.timeframe == "1m" and b.closed


def test_paginates_and_lands_in_the_catalog(server: KlinesServer, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["data", "download", "--exchange", "binance", "--symbol", "BTC/USDT", "--timeframe", "1m",
            "--start", "2024-01-01", "--end", "2024-01-02", "--rest-url", server.url]
    assert main(args) == 0
    out = capsys.readouterr()
    assert "downloaded 1,440 bars in 3 requests" in out.err
    assert len(server.requests) == 3  # 500 + 500 + 440: pages follow one another
    starts = [int(q["startTime"]) for q in server.requests]
    assert starts == [DAY_MS, DAY_MS + 500 * MINUTE_MS, DAY_MS + 1000 * MINUTE_MS]
    files = [Path(line) for line in out.out.split()]
    assert len(files) == 1 and files[0].parent.parts[-3:] == ("catalog", "binance", "BTC-USDT")
    _check(_bars(Paths(), "2024-01-01", "2024-01-02"), DAY_MS, 1440)
    # nothing new to fetch the second time
    assert main(args) == 0
    assert "downloaded 0 bars in 0 requests; 1,440 were already in the catalog" in capsys.readouterr().err
    assert len(server.requests) == 3


def test_resumes_after_the_last_bar_and_fills_holes(server: KlinesServer, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["data", "download", "--exchange", "binance", "--symbol", "BTC/USDT", "--rest-url", server.url]
    assert main([*base, "--start", "2024-01-01T06:00", "--end", "2024-01-01T12:00"]) == 0
    server.requests.clear()
    assert main([*base, "--start", "2024-01-01", "--end", "2024-01-02"]) == 0
    # only the two missing stretches were asked for
    assert int(server.requests[0]["startTime"]) == DAY_MS
    later = [int(q["startTime"]) for q in server.requests if int(q["startTime"]) >= DAY_MS + 6 * 60 * MINUTE_MS]
    assert later[0] == DAY_MS + 12 * 60 * MINUTE_MS
    assert "360 were already in the catalog" in capsys.readouterr().err
    _check(_bars(Paths(), "2024-01-01", "2024-01-02"), DAY_MS, 1440)


async def test_an_interrupted_download_continues_from_its_last_chunk(server: KlinesServer, tmp_path: Path) -> None:
    cat = Catalog(dirs=[tmp_path])
    start, end = DAY_MS * NS, (DAY_MS + 1440 * MINUTE_MS) * NS
    server.fail_after = 2  # the venue breaks down after two pages
    ex = new_exchange("binance", rest_url=server.url, options={"fetchMarkets": {"types": ["spot"]}})
    try:
        with pytest.raises(DataError, match="binance: fetch_ohlcv failed|cannot reach binance"):
            await download_ohlcv(ex, venue="binance", symbol="BTC/USDT", timeframe="1m", start_ns=start, end_ns=end,
                                 out_dir=tmp_path, catalog=cat, chunk_bars=500, retries=1, retry_delay_s=0.01)
        assert cat.bar_coverage("binance", "BTC/USDT", "1m") == [(start, start + 999 * MINUTE_MS * NS)]
        server.fail_after = None
        server.fail_429 = 2  # and then it rate-limits twice: retried
        server.requests.clear()
        res = await download_ohlcv(ex, venue="binance", symbol="BTC/USDT", timeframe="1m", start_ns=start,
                                   end_ns=end, out_dir=tmp_path, catalog=cat, retries=3, retry_delay_s=0.01,
                                   rate_limit_delay_s=0.01)
    finally:
        await ex.close()
    assert res.bars == 440 and res.already == 1000
    assert int(server.requests[0]["startTime"]) == DAY_MS + 1000 * MINUTE_MS
    bars = [ev for batch in cat.read(cat.find("BTC/USDT", "bars", "1m")) for ev in batch]
    _check(bars, DAY_MS, 1440)  # type: ignore[arg-type]


async def test_stops_at_the_listing_and_at_the_last_closed_bar(tmp_path: Path) -> None:
    with KlinesServer(listing_ms=DAY_MS + 100 * MINUTE_MS, now_ms=DAY_MS + 300 * MINUTE_MS) as srv:
        ex = new_exchange("binance", rest_url=srv.url, options={"fetchMarkets": {"types": ["spot"]}})
        try:
            res = await download_ohlcv(ex, venue="binance", symbol="BTC/USDT", timeframe="1m",
                                       start_ns=(DAY_MS - 86_400_000) * NS, end_ns=(DAY_MS + 86_400_000) * NS,
                                       out_dir=tmp_path, catalog=Catalog(dirs=[tmp_path]),
                                       now_ns=lambda: (DAY_MS + 300 * MINUTE_MS + 30_000) * NS)
        finally:
            await ex.close()
    # bars open from the listing up to the last closed one (the bar opened at `now` is forming)
    assert res.bars == 200
    bars = [ev for batch in Catalog(dirs=[tmp_path]).read(Catalog(dirs=[tmp_path]).find("BTC/USDT")) for ev in batch]
    _check(bars, DAY_MS + 100 * MINUTE_MS, 200)  # type: ignore[arg-type]


def test_offline_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc = main(["data", "download", "--exchange", "binance", "--symbol", "BTC/USDT", "--start", "2024-01-01",
               "--end", "2024-01-02", "--rest-url", f"http://127.0.0.1:{port}"])
    err = capsys.readouterr().err
    assert rc == 1 and err.startswith("quantai: error: binance") and err.count("\n") == 1


def test_missing_ranges() -> None:
    m = 60
    assert missing_ranges([], 0, 10 * m, m) == [(0, 10 * m)]
    assert missing_ranges([(2 * m, 4 * m)], 0, 10 * m, m) == [(0, 2 * m), (5 * m, 10 * m)]
    assert missing_ranges([(0, 9 * m)], 0, 10 * m, m) == []
    assert missing_ranges([(-5 * m, 2 * m), (6 * m, 20 * m)], 0, 10 * m, m) == [(3 * m, 6 * m)]
    assert to_ns("2024-01-01") == DAY_MS * NS

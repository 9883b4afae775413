"""`--symbol --timeframe --start --end` instead of --data: a query of the local catalog
(files that `quantai data import` put there, in the QuantAI recording schema)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from quantai_tui.backtest import CatalogQuery, run_backtest
from quantai_tui.core.errors import DataError


def quantai(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "quantai_tui", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture
def catalog(market):
    for day in ("27", "28"):
        p = quantai("data", "import", str(market / "nautilus" / f"ADABTC-1m-2021-11-{day}.csv"),
                    "--format", "binance-klines", "--symbol", "ADA/BTC", "--exchange", "binance")
        assert p.returncode == 0, p.stderr


def test_backtest_from_a_catalog_query(catalog):
    p = quantai("backtest", "--strategy", "ma_crossover", "--symbol", "ADA/BTC", "--timeframe", "1m",
                "--start", "2021-11-27", "--end", "2021-11-29", "--param", "fast=2", "--param", "slow=3",
                "--param", "qty=1000", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["ticks"] == 21 and out["symbols"] == ["ADA/BTC"] and out["venue"] == "binance"
    res = run_backtest("ma_crossover", CatalogQuery("ADA/BTC", "1m", "2021-11-28", "2021-11-29"),
                       {"fast": 2, "slow": 3, "qty": "1000"})
    assert res.ticks == 11  # one day of the two (the files hold 10 and 11 bars)


def test_nothing_in_the_catalog_is_a_clear_error(catalog):
    with pytest.raises(DataError, match="no bars 1m for ETH/BTC .* in the local catalog"):
        run_backtest("ma_crossover", CatalogQuery("ETH/BTC", "1m", "2021-11-27", "2021-11-29"))
    p = quantai("backtest", "--strategy", "ma_crossover", "--symbol", "ETH/BTC", "--timeframe", "1m")
    assert p.returncode == 1 and p.stderr.startswith("quantai: error: no bars 1m for ETH/BTC")

"""`quantai backtest` and `quantai sweep` as a user runs them (subprocesses, real data)."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
KEYS = ("ticks", "elapsed_s", "orders", "fills", "final_equity", "return_pct", "cagr_pct", "sharpe", "sortino",
        "max_drawdown_pct", "win_rate", "profit_factor", "exposure_pct")


def quantai(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-m", "quantai_tui", *args], capture_output=True, text=True,
                          cwd=cwd or REPO, env=env, timeout=300)


@pytest.fixture(scope="module")
def bars(market) -> Path:
    return market / "nautilus" / "btc-perp-20211231-20220201_1m.csv.gz"


def test_backtest_json_trades_csv_and_report(tmp_path, bars):
    fills_csv, report = tmp_path / "fills.csv", tmp_path / "out.html"
    p = quantai("backtest", "--strategy", "ma_crossover", "--data", str(bars), "--symbol", "BTC/USDT",
                "--initial-capital", "10000", "--param", "fast=10", "--param", "slow=50", "--fee-bps", "5",
                "--end", "2022-01-10",
                "--json", "--trades-out", str(fills_csv), "--report", str(report))
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)  # one JSON object, nothing else on stdout
    for k in KEYS:
        assert k in out
    assert 12_000 < out["ticks"] < 14_000 and out["orders"] >= out["fills"] > 100  # 2021-12-31 23:01 to 01-10
    assert out["params"] == {"fast": 10, "slow": 50, "qty": "0.01"}
    rows = list(csv.DictReader(fills_csv.open()))
    assert list(rows[0]) == ["ts", "symbol", "side", "qty", "price", "fee"]
    assert len(rows) == out["fills"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", rows[0]["ts"])
    assert rows[0]["symbol"] == "BTC/USDT" and rows[0]["side"] in ("BUY", "SELL")
    # fee = 5 bps of price * qty, exactly
    from decimal import Decimal

    r0 = rows[0]
    assert Decimal(r0["fee"]) == Decimal(r0["price"]) * Decimal(r0["qty"]) * Decimal("0.0005")
    html = report.read_text()
    assert html.startswith("<!doctype html>") and "<svg" in html and "Drawdown" in html
    assert "price and trades" in html and 'class="buy"' in html
    assert not re.search(r"(src|href)=[\"']?https?:", html)  # self-contained: nothing fetched


def test_backtest_human_output_has_metrics_and_a_plot(bars):
    p = quantai("backtest", "--strategy", "ma_crossover", "--data", str(bars), "--symbol", "BTC/USDT",
                "--end", "2022-01-03")
    assert p.returncode == 0, p.stderr
    for label in ("final equity", "Sharpe", "max drawdown", "win rate", "equity"):
        assert label in p.stdout
    assert "┤" in p.stdout and "█" in p.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--param", "fsat=3"], "quantai: error: ma_crossover: unknown parameter 'fsat' (parameters: fast, slow, qty)"),
    (["--param", "fast=x"], "quantai: error: ma_crossover: parameter fast must be an integer, got 'x'"),
])
def test_backtest_bad_param_is_one_line(bars, args, message):
    p = quantai("backtest", "--strategy", "ma_crossover", "--data", str(bars), "--symbol", "BTC/USDT", *args)
    assert p.returncode == 1
    assert p.stderr.strip() == message


def test_backtest_strategy_errors_name_file_and_line(tmp_path, bars):
    f = tmp_path / "bad.py"
    f.write_text("from quantai_tui.engine.strategy import Strategy\n\nclass Bad(Strategy)\n    pass\n")
    p = quantai("backtest", "--strategy", f"{f}:Bad", "--data", str(bars))
    assert p.returncode == 1
    assert f"{f}:3: syntax error" in p.stderr


def test_backtest_needs_data():
    p = quantai("backtest", "--strategy", "ma_crossover")
    assert p.returncode == 2 and "--data" in p.stderr


def test_sweep_table_and_json(market):
    data = market / "nautilus" / "binance_btcusdt-trades.parquet"
    p = quantai("sweep", "--strategy", "ma_crossover", "--data", str(data), "--grid", "fast=3:9:3",
                "--grid", "slow=10:30:10", "--jobs", "1", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["columnar"] is True and len(out["rows"]) == 9
    sharpe = [r["sharpe"] for r in out["rows"] if r["sharpe"] is not None]
    assert sharpe == sorted(sharpe, reverse=True)
    p = quantai("sweep", "--strategy", "ma_crossover", "--data", str(data), "--grid", "fast=3:6:3",
                "--grid", "slow=10:20:10", "--jobs", "1", "--sort", "return_pct")
    assert p.returncode == 0, p.stderr
    assert "fast" in p.stdout and "slow" in p.stdout and "4 runs" in p.stdout

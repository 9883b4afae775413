"""`quantai headless` from the outside: bad input fails in one line, --duration, --from-seq,
stdout closing, the metrics endpoint, and no textual anywhere on the headless path."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.headless.helpers import CHURN, REPO, TIMEOUT, cli_env, free_port, home, quantai, store_file, stored

BAD_STRATEGY = "x = (\n"


@pytest.mark.parametrize(("args", "env", "says"), [
    (["--strategy", "no_such_strategy"], {}, "unknown strategy 'no_such_strategy'"),
    (["--strategy", "ma_crossover", "--param", "fast=abc"], {}, "parameter fast must be an integer"),
    (["--strategy", "ma_crossover", "--param", "nosuch=1"], {}, "unknown parameter 'nosuch'"),
    (["--strategy", "ma_crossover", "--param", "fast=50", "--param", "slow=10"], {}, "must be below slow"),
    (["--strategy", "ma_crossover", "--param", "fast"], {}, "expected NAME=VALUE"),
    (["--strategy", "{bad_file}"], {}, "syntax error"),
    (["--duration", "soon"], {}, "bad duration"),
    (["--symbol", "DOGE/USDT"], {}, "the sim exchange has no DOGE/USDT"),
    (["--metrics-port", "70000"], {}, "--metrics-port 70000"),
    (["--mode", "live"], {}, "sim is simulated"),
    (["--exchange", "binance", "--mode", "live"], {}, "needs an API key"),
    (["--exchange", "binance", "--mode", "live"],
     {"QUANTAI_EXCHANGES__BINANCE__API_KEY_ENV": "QA_TEST_KEY", "QUANTAI_EXCHANGES__BINANCE__API_SECRET_ENV": "QA_TEST_SECRET"},
     "QA_TEST_KEY, QA_TEST_SECRET"),
    ([], {"QUANTAI_RISK__MAX_OPEN_ORDERS": "ten"}, "must be an integer"),
    (["--config", "{bad_config}"], {}, "unknown key 'risk.max_ordr'"),
])
def test_bad_input_is_one_line_and_a_nonzero_exit(tmp_path: Path, args: list[str], env: dict[str, str],
                                                   says: str) -> None:
    (tmp_path / "bad.py").write_text(BAD_STRATEGY)
    (tmp_path / "config.toml").write_text("[risk]\nmax_ordr = 1\n")
    args = [a.format(bad_file=tmp_path / "bad.py", bad_config=tmp_path / "config.toml") for a in args]
    r = quantai("headless", "--duration", "5s", *args, env=cli_env(**env))
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], r.stderr
    assert r.stdout == ""
    assert not store_file().exists()  # refused before anything started


def test_bad_choice_is_a_usage_error() -> None:
    r = quantai("headless", "--mode", "demo")
    assert r.returncode == 2 and "invalid choice: 'demo'" in r.stderr and r.stdout == ""


def test_a_taken_metrics_port_fails_in_one_line() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = quantai("headless", "--metrics-port", str(port), "--duration", "5s")
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and f"--metrics-port {port}" in lines[0], r.stderr


def test_duration_stops_on_time_with_exit_0(engines: Any) -> None:
    e = engines("--strategy", CHURN, "--duration", "3s")
    assert e.wait_exit() == 0
    last = e.records[-1]
    assert last["type"] == "EngineStopped" and "duration 3s" in last["payload"]["reason"]
    assert e.of_type("OrderFilled")  # it traded meanwhile
    assert not e.junk


def test_from_seq_replays_stored_events_then_goes_live_without_gap_or_repeat(engines: Any) -> None:
    first = engines("--strategy", CHURN, "--duration", "2s")
    assert first.wait_exit() == 0
    n1 = first.records[-1]["seq"]
    second = engines("--from-seq", "3", "--duration", "1s")
    assert second.wait_exit() == 0
    seqs = [r["seq"] for r in second.records]
    assert seqs == list(range(3, seqs[-1] + 1))
    assert [r["type"] for r in second.records[: n1 - 2]] == [r["type"] for r in first.records[2:]]
    assert seqs[-1] == stored()[-1][0]


def test_closing_stdout_stops_gracefully() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "quantai_tui", "headless", "--strategy", CHURN], cwd=REPO,
                            env=cli_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        for _ in range(20):
            assert json.loads(proc.stdout.readline())["seq"]
        proc.stdout.close()  # like `quantai headless | head -20`
        _out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    seq, kind, payload = stored()[-1]
    assert kind == "EngineStopped" and payload["reason"] == "stdout closed"
    assert b"Traceback" not in err and b"BrokenPipe" not in err


REQUIRED_METRICS = (
    "quantai_feed_latency_seconds", "quantai_book_staleness_seconds", "quantai_order_round_trip_seconds",
    "quantai_pnl_realized", "quantai_pnl_unrealized", "quantai_pnl_day", "quantai_equity",
    "quantai_risk_denials_total", "quantai_fill_rate", "quantai_orders_submitted_total",
    "quantai_orders_filled_total", "quantai_slippage_bps", "quantai_event_loop_lag_seconds",
    "quantai_trading_halted", "quantai_open_orders", "process_resident_memory_bytes",
)


def _scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):  # declared, maybe with no sample yet (a labelled counter)
            out["# " + line.split()[2]] = 0.0
        elif line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def _listening_on(port: int) -> set[str]:
    """Local addresses (hex, /proc/net/tcp spelling) listening on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            addr, _, p = local.partition(":")
            if state == "0A" and int(p, 16) == port:
                found.add(addr)
    return found


def test_metrics_endpoint_answers_with_the_named_metrics(engines: Any) -> None:
    port = free_port()
    e = engines("--strategy", CHURN, "--param", "every=4", "--metrics-port", str(port))
    e.wait_for("OrderFilled", count=3)
    deadline = time.monotonic() + TIMEOUT
    while True:  # state gauges refresh once a second: wait for the first refresh that saw fills
        m = _scrape(port)
        if m.get('quantai_fill_rate{venue="sim"}', 0) > 0 and m.get("quantai_event_loop_lag_seconds_count", 0) > 0:
            break
        assert time.monotonic() < deadline, sorted(m)
        time.sleep(0.2)
    names = {k.partition("{")[0].removeprefix("# ") for k in m}
    for metric in REQUIRED_METRICS:
        assert any(n == metric or n.startswith(metric + "_") for n in names), metric
    assert m['quantai_orders_submitted_total{venue="sim"}'] >= m['quantai_orders_filled_total{venue="sim"}'] >= 1
    assert m['quantai_order_round_trip_seconds_count{venue="sim"}'] >= 1
    assert m['quantai_feed_latency_seconds_count{kind="trades",venue="sim"}'] > 0
    assert 'quantai_book_staleness_seconds{symbol="BTC/USDT",venue="sim"}' in m
    assert m["quantai_trading_halted"] == 0
    if Path("/proc/net/tcp").exists():
        assert _listening_on(port) == {"0100007F"}  # 127.0.0.1 only
    e.signal(__import__("signal").SIGUSR1)  # a kill switch shows in the metrics, denials too
    e.wait_for("OrderDenied")
    deadline = time.monotonic() + TIMEOUT
    while (m := _scrape(port)).get("quantai_trading_halted") != 1:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert m["quantai_kill_switch_engaged_total"] == 1
    assert m['quantai_risk_denials_total{check="trading_state"}'] >= 1
    assert e.stop() == 0


def test_headless_loads_no_textual() -> None:
    code = ("import sys\n"
            "import quantai_tui.headless, quantai_tui.headless_io, quantai_tui.headless_metrics\n"
            "import quantai_tui.commands.headless\n"
            "print(','.join(m for m in ('textual', 'rich') if m in sys.modules))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ""


def test_a_whole_headless_run_loads_no_textual() -> None:
    port = free_port()  # a built-in strategy, `live` (the alias), metrics: the whole path
    code = ("import sys\n"
            "from quantai_tui.cli import main\n"
            f"rc = main(['live', '--strategy', 'ma_crossover', '--param', 'fast=2', '--param', 'slow=3',"
            f" '--duration', '2s', '--metrics-port', '{port}'])\n"
            "sys.stderr.write('LOADED=' + ','.join(m for m in ('textual', 'rich') if m in sys.modules) + '\\n')\n"
            "sys.exit(rc)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=TIMEOUT,
                       env=cli_env())
    assert r.returncode == 0, r.stderr
    assert "LOADED=\n" in r.stderr
    assert json.loads(r.stdout.splitlines()[-1])["type"] == "EngineStopped"
    assert home().exists()


def test_an_unreachable_venue_at_start_is_exit_5_with_the_reason() -> None:
    r = quantai("headless", "--exchange", "binance", "--symbol", "BTC/USDT", "--rest-url", "http://127.0.0.1:9",
                "--ws-url", "ws://127.0.0.1:9/stream", "--duration", "5s")
    assert r.returncode == 5, r.stderr
    errors = [line for line in r.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "could not start" in errors[0] and "binance" in errors[0], r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""

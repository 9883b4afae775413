"""`quantai headless` as a server runs it: trade on sim, crash (SIGKILL) and restart, stop on
signals, engage the kill switch; every assertion reads the JSON lines and the store."""

from __future__ import annotations

import signal
from decimal import Decimal
from typing import Any

import pytest

from tests.headless.helpers import (
    CHURN,
    cli_env,
    filled_qty,
    home,
    limit_coids,
    open_limit_orders,
    quantai,
    stored,
)

ORDER_SIZE = Decimal("0.0001")  # the churn strategy's qty


def _accepted_limits(e: Any, n: int) -> set[str]:
    """Wait until `n` resting limit orders are accepted; their client order ids."""
    limits: set[str] = set()

    def pred(r: dict[str, Any]) -> bool:
        if r["type"] == "OrderSubmitted" and r["payload"]["order_type"] == "LIMIT":
            limits.add(r["payload"]["client_order_id"])
        return r["type"] == "OrderAccepted" and r["payload"]["client_order_id"] in limits

    return {r["payload"]["client_order_id"] for r in e.wait_for(pred, count=n)}


def _wait_canceled(e: Any, coids: set[str], after: int) -> None:
    """Every one of `coids` gets an OrderCanceled after seq `after`."""
    e.wait_for(lambda r: r["type"] == "OrderCanceled" and r["payload"]["client_order_id"] in coids,
               count=len(coids), after=after)


def _open_at_end(e: Any) -> set[str]:
    """Orders submitted in this run that no printed event closed."""
    sent = {r["payload"]["client_order_id"] for r in e.of_type("OrderSubmitted")}
    closed = {r["payload"]["client_order_id"] for r in e.records
              if r["type"] in ("OrderCanceled", "OrderRejected", "OrderExpired")
              or (r["type"] == "OrderFilled" and r["payload"]["client_order_id"] not in limit_coids(e.records))}
    return sent - closed


def test_sigkill_mid_run_then_restart_loses_nothing_printed_and_carries_state_on(engines: Any) -> None:
    args = ("--exchange", "sim", "--symbol", "BTC/USDT", "--strategy", CHURN, "--param", "every=4", "--mode", "paper")
    e1 = engines(*args)
    e1.wait_for("OrderFilled", count=5)
    _accepted_limits(e1, 2)
    e1.wait_for("OrderFilled", count=8)  # still trading when it dies
    e1.kill9()
    assert not e1.junk, e1.junk[:3]
    printed = e1.records
    events = stored()
    by_seq = {seq: t for seq, t, _ in events}
    # every printed line is durable, with its type; printed seqs are the store's, in order, no gaps
    assert all(by_seq.get(r["seq"]) == r["type"] for r in printed)
    seqs = [r["seq"] for r in printed]
    assert seqs == list(range(1, len(seqs) + 1))
    last_stored = max(by_seq)
    assert last_stored >= seqs[-1]
    assert by_seq[last_stored] != "EngineStopped"  # it really died mid-run
    position = filled_qty(events)
    still_open = open_limit_orders(events)
    assert position > 0 and len(still_open) == 2

    e2 = engines(*args)
    started = e2.first("EngineStarted")
    assert e2.records[0]["seq"] == last_stored + 1  # carries on from the next seq
    recon = [r for r in e2.records if r["type"] == "ReconciliationCompleted" and r["seq"] < started["seq"]]
    assert recon and recon[-1]["payload"]["ok"] is True
    # the position carries on: the next fill adds to what the store had, it opens nothing new
    moved = e2.wait_for(lambda r: r["type"] in ("PositionOpened", "PositionChanged", "PositionClosed"))[0]
    assert moved["type"] == "PositionChanged"
    assert Decimal(moved["payload"]["quantity"]) == position + ORDER_SIZE
    # the open orders carry on too: the strategy sees them (it places no new resting order) ...
    assert not [r for r in e2.records if r["type"] == "OrderSubmitted" and r["payload"]["order_type"] == "LIMIT"]
    assert e2.stop() == 0
    # ... and the graceful stop cancels exactly those
    canceled = {r["payload"]["client_order_id"] for r in e2.of_type("OrderCanceled")}
    assert still_open <= canceled
    after = stored()
    assert e2.records[-1]["type"] == "EngineStopped" and e2.records[-1]["payload"]["reason"] == "SIGTERM"
    assert after[-1][0] == e2.records[-1]["seq"]  # the store was flushed: nothing after the last line
    assert {seq for seq, _, _ in after} >= {r["seq"] for r in e2.records}
    assert not open_limit_orders(after)


@pytest.mark.parametrize(("sig", "cancel_on_exit"), [(signal.SIGTERM, True), (signal.SIGINT, False)])
def test_stop_signals_are_graceful(engines: Any, sig: signal.Signals, cancel_on_exit: bool) -> None:
    env = cli_env(QUANTAI_HEADLESS__CANCEL_ON_EXIT=str(cancel_on_exit).lower())  # from the settings
    args = ("--strategy", CHURN, "--param", "every=4", "--param", "market=false")
    e = engines(*args, env=env)
    resting = _accepted_limits(e, 2)
    pid_file = home() / "data" / "run" / "engine.pid"
    assert int(pid_file.read_text()) == e.proc.pid
    e.signal(sig)
    assert e.wait_exit() == 0
    last = e.records[-1]
    assert last["type"] == "EngineStopped" and last["payload"]["reason"] == sig.name
    events = stored()
    assert events[-1][0] == last["seq"]
    canceled = {r["payload"]["client_order_id"] for r in e.of_type("OrderCanceled")}
    if cancel_on_exit:
        assert canceled == resting and not open_limit_orders(events)
    else:
        assert not canceled and open_limit_orders(events) == resting
    assert not pid_file.exists() and not (home() / "data" / "run" / "control.sock").exists()
    if not cancel_on_exit:  # left open on purpose: the next run finds them and (by default) cancels them
        e2 = engines("--duration", "1s")
        assert e2.wait_exit() == 0
        assert {r["payload"]["client_order_id"] for r in e2.of_type("OrderCanceled")} == resting


def test_sigusr1_engages_the_kill_switch_and_halted_survives_a_crash(engines: Any) -> None:
    args = ("--strategy", CHURN, "--param", "every=4")
    e1 = engines(*args)
    resting = _accepted_limits(e1, 2)
    e1.wait_for("OrderFilled", count=3)
    e1.signal(signal.SIGUSR1)
    kill = e1.first("KillSwitchEngaged")
    assert kill["payload"]["source"] == "signal"
    e1.wait_for(lambda r: r["type"] == "TradingStateChanged" and r["payload"]["state"] == "HALTED")
    _wait_canceled(e1, resting, kill["seq"])
    swept = e1.of_type("OrderCanceled", after=kill["seq"])[-1]["seq"]
    denied = e1.wait_for("OrderDenied", count=3, after=swept)  # the strategy keeps trying ...
    assert not e1.of_type("OrderSubmitted", after=kill["seq"])  # ... and nothing new gets through
    assert not e1.of_type("OrderAccepted", after=denied[0]["seq"])
    assert _open_at_end(e1) == set(), e1.story(set())
    e1.kill9()

    e2 = engines(*args)
    started = e2.first("EngineStarted")
    e2.wait_for("OrderDenied", count=3, after=started["seq"])
    assert not e2.of_type("OrderSubmitted")  # still HALTED after the restart
    assert e2.stop() == 0


def test_quantai_kill_engages_and_releases_through_the_control_socket(engines: Any) -> None:
    e = engines("--strategy", CHURN, "--param", "every=4")
    resting = _accepted_limits(e, 2)
    sock = home() / "data" / "run" / "control.sock"
    e.wait_for("OrderFilled")
    assert sock.exists()
    # one engine per profile: a second one refuses to start, in one line
    second = quantai("headless", "--duration", "5s")
    assert second.returncode == 1 and len(second.stderr.strip().splitlines()) == 1, second.stderr
    assert "another engine is running" in second.stderr and not second.stdout

    r = quantai("kill", "--reason", "test")
    assert r.returncode == 0, r.stderr
    assert "KILL SWITCH ENGAGED" in r.stdout
    kill = e.first("KillSwitchEngaged")
    assert kill["payload"]["source"] == "cli" and kill["payload"]["reason"] == "test"
    _wait_canceled(e, resting, kill["seq"])
    e.wait_for("OrderDenied", count=2, after=kill["seq"])
    assert not e.of_type("OrderSubmitted", after=kill["seq"])

    r = quantai("kill", "--release", "--yes")
    assert r.returncode == 0, r.stderr
    released = e.first("KillSwitchReleased")
    e.wait_for("OrderFilled", after=released["seq"])  # trading again
    assert e.stop() == 0

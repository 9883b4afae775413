"""Connector tests: the exchange server's captured data must be present; reconnect times
measured by the shared suite are summarised at the end of the run."""

from __future__ import annotations

from typing import Any

import pytest

RECONNECTS = pytest.StashKey[list[dict[str, Any]]]()


@pytest.fixture
def reconnect_log(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return request.config.stash.setdefault(RECONNECTS, [])


def _pct(values: list[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * q))]


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    runs = config.stash.get(RECONNECTS, [])
    if not runs:
        return
    tr = terminalreporter
    tr.section("market-data reconnects (drop detected -> resubscribed / -> book rebuilt)")
    allr: list[float] = []
    alls: list[float] = []
    for run in runs:
        r, s = run["reconnect_s"], run["resync_s"]
        allr += r
        alls += s
        if r and s:
            tr.write_line(f"{run['case']:<18} n={len(r):<3} reconnect p50 {_pct(r, .5) * 1e3:6.1f} ms  "
                          f"p99 {_pct(r, .99) * 1e3:6.1f} ms | book rebuilt p50 {_pct(s, .5) * 1e3:6.1f} ms  "
                          f"p99 {_pct(s, .99) * 1e3:6.1f} ms")
    if allr and alls:
        tr.write_line(f"{'all':<18} n={len(allr):<3} reconnect p50 {_pct(allr, .5) * 1e3:6.1f} ms  "
                      f"p99 {_pct(allr, .99) * 1e3:6.1f} ms | book rebuilt p50 {_pct(alls, .5) * 1e3:6.1f} ms  "
                      f"p99 {_pct(alls, .99) * 1e3:6.1f} ms")

"""SIGKILL at random moments, 50 times: every acknowledged (durable) event survives."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantai_tui.store.crashcheck import crash_loop


@pytest.mark.parametrize(("synchronous", "kills", "seed"), [("NORMAL", 20, 1), ("FULL", 10, 2)])
def test_acknowledged_events_survive_sigkill(tmp_path: Path, synchronous: str, kills: int, seed: int) -> None:
    path = tmp_path / "events.sqlite"
    report = crash_loop(path, kills=kills, seed=seed, synchronous=synchronous, max_run_s=0.15)
    assert report.problems == []
    assert report.kills == kills
    assert report.acknowledged > kills  # it really was appending when killed
    assert report.stored >= report.acknowledged

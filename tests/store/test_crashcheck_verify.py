"""The crash check's own judgement: what `verify` calls a problem, a child that cannot start,
and `python -m quantai_tui.store.crashcheck` as a user runs it on a disk of their own."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

from quantai_tui.store import crashcheck
from quantai_tui.store.crashcheck import crash_loop, verify


def events_file(path: Path, seqs: list[int]) -> Path:
    """An events table holding `seqs` in this insertion order (no key: duplicates allowed)."""
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE events (seq INTEGER)")
    con.executemany("INSERT INTO events VALUES (?)", [(s,) for s in seqs])
    con.commit()
    con.close()
    return path


def test_a_sound_file_has_no_problems(tmp_path: Path) -> None:
    assert verify(events_file(tmp_path / "e.sqlite", [1, 2, 3]), {1, 3}) == (3, [])
    assert verify(events_file(tmp_path / "empty.sqlite", []), set()) == (0, [])


@pytest.mark.parametrize(("seqs", "acknowledged", "problem"), [
    ([1, 2, 2, 3], set(), "duplicate seqs"),
    ([2, 1, 3], set(), "seqs not increasing in insertion order"),
    ([1, 2, 4], set(), "gap in seqs"),
    ([1, 2], {1, 2, 5, 6}, "2 acknowledged seqs lost, e.g. [5, 6]"),
])
def test_each_kind_of_damage_is_named(tmp_path: Path, seqs: list[int], acknowledged: set[int], problem: str) -> None:
    stored, problems = verify(events_file(tmp_path / "e.sqlite", seqs), acknowledged)
    assert stored == len(seqs)
    assert problem in problems


def test_a_child_that_cannot_start_is_reported_not_counted_as_a_kill(tmp_path: Path) -> None:
    not_a_store = tmp_path / "dir.sqlite"
    not_a_store.mkdir()  # the child's store cannot open a directory
    report = crash_loop(not_a_store, kills=3)
    assert report.kills == 0
    assert len(report.problems) == 1 and report.problems[0].startswith("child failed to start:")
    assert "StoreCorruptError" in report.problems[0]  # the child's own error, passed on


def test_the_command_line_checks_a_file_and_exits_by_the_verdict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", ["crashcheck", str(tmp_path / "check.sqlite"), "--kills", "1", "--producers", "2"])
    assert crashcheck.main() == 0
    out = capsys.readouterr().out
    assert out.startswith("kills=1 acknowledged=") and "problems=none" in out
    bad = tmp_path / "dir.sqlite"
    bad.mkdir()
    monkeypatch.setattr(sys, "argv", ["crashcheck", str(bad), "--kills", "1"])
    assert crashcheck.main() == 1
    assert "kills=0" in capsys.readouterr().out

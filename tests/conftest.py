"""Shared test setup: every test runs with its own QUANTAI_HOME, so nothing touches the
developer's real config, store or data; colours stay on (NO_COLOR changes snapshots)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
# ../shared/data beside the repo; QUANTAI_SHARED_DATA points elsewhere (a clone in another folder)
SHARED_DATA = Path(os.environ.get("QUANTAI_SHARED_DATA") or REPO_ROOT.parent / "shared" / "data").resolve()

os.environ.pop("NO_COLOR", None)
# pytest-xdist workers set COLUMNS=80 LINES=24: Textual and rich would size every app and table
# a subprocess draws (the tmux end-to-end test) to that instead of its own terminal
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("quantai_home")
    monkeypatch.setenv("QUANTAI_HOME", str(home))
    for name in list(os.environ):
        if name.startswith("QUANTAI_") and name not in ("QUANTAI_HOME",):
            monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def shared_data() -> Path:
    """../shared/data: real captured exchange messages and market data (read-only)."""
    assert SHARED_DATA.exists(), f"shared test data not found at {SHARED_DATA} (../shared/data beside the repo)"
    return SHARED_DATA

"""Fixtures for strategy tests: real market data from ../shared/data/market (read in place)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA


@pytest.fixture(scope="session")
def pandas_ta():
    """pandas-ta, warmed once per session (its first call compiles numba code, ~3 s)."""
    import pandas as pd
    import pandas_ta as ta

    ta.sma(pd.Series([1.0, 2.0, 3.0, 4.0]), 2)
    return ta


@pytest.fixture(scope="session")
def market() -> Path:
    d = SHARED_DATA / "market"
    assert d.exists(), f"shared market data not found at {d} (../shared/data beside the repo)"
    return d

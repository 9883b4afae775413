"""Streaming indicators for the hot path: O(1) work and O(window) memory per update.

Each one follows pandas-ta 0.4.71b0's definition exactly (see FACTS.md), so a live strategy,
a backtest and a pandas-ta research notebook agree on the same data:

    SMA        rolling mean; value from the n-th input on
    EMA        SMA-seeded at the n-th input, then y = y + alpha * (x - y), alpha = 2 / (n + 1)
    RSI        EWM with alpha = 1/n of gains and losses from the 2nd input on (not Wilder's seed)
    Bollinger  SMA middle band, sample standard deviation (ddof=1) times k
    ATR        true range, SMA-seeded at the n-th input, then RMA (alpha = 1/n)
    VWAP       typical price (h+l+c)/3 weighted by volume, reset at every UTC day start

`update(...)` returns the new value (nan until the indicator is warm); `.value` holds it and
`.ready` says whether it is warm. pandas-ta itself is for batch warm-up and research: it
compiles numba code on first use (~3 s), far too slow for a tick.
"""

from quantai_tui.engine.indicators.streaming import ATR, EMA, RSI, SMA, VWAP, Bollinger, RollingMax, RollingMin

__all__ = ["ATR", "EMA", "RSI", "SMA", "VWAP", "Bollinger", "RollingMax", "RollingMin"]

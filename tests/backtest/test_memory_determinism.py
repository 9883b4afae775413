"""Memory stays flat in the number of ticks (data streamed in batches, nothing kept per tick),
and a replay is deterministic."""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from quantai_tui.backtest import run_backtest
from quantai_tui.core.events import TradeTick
from quantai_tui.engine.strategy import Strategy


def write_trades(path: Path, n: int, seed: int = 1) -> Path:
    rng = np.random.default_rng(seed)
    ts = 1_767_225_600_000_000_000 + np.cumsum(rng.integers(1, 20_000_000, n))
    px = np.round(30_000 * np.exp(np.cumsum(rng.normal(0, 0.0002, n))), 2)
    pq.write_table(pa.table({"timestamp": ts, "price": px, "quantity": np.full(n, 0.01),
                             "side": np.where(rng.random(n) < 0.5, "buy", "sell")}), path, row_group_size=4096)
    return path


class FewOrders(Strategy):
    """Buys on the 1,000th tick and sells on the 2,000th: the same orders whatever the length."""

    name = "few_orders"

    async def on_start(self) -> None:
        self.n = 0

    async def on_tick(self, tick: TradeTick) -> None:
        self.n += 1
        if self.n == 1000:
            await self.buy("0.01")
        elif self.n == 2000:
            await self.sell("0.01")


def _peak(path: Path) -> tuple[int, int]:
    gc.collect()
    tracemalloc.start()
    try:
        res = run_backtest(FewOrders, path, initial_capital=10_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, res.ticks


@pytest.mark.slow
def test_memory_flat_with_10x_the_ticks(tmp_path, monkeypatch):
    import quantai_tui.backtest.sources as sources

    monkeypatch.setattr(sources, "BATCH_ROWS", 4096)
    small = write_trades(tmp_path / "A_USDT-trades.parquet", 20_000)
    big = write_trades(tmp_path / "B_USDT-trades.parquet", 200_000)
    run_backtest(FewOrders, small)  # imports and caches outside the measurement
    p_small, n_small = _peak(small)
    p_big, n_big = _peak(big)
    assert (n_small, n_big) == (20_000, 200_000)
    # 10x the ticks: the peak may not grow by more than a quarter (it is batches, not ticks)
    assert p_big < p_small * 1.25, (p_small, p_big)


def test_replays_are_deterministic(tmp_path, market):
    path = write_trades(tmp_path / "C_USDT-trades.parquet", 30_000, seed=5)
    a = run_backtest("ma_crossover", path, {"fast": 10, "slow": 40}, initial_capital=10_000)
    b = run_backtest("ma_crossover", path, {"fast": 10, "slow": 40}, initial_capital=10_000)
    assert a.orders > 50
    assert a.fills == b.fills  # same ids, times, prices, fees
    assert a.metrics == b.metrics and a.equity_curve == b.equity_curve and a.final_equity == b.final_equity
    bars = market / "pairs" / "freqtrade_ETH_BTC-5m.parquet"
    c = run_backtest("mean_reversion", bars, {"qty": "1"}, initial_capital=100)
    d = run_backtest("mean_reversion", bars, {"qty": "1"}, initial_capital=100)
    assert c.fills == d.fills and c.to_dict() | {"elapsed_s": 0, "ticks_per_s": 0} == d.to_dict() | {
        "elapsed_s": 0, "ticks_per_s": 0}


def test_timers_fire_on_replay_time(tmp_path):
    path = write_trades(tmp_path / "D_USDT-trades.parquet", 5_000, seed=2)
    fired = []

    class Timed(Strategy):
        name = "timed"

        async def on_start(self) -> None:
            self.start = self.now_ns()
            self.set_timer("t", 10.0)

        async def on_timer(self, event) -> None:
            fired.append(event.ts_event - self.start)

        async def on_tick(self, tick: TradeTick) -> None:
            pass

    res = run_backtest(Timed, path)
    span = (res.end_ns - res.start_ns) / 1e9
    assert len(fired) == int(span // 10)
    assert fired[:3] == [10_000_000_000, 20_000_000_000, 30_000_000_000]


def test_a_handler_that_suspends_is_a_clear_error(tmp_path):
    import asyncio

    from quantai_tui.core.errors import QuantAIError

    path = write_trades(tmp_path / "E_USDT-trades.parquet", 100)

    class Sleeper(Strategy):
        name = "sleeper"

        async def on_start(self) -> None:
            await asyncio.sleep(0.01)

    with pytest.raises(QuantAIError, match="suspended"):
        run_backtest(Sleeper, path)


class Churn(Strategy):
    """A market order every 10 ticks and a resting limit bid re-quoted every 25: thousands of
    orders, each filled or canceled; records how many order ids the strategy still tracks."""

    name = "churn"

    async def on_start(self) -> None:
        self.n = 0
        self.bid: str | None = None
        self.tracked: list[int] = []

    async def on_tick(self, tick: TradeTick) -> None:
        self.n += 1
        if self.n % 10 == 0:
            await (self.buy if self.is_flat() else self.sell)("0.01")
        if self.n % 25 == 0:
            if self.bid is not None:
                await self.cancel(self.bid)
            self.bid = await self.buy("0.01", price=tick.price * 0.9)
        if self.n % 1000 == 0:
            self.tracked.append(len(self._own_orders))


def test_a_strategy_forgets_its_closed_orders(tmp_path):
    strategy = Churn({})
    res = run_backtest(strategy, write_trades(tmp_path / "D_USDT-trades.parquet", 20_000), initial_capital=100_000)
    assert res.orders > 2_500
    # at most the resting bid and a market order not yet filled by the next trade
    assert strategy.tracked and max(strategy.tracked) <= 2


class ChurnWithFills(Churn):
    """The same orders, with on_fill: its order events are routed to it, so it tracks its open orders."""

    name = "churn_with_fills"

    async def on_fill(self, fill) -> None:  # type: ignore[no-untyped-def]
        self.fills = getattr(self, "fills", 0) + 1


def test_a_strategy_with_on_fill_tracks_only_its_open_orders(tmp_path):
    strategy = ChurnWithFills({})
    res = run_backtest(strategy, write_trades(tmp_path / "E_USDT-trades.parquet", 20_000), initial_capital=100_000)
    assert res.orders > 2_500 and strategy.fills == len(res.fills)
    assert strategy.tracked and max(strategy.tracked) <= 2

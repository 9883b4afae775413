"""Synchronous twins of async handlers (engine/strategy_sync.py): the same statements, no
coroutine per event; refused whenever the twin could differ from the handler."""

from __future__ import annotations

import asyncio
import functools
import math
from decimal import Decimal

import pytest

from quantai_tui.core.errors import StrategyError
from quantai_tui.core.events import TradeTick
from quantai_tui.engine.strategy import Param, Strategy
from quantai_tui.engine.strategy_sync import sync_twin


async def _double(x: int) -> int:
    await asyncio.sleep(0) if x < 0 else None  # never reached with x >= 0
    return 2 * x


async def _fail() -> None:
    raise ValueError("inside")


class Handlers:
    async def values(self, x: int, y: int = 3, *, z: int = 4) -> int:
        v = await _double(x)
        try:
            await _fail()
        except ValueError:
            v += 100
        if v > 1000:
            return -1
        return v + y + z + math.floor(0.5)

    async def nested(self) -> object:
        async def inner() -> int:
            return await _double(1)

        return inner

    async def sleeps(self) -> None:
        await asyncio.sleep(0.01)

    async def uses_super(self) -> None:
        return super().__init__()  # type: ignore[func-returns-value]

    async def async_for(self, items: object) -> None:
        async for _ in items:  # type: ignore[attr-defined]
            pass

    async def async_comprehension(self, items: object) -> list[int]:
        return [x async for x in items]  # type: ignore[attr-defined]

    async def await_in_genexp(self, items: list[int]) -> object:
        return (await _double(x) for x in items)

    @staticmethod
    def _wrap(f):  # type: ignore[no-untyped-def]
        @functools.wraps(f)
        async def w(*a, **k):  # type: ignore[no-untyped-def]
            return await f(*a, **k)

        return w


Handlers.wrapped = Handlers._wrap(Handlers.values)  # type: ignore[attr-defined]


def test_the_twin_runs_the_same_statements_with_the_same_values():
    twin = sync_twin(Handlers.values)
    assert twin is not None and not asyncio.iscoroutinefunction(twin)
    h = Handlers()
    assert twin(h, 5) == asyncio.run(h.values(5)) == 117
    assert twin(h, 1, 10, z=0) == asyncio.run(h.values(1, 10, z=0))
    assert twin.__qualname__ == Handlers.values.__qualname__ and twin.__defaults__ == (3,)


def test_nested_coroutines_stay_coroutines():
    twin = sync_twin(Handlers.nested)
    assert twin is not None
    assert asyncio.iscoroutinefunction(twin(Handlers()))


def test_an_await_that_would_wait_is_a_strategy_error_naming_the_handler():
    twin = sync_twin(Handlers.sleeps)
    assert twin is not None
    with pytest.raises(StrategyError, match="Handlers.sleeps suspended in a backtest"):
        twin(Handlers())


def test_no_twin_when_it_could_differ():
    for f in (Handlers.uses_super, Handlers.async_for, Handlers.async_comprehension, Handlers.await_in_genexp,
              Handlers.wrapped):  # type: ignore[attr-defined]
        assert sync_twin(f) is None, f
    z = 1

    async def closure() -> int:
        return z

    assert sync_twin(closure) is None
    ns: dict[str, object] = {}
    exec("async def no_source():\n    return 1\n", ns)  # noqa: S102
    assert sync_twin(ns["no_source"]) is None  # type: ignore[arg-type]


def test_a_source_that_no_longer_matches_the_code_gives_no_twin(tmp_path, monkeypatch):
    import importlib.util
    import linecache

    path = tmp_path / "edited_strategy.py"
    path.write_text("async def on_tick(self, tick):\n    return 1\n")
    spec = importlib.util.spec_from_file_location("edited_strategy", path)
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    path.write_text("async def on_tick(self, tick):\n    return 2\n")  # edited after import
    linecache.checkcache(str(path))
    monkeypatch.setitem(__import__("sys").modules, "edited_strategy", mod)
    assert sync_twin(mod.on_tick) is None


def test_tracebacks_point_at_the_handlers_own_lines():
    import traceback

    class Boom:
        async def on_tick(self, tick: object) -> None:
            raise RuntimeError("boom")

    twin = sync_twin(Boom.on_tick)
    assert twin is not None
    try:
        twin(Boom(), None)
    except RuntimeError as exc:
        frame = traceback.extract_tb(exc.__traceback__)[-1]
    assert frame.line == 'raise RuntimeError("boom")' and frame.filename == __file__


class Trader(Strategy):
    """Awaits in branches, a try around an order, values kept from awaited calls."""

    name = "twin_trader"
    k = Param(7, "ticks between decisions", min=1)

    async def on_start(self) -> None:
        self.n = 0
        self.ids: list[str] = []

    async def on_tick(self, tick: TradeTick) -> None:
        self.n += 1
        if self.n % self.k:
            return
        try:
            if self.position() > 0:
                coid = await self.sell(self.position())
            else:
                coid = await self.buy(Decimal("0.01"))
        except StrategyError:
            return
        self.ids.append(coid)


def test_backtests_with_and_without_twins_are_identical(tmp_path, monkeypatch):
    from quantai_tui.backtest import run_backtest
    from quantai_tui.engine import strategy as strategy_module
    from tests.backtest.test_memory_determinism import write_trades

    path = write_trades(tmp_path / "T_USDT-trades.parquet", 3000)
    with_twin = run_backtest(Trader, path, {"k": 7}, initial_capital=100_000)
    monkeypatch.setattr(strategy_module, "sync_twin", lambda f: None)
    without = run_backtest(Trader, path, {"k": 7}, initial_capital=100_000)
    key = [(f.ts, f.side, f.qty, f.price, f.fee, f.client_order_id) for f in with_twin.fills]
    assert len(key) > 100
    assert key == [(f.ts, f.side, f.qty, f.price, f.fee, f.client_order_id) for f in without.fills]
    assert with_twin.metrics == without.metrics and with_twin.final_equity == without.final_equity

"""Named tasks with kept handles: failures are logged and counted, close() cancels what is left,
two tasks of the same name are both kept; and run_sync, the backtest path's driver."""

from __future__ import annotations

import asyncio
import logging

import pytest

from quantai_tui.core.errors import QuantAIError
from quantai_tui.engine.tasks import SuspendedError, TaskGroup, run_sync


async def _answer() -> int:
    return 42


async def _waits() -> None:
    await asyncio.sleep(0)


def test_run_sync_returns_what_a_coroutine_that_never_waits_returns() -> None:
    assert run_sync(_answer()) == 42


def test_run_sync_refuses_a_coroutine_that_suspends_and_closes_it() -> None:
    coro = _waits()
    with pytest.raises(SuspendedError, match="_waits suspended on the synchronous \\(backtest\\) path"):
        run_sync(coro)
    assert coro.cr_frame is None  # closed: no "never awaited" warning, no half-run coroutine left
    assert issubclass(SuspendedError, QuantAIError)


def test_without_a_loop_spawn_runs_the_coroutine_inline() -> None:
    done: list[int] = []

    async def work() -> None:
        done.append(1)

    group = TaskGroup("bt")
    assert group.spawn(work(), "inline") is None
    assert done == [1] and group.running() == []


async def test_a_failing_task_is_logged_counted_and_forgotten(caplog: pytest.LogCaptureFixture) -> None:
    group = TaskGroup("oms")

    async def boom() -> None:
        raise RuntimeError("venue exploded")

    with caplog.at_level(logging.ERROR, logger="quantai.tasks"):
        task = group.spawn(boom(), "resolve:X")
        assert task is not None and task.get_name() == "oms:resolve:X"
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.sleep(0)
    assert group.failures == 1
    assert "task oms:resolve:X failed" in caplog.text and "venue exploded" in caplog.text
    assert group.running() == []


async def test_a_cancelled_task_is_not_a_failure() -> None:
    group = TaskGroup("k")
    task = group.spawn(asyncio.sleep(10), "sleep")
    assert task is not None and group.running() == ["k:sleep"]
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await asyncio.sleep(0)
    assert group.failures == 0 and group.running() == []


async def test_close_cancels_and_awaits_everything_left() -> None:
    group = TaskGroup("k")
    tasks = [group.spawn(asyncio.sleep(10), f"s{i}") for i in range(3)]
    await group.close()
    assert all(t is not None and t.cancelled() for t in tasks)
    assert group.running() == []


async def test_two_tasks_of_the_same_name_are_both_kept_and_both_closed() -> None:
    group = TaskGroup("oms")
    first = group.spawn(asyncio.sleep(10), "halted-cancel:A")
    second = group.spawn(asyncio.sleep(10), "halted-cancel:A")
    assert first is not None and second is not None
    assert len(group.running()) == 2 and first.get_name() != second.get_name()
    await group.close()
    assert first.cancelled() and second.cancelled()  # none left running behind close()


async def test_a_finished_task_does_not_drop_its_namesake_from_the_group() -> None:
    group = TaskGroup("oms")
    gate = asyncio.Event()

    async def quick() -> None:
        await gate.wait()

    first = group.spawn(quick(), "resolve:A")
    second = group.spawn(asyncio.sleep(10), "resolve:A")
    gate.set()
    assert first is not None and second is not None
    await first
    await asyncio.sleep(0)
    assert group.running() == [second.get_name()]  # still tracked, so close() reaches it
    await group.close()
    assert second.cancelled()

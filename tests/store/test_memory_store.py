"""The in-memory event store (backtests): the EventStore's interface, never suspending, with
seqs, replay filters and commit listeners behaving as the SQLite store's do."""

from __future__ import annotations

from quantai_tui.core.enums import AggressorSide, TradingState
from quantai_tui.core.events import TradeTick, TradingStateChanged
from quantai_tui.engine.tasks import run_sync
from quantai_tui.store.memory import MemoryStore


def tick(i: int) -> TradeTick:
    return TradeTick("sim", "BTC/USDT", 100.0 + i, 1.0, AggressorSide.BUYER, str(i), ts_event=i, ts_init=i)


def halt(i: int) -> TradingStateChanged:
    return TradingStateChanged(TradingState.HALTED, TradingState.ACTIVE, "kill", ts_event=i, ts_init=i)


def test_every_call_completes_without_suspending_and_seqs_count_up() -> None:
    store = MemoryStore()
    run_sync(store.open())  # run_sync raises SuspendedError if anything waits
    assert store.is_open
    assert store.append_nowait(tick(1), "trades.sim.BTC/USDT") == 1
    assert run_sync(store.append(tick(2), durable=True, topic="trades.sim.BTC/USDT")) == 2
    assert run_sync(store.append_many([tick(3), halt(4)])) == [3, 4]
    run_sync(store.wait_durable(4))
    run_sync(store.flush())
    assert store.last_seq == store.committed_seq == 4  # committed the moment it is appended
    assert run_sync(store.count()) == 4
    assert [(s, t) for s, t, _ in store.events] == [(1, "trades.sim.BTC/USDT"), (2, "trades.sim.BTC/USDT"), (3, ""), (4, "")]
    run_sync(store.close())
    assert not store.is_open


async def test_replay_filters_by_seq_and_type() -> None:
    store = MemoryStore()
    for i in range(1, 6):
        store.append_nowait(tick(i))
    store.append_nowait(halt(6))
    assert [s async for s, _ in store.replay()] == [1, 2, 3, 4, 5, 6]
    assert [s async for s, _ in store.replay(from_seq=5)] == [5, 6]
    got = [(s, e) async for s, e in store.replay(types={"TradingStateChanged"})]
    assert got == [(6, halt(6))]
    assert [s async for s, _ in store.replay(from_seq=2, types=["TradeTick"])] == [2, 3, 4, 5]


async def test_commit_listeners_hear_each_append_until_removed() -> None:
    store = MemoryStore()
    heard: list[list[tuple[int, object]]] = []
    listener = heard.append
    store.add_commit_listener(listener)
    store.append_nowait(tick(1))
    await store.append(tick(2))
    assert heard == [[(1, tick(1))], [(2, tick(2))]]
    store.remove_commit_listener(listener)
    store.remove_commit_listener(listener)  # removing twice is harmless
    store.append_nowait(tick(3))
    assert len(heard) == 2


def test_keep_false_keeps_only_the_count_but_still_tells_listeners() -> None:
    store = MemoryStore(keep=False)
    heard: list[int] = []
    store.add_commit_listener(lambda batch: heard.extend(s for s, _ in batch))
    for i in range(100):
        store.append_nowait(tick(i))
    assert store.events == []  # memory stays flat
    assert store.last_seq == 100 and heard == list(range(1, 101))
    assert run_sync(store.count()) == 100

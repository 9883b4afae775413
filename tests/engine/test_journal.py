"""The journal: where engine events are stored and published. Topics by event family, an event
the store refuses is still published (and counted as lost, loudly), nothing is emitted while
the engine rebuilds from the store, and derived views are published without being stored."""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from quantai_tui.core.enums import AggressorSide, TradingState
from quantai_tui.core.events import (
    BalanceUpdated,
    OrderAccepted,
    TradeTick,
    TradingStateChanged,
    VenueConnected,
)
from quantai_tui.engine.bus import MessageBus
from quantai_tui.engine.journal import Journal, topic_of
from quantai_tui.engine.tasks import run_sync
from quantai_tui.store.memory import MemoryStore
from quantai_tui.store.sqlite import EventStore


def test_topics_follow_the_event_families() -> None:
    assert topic_of(OrderAccepted("c1", "sim", "BTC/USDT", "V1", ts_event=1, ts_init=1)) == "orders.sim.BTC/USDT"
    assert topic_of(BalanceUpdated("okx", "USDT", Decimal("1"), Decimal("1"), ts_event=1, ts_init=1)) == "account.okx"
    assert topic_of(VenueConnected("bybit", ts_event=1, ts_init=1)) == "connector.bybit"
    halt = TradingStateChanged(TradingState.HALTED, TradingState.ACTIVE, "x", ts_event=1, ts_init=1)
    assert topic_of(halt) == "risk"


async def test_an_event_the_store_refuses_is_still_published_and_counted_as_lost(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = EventStore(tmp_path / "e.sqlite")  # never opened (or already closed)
    bus = MessageBus()
    got: list[Any] = []
    bus.subscribe("connector.*", got.append)
    journal = Journal(store, bus)
    ev = VenueConnected("sim", ts_event=1, ts_init=1)
    with caplog.at_level(logging.ERROR, logger="quantai.journal"):
        assert journal.emit(ev) == 0
    assert got == [ev]  # subscribers still hear it
    assert journal.lost == 1 and journal.emitted == 1
    assert "VenueConnected not stored" in caplog.text and "not open" in caplog.text


def test_while_replaying_nothing_is_stored_or_published() -> None:
    store = MemoryStore()
    bus = MessageBus()
    got: list[Any] = []
    bus.subscribe(">", got.append)
    journal = Journal(store, bus)
    journal.replaying = True
    ev = TradingStateChanged(TradingState.HALTED, TradingState.ACTIVE, "x", ts_event=1, ts_init=1)
    assert journal.emit(ev) == 0
    assert run_sync(journal.emit_durable(ev)) == 0
    assert journal.emit_durable_now(ev) == 0
    journal.publish_only(ev)
    assert store.events == [] and got == [] and journal.emitted == 0
    assert journal.wanted("risk")  # while rebuilding, everything counts
    journal.replaying = False
    assert journal.emit_durable_now(ev) == 1 and got == [ev]


def test_publish_only_tells_subscribers_without_storing() -> None:
    store = MemoryStore()
    bus = MessageBus()
    got: list[Any] = []
    bus.subscribe("trades.sim.*", got.append)
    journal = Journal(store, bus)
    tick = TradeTick("sim", "BTC/USDT", 1.0, 1.0, AggressorSide.BUYER, "t", ts_event=1, ts_init=1)
    journal.publish_only(tick, "trades.sim.BTC/USDT")
    assert got == [tick] and store.events == []


def test_events_nobody_keeps_or_hears_are_not_wanted() -> None:
    bus = MessageBus()
    flat = Journal(MemoryStore(keep=False), bus)  # a backtest's store that keeps nothing
    assert not flat.wanted("positions.sim.BTC/USDT")
    bus.subscribe("positions.>", lambda msg: None)
    assert flat.wanted("positions.sim.BTC/USDT")
    assert Journal(MemoryStore(), MessageBus()).wanted("account.sim")  # a store that keeps them

"""The shared suite every market-data connector passes (one subclass per venue, as Hummingbot
does): real sockets on 127.0.0.1, the exchange server replaying captured frames, and books
compared with a reference computed in the test from the same captured files.

No assertion depends on timing: waits poll a condition (with a generous timeout that names
what was awaited); reconnect times are measured and reported, not asserted.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import pytest

from quantai_tui.core.book import OrderBook
from quantai_tui.core.events import OrderBookDeltas, QuoteTick, TradeTick, VenueConnected, VenueDisconnected
from tests.connectors.harness import Scenario, VenueCase, barrier_number, fast_options, running
from tests.exchange_server import data_available

pytestmark = pytest.mark.skipif(not data_available(), reason="../shared/data/exchanges is not available")


def chunks(total: int, parts: int) -> list[int]:
    step = max(1, total // parts)
    return [step] * (parts - 1) + [max(0, total - step * (parts - 1))]


class ConnectorSuite:
    """Subclass with `case = SomeVenueCase()`."""

    case: ClassVar[VenueCase]

    async def _synced(self, sc: Scenario) -> None:
        await self.case.initial_sync(sc)

    # --- the book --------------------------------------------------------------------------------
    async def test_book_equals_reference(self) -> None:
        async with running(self.case) as sc:
            await self._synced(sc)
            await sc.venue.release_all()
            await sc.caught_up()
            sc.assert_book_matches()
            assert sc.client.stats()["gaps"] == 0
            assert sc.resyncs() == []
            # what was published rebuilds the same book: consumers need nothing else
            rebuilt = OrderBook(self.case.name, self.case.symbol)
            events = sc.book_events()
            assert events[0].is_snapshot
            for ev in events:
                rebuilt.apply(ev)
            assert rebuilt.as_dict() == sc.book()
            assert sum(1 for e in events if not e.is_snapshot) >= 20

    async def test_gap_resyncs_and_the_book_matches_again(self) -> None:
        async with running(self.case) as sc:
            await self._synced(sc)
            await sc.venue.release(10, symbol=self.case.native)
            sc.server.faults.skip_book_updates[self.case.native] = 1  # one update never goes out
            await sc.venue.release(10, symbol=self.case.native)
            await sc.wait(lambda: sc.client.stats()["resyncs"] >= 1, "a resync after the gap")
            await sc.venue.release_all()
            await sc.caught_up()
            sc.assert_book_matches()
            assert sc.client.stats()["gaps"] >= 1
            (ev, *_) = sc.resyncs()
            assert (ev.venue, ev.symbol) == (self.case.name, self.case.symbol)

    # --- bad input -------------------------------------------------------------------------------
    async def test_malformed_frames_are_counted_logged_and_survived(self, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.WARNING, logger="quantai.connectors")
        async with running(self.case) as sc:
            await self._synced(sc)
            bad = self.case.malformed_frames(sc.venue)  # type: ignore[attr-defined]
            await sc.venue.release(5, symbol=self.case.native)
            await sc.server.broadcast_raw(bad, channel=self.case.book_channel())
            await sc.venue.release_all()
            await sc.caught_up()
            stats = sc.client.stats()
            assert stats["malformed"] == len(bad)
            assert stats["errors"] == 0 and stats["task_failures"] == 0
            assert stats["connects"] == stats["streams"] and stats["reconnects"] == 0  # the connections survived
            assert sum("malformed frame" in r.getMessage() for r in caplog.records) == len(bad)
            sc.assert_book_matches()

    # --- connectivity ----------------------------------------------------------------------------
    async def test_reconnects_after_drops_with_no_gap_afterwards(self, reconnect_log: list[dict[str, Any]]) -> None:
        drops = 6
        async with running(self.case) as sc:
            await self._synced(sc)
            total = sum(1 for i in sc.venue.items[sc.venue.cursor :] if i.symbol == self.case.native)
            for i, n in enumerate(chunks(total, drops + 1)):
                await sc.venue.release(n, symbol=self.case.native)
                await sc.caught_up()
                sc.assert_book_matches()  # equal after every reconnect: no gap survived it
                if i < drops:
                    await sc.server.drop_connections()
                    await sc.wait(lambda i=i: sc.client.stats()["reconnects"] >= i + 1, f"reconnect #{i + 1}")
            stats = sc.client.stats()
            assert stats["reconnects"] >= drops
            assert len(sc.rec.of(VenueDisconnected)) >= drops
            assert len(sc.rec.of(VenueConnected)) >= drops + 1
            assert stats["resyncs"] >= drops  # every reconnect rebuilt the book
            reconnect_log.append({
                "venue": self.case.name, "case": type(self.case).__name__,
                "reconnect_s": list(sc.client.reconnect_times_s), "resync_s": list(sc.client.resync_times_s),
            })

    async def test_half_open_connection_is_detected_by_the_heartbeat(self) -> None:
        async with running(self.case, options=fast_options(heartbeat_timeout_s=1.0)) as sc:
            await self._synced(sc)
            await sc.venue.release(5, symbol=self.case.native)
            await sc.caught_up()
            assert sc.server.go_silent() >= 1  # the socket stays open, nothing comes through
            await sc.venue.release(10, symbol=self.case.native)  # missed by the silent connection
            await sc.wait(lambda: sc.client.stats()["heartbeat_timeouts"] >= 1, "the heartbeat timeout")
            await sc.wait(lambda: sc.client.stats()["reconnects"] >= 1, "a reconnect")
            await sc.venue.release_all()
            await sc.caught_up()
            sc.assert_book_matches()
            assert any("heartbeat timeout" in e.reason for e in sc.rec.of(VenueDisconnected))

    # --- normalised events -----------------------------------------------------------------------
    async def test_trades_and_quotes_are_normalised(self) -> None:
        async with running(self.case) as sc:
            await self._synced(sc)
            await sc.venue.release_all()
            await sc.caught_up()
            trades = [
                (t.price, t.size, t.aggressor, t.trade_id, t.ts_event)
                for t in sc.rec.of(TradeTick)
                if t.symbol == self.case.symbol and barrier_number(t.trade_id) is None
            ]
            assert trades == self.case.captured_trades(sc.venue)  # type: ignore[attr-defined]
            quotes = [q for q in sc.rec.of(QuoteTick) if q.symbol == self.case.symbol]
            assert quotes, "no quotes"
            assert all(q.ts_init >= q.ts_event > 0 or q.ts_event == q.ts_init for q in quotes)
            captured = self.case.captured_quotes(sc.venue)  # type: ignore[attr-defined]
            if captured is not None:
                assert [(q.bid, q.bid_size, q.ask, q.ask_size) for q in quotes] == captured
            else:  # derived from the same true book: the last quote is the book's top
                book = sc.client.book(self.case.symbol)
                last = quotes[-1]
                assert ((last.bid, last.bid_size), (last.ask, last.ask_size)) == (book.best_bid(), book.best_ask())
            topics = {t for t, e in sc.rec.events if isinstance(e, (TradeTick, QuoteTick, OrderBookDeltas))}
            assert all(t.split(".", 1)[1] == f"{self.case.name}.{self.case.symbol}" for t in topics)

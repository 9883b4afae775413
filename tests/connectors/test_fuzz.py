"""Fuzzing with mutated real frames: nothing escapes a connector's frame handler (so nothing can
kill its reader task), nothing is taken for a bug (`errors` stays 0: every bad frame is a
counted malformed one), and the local book never breaks its invariants (sorted, positive,
finite) whatever arrives."""

from __future__ import annotations

import asyncio
import json
import math
import random
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantai_tui.connectors.base import WebSocketMarketDataClient
from quantai_tui.core.book import OrderBook
from tests.connectors.cases import BinanceSpotCase, BinanceUsdmCase, BybitCase, OkxCase, OkxSeqCase
from tests.connectors.harness import Recorder, VenueCase, fast_options, running
from tests.exchange_server import ExchangeServer, data_available

pytestmark = pytest.mark.skipif(not data_available(), reason="../shared/data/exchanges is not available")
CASES = [BinanceSpotCase(), BinanceUsdmCase(), OkxCase(), OkxSeqCase(), BybitCase()]


def check_book(book: OrderBook) -> None:
    for side in (book.bids, book.asks):
        keys, sizes = side._keys, side._sizes
        assert keys == sorted(keys)
        assert len(keys) == len(set(keys)) == len(sizes)
        assert {k * side._sign for k in keys} == set(sizes)
        assert all(0.0 < p < math.inf and 0.0 < s < math.inf for p, s in sizes.items())


class Offline:
    """A client that is not connected, its book synced from the venue's real snapshot, and the
    real frames of its captured stream to mutate."""

    def __init__(self, case: VenueCase) -> None:
        self.case = case
        self.server = ExchangeServer(case.name)  # never started: only for the venue's data
        self.venue = case.make_venue(self.server)
        self.client: WebSocketMarketDataClient = case.make_client(self.server, Recorder(), **case.client_options)
        asyncio.run(self.client.subscribe(case.symbol, case.kinds))
        natives = {case.native}
        if case.name == "bybit":  # Bybit's trade and kline fixtures are BTCUSDT's
            asyncio.run(self.client.subscribe("BTC/USDT:USDT", ["trades", "bars"]))
            natives.add("BTCUSDT")
        self.state = self.client._states[case.symbol]
        self.streams = {k: self.client._stream(self.client._stream_for(case.symbol, k)) for k in case.kinds}
        self.frames = [(i.kind, i.text.encode()) for i in self.venue.items if i.symbol in natives]
        self.frames += [(k, t.encode()) for k, t in self.extra_frames()]

    def extra_frames(self) -> list[tuple[str, str]]:
        v = self.venue
        if self.case.name == "okx":
            return [("book", v.snapshot_frame(self.case.native)), ("quotes", v.bbo_frame(self.case.native))]
        if self.case.name == "bybit":
            from tests.exchange_server.bybit import _Derived

            v.derived_streams.setdefault(1, _Derived(v._top(1)))
            return [("book", v.book_frame(500)), ("quotes", v.book_frame(1))]
        return []

    def resync(self) -> None:
        """Put the book back in sync from the venue's snapshot (as a real connection would)."""
        c, st = self.client, self.state
        if self.case.name.startswith("binance"):
            from quantai_tui.connectors.binance.parsing import parse_depth_snapshot

            truth = self.venue.first_truth[self.case.native]
            body = {"lastUpdateId": truth.seq, "bids": [list(x) for x in truth.sorted_bids()],
                    "asks": [list(x) for x in truth.sorted_asks()]}
            st.x.sync.reset()
            st.x.buffer.clear()
            c._bridge(st, *parse_depth_snapshot(body, c.venue, st.symbol, 0))
        else:
            self.feed("book", self.extra_frames()[0][1].encode())
        assert st.synced

    def feed(self, kind: str, raw: bytes) -> None:
        stream = self.streams.get(kind) or self.streams["book"]
        self.client.on_frame(stream, None, raw)  # type: ignore[arg-type]


_OFFLINE: dict[str, Offline] = {}


def offline(case: VenueCase) -> Offline:
    key = type(case).__name__
    if key not in _OFFLINE:
        _OFFLINE[key] = Offline(case)
    return _OFFLINE[key]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12)
    | st.sampled_from(["0", "-1", "1e400", "NaN", "inf", "", "0.0", "99999999999999999999"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=8,
)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:6]):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn, frames: list[tuple[str, bytes]]) -> tuple[str, bytes]:
    kind, raw = draw(st.sampled_from(frames))
    how = draw(st.sampled_from(["bytes", "json", "json", "delete"]))
    if how == "bytes":
        data = bytearray(raw)
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(0, max(0, len(data) - 1)))
            op = draw(st.sampled_from(["flip", "cut", "insert"]))
            if op == "flip" and data:
                data[i] = draw(st.integers(32, 126))
            elif op == "cut":
                del data[i : i + draw(st.integers(1, 20))]
            else:
                data[i:i] = draw(st.binary(min_size=1, max_size=8))
        return kind, bytes(data)
    obj = json.loads(raw)
    path = draw(st.sampled_from(_paths(obj)[1:] or [()]))
    if not path:
        return kind, json.dumps(draw(json_values)).encode()
    parent = obj
    for p in path[:-1]:
        parent = parent[p]
    if how == "delete":
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(json_values)
    return kind, json.dumps(obj, allow_nan=True).encode()


@pytest.mark.parametrize("case", CASES, ids=lambda c: type(c).__name__)
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_mutated_frames_never_escape_the_handler(case: VenueCase, data: st.DataObject) -> None:
    off = offline(case)
    off.resync()
    frames = off.frames
    for _ in range(data.draw(st.integers(1, 4))):
        if data.draw(st.booleans()):
            kind, raw = data.draw(mutated(frames))
        else:
            kind, raw = data.draw(st.sampled_from(frames))
        off.feed(kind, raw)  # raising here would kill the reader task
        check_book(off.state.book)  # type: ignore[arg-type]
    assert off.client.errors == 0, "a frame was handled as a bug, not as malformed data"


@pytest.mark.parametrize("case", CASES, ids=lambda c: type(c).__name__)
async def test_mutated_frames_over_the_socket_leave_the_connection_alive(case: VenueCase) -> None:
    rng = random.Random(20261128)
    # a long heartbeat timeout: on a loaded CI machine a 1 s stall would count as a reconnect
    # that has nothing to do with the malformed frames this test sends
    async with running(case, options=fast_options(heartbeat_timeout_s=10.0)) as sc:
        await case.initial_sync(sc)
        real = [i.text for i in sc.venue.items if i.symbol == case.native]
        bad = []
        for _ in range(300):
            text = bytearray(rng.choice(real).encode())
            for _ in range(rng.randint(1, 3)):
                i = rng.randrange(len(text))
                if rng.random() < 0.5:
                    text[i] = rng.randint(32, 126)
                else:
                    del text[i : i + rng.randint(1, 10)]
            bad.append(text.decode("utf-8", "replace"))
        while sc.venue.remaining:
            await sc.venue.release(5)
            await sc.server.broadcast_raw(bad[:30], channel=case.book_channel())
            bad = bad[30:] + bad[:30]
        await sc.wait(lambda: sc.client.stats()["frames"] > 300, "the frames")
        stats = sc.client.stats()
        assert stats["reconnects"] == 0 and stats["errors"] == 0 and stats["task_failures"] == 0
        assert stats["malformed"] > 0
        check_book(sc.client.book(case.symbol))
        assert orjson.dumps(stats)  # plain numbers only

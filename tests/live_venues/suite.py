"""One suite every live venue passes (subclassed per venue in test_venues.py), over real sockets
against the local exchange server's private API, through a real kernel on a SQLite file.

Nothing is timed: waits poll state with a generous deadline; the only clock comparisons are
lower bounds (a back-off that must last at least Retry-After).
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest

from quantai_tui.connectors.credentials import Credentials
from quantai_tui.core.clock import LiveClock
from quantai_tui.core.commands import CancelAllOrders, CancelOrder, EngageKillSwitch, ModifyOrder
from quantai_tui.core.enums import OrderSide, OrderStatus, OrderType, TradingState
from quantai_tui.core.errors import ConfigError, RateLimited
from quantai_tui.core.secrets import Secret
from quantai_tui.core.values import Price, Quantity
from quantai_tui.engine.kernel import EXECUTION_FACTORIES
from quantai_tui.store.sqlite import read_events
from tests.live_venues.harness import Rig, VenueSpec

S = OrderStatus


def stored(path: Path, *types: str) -> list[Any]:
    return [ev for _, ev in read_events(path, types=types or None)]


def trade_ids(path: Path) -> Counter[str]:
    return Counter(ev.trade_id for ev in stored(path, "OrderFilled"))


class LiveVenueSuite:
    spec: ClassVar[VenueSpec]

    @pytest.fixture
    async def rig(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
        async with Rig(self.spec, tmp_path, monkeypatch) as rig:
            yield rig

    # --- round trips ---------------------------------------------------------------------------------
    async def test_submit_and_cancel(self, rig: Rig) -> None:
        k = rig.kernel()
        await k.start()
        coid = await rig.submit(k, "49000")
        await rig.until_status(k, coid, S.ACCEPTED)
        at_venue = rig.engine.by_coid[coid]
        assert k.oms.get(coid).venue_order_id == at_venue.oid  # type: ignore[union-attr]
        assert at_venue.price == Price("49000").as_decimal() and at_venue.qty == Quantity("0.010").as_decimal()
        assert (await k.execute(CancelOrder(coid))).ok
        await rig.until_status(k, coid, S.CANCELED)
        assert at_venue.status == "CANCELED"
        assert rig.engine.create_attempts[coid] == 1
        assert k.risk.state is TradingState.ACTIVE

    async def test_market_order_fills(self, rig: Rig) -> None:
        k = rig.kernel()
        await k.start()
        coid = await rig.submit(k, None, q="0.020")
        await rig.until_status(k, coid, S.FILLED)
        order = k.oms.get(coid)
        assert order is not None and order.filled_qty == Quantity("0.02")
        assert order.trade_ids == {f.trade_id for f in rig.engine.fills if f.order.coid == coid}
        if self.spec.derivative:
            assert k.portfolio.position_qty(self.spec.venue, self.spec.symbol) == rig.engine.positions[
                self.spec.native][0]

    async def test_cancel_all(self, rig: Rig) -> None:
        k = rig.kernel()
        await k.start()
        coids = [await rig.submit(k, px) for px in ("48000", "48100", "48200")]
        for c in coids:
            await rig.until_status(k, c, S.ACCEPTED)
        assert (await k.execute(CancelAllOrders(self.spec.venue))).ok
        for c in coids:
            await rig.until_status(k, c, S.CANCELED)
        assert not rig.engine.open_orders()

    async def test_amend(self, rig: Rig) -> None:
        k = rig.kernel()
        await k.start()
        coid = await rig.submit(k, "49000")
        await rig.until_status(k, coid, S.ACCEPTED)
        assert (await k.execute(ModifyOrder(coid, quantity=Quantity("0.005")))).ok
        await rig.until(lambda: k.oms.get(coid).quantity == Quantity("0.005")  # type: ignore[union-attr]
                        and k.oms.get(coid).status is S.ACCEPTED, "amended quantity")  # type: ignore[union-attr]
        assert rig.engine.by_coid[coid].qty == Quantity("0.005").as_decimal()
        await k.execute(ModifyOrder(coid, price=Price("49100")))
        if self.spec.amend_price:
            await rig.until(lambda: k.oms.get(coid).price == Price("49100")  # type: ignore[union-attr]
                            and k.oms.get(coid).status is S.ACCEPTED, "amended price")  # type: ignore[union-attr]
            assert rig.engine.by_coid[coid].price == Price("49100").as_decimal()
        else:  # refused by the venue's API: the order keeps its price, here and there
            await rig.until_status(k, coid, S.ACCEPTED)
            assert k.oms.get(coid).price == Price("49000")  # type: ignore[union-attr]
            assert rig.engine.by_coid[coid].price == Price("49000").as_decimal()
        assert rig.engine.create_attempts[coid] == 1

    async def test_kill_switch_cancels_everything(self, rig: Rig) -> None:
        k = rig.kernel()
        await k.start()
        coids = [await rig.submit(k, f"{48000 + i}") for i in range(5)]
        for c in coids:
            await rig.until_status(k, c, S.ACCEPTED)
        assert (await k.execute(EngageKillSwitch("test", "test"))).ok
        assert k.risk.state is TradingState.HALTED
        await rig.until(lambda: not rig.engine.open_orders() and k.oms.open_count == 0, "all canceled")
        res = await k.execute(rig.order("48000"))
        assert not res.ok or k.oms.get(res.client_order_id).status is not S.ACCEPTED  # type: ignore[union-attr]
        assert len(rig.engine.orders) == 5

    # --- stop orders ---------------------------------------------------------------------------------
    async def test_stop_orders_wait_for_their_trigger_and_survive_a_restart(self, rig: Rig) -> None:
        k = rig.kernel()
        await k.start()
        native = self.spec.native
        stop = await rig.submit(k, None, side=OrderSide.SELL, order_type=OrderType.STOP_MARKET,
                                trigger_price=Price("49000"))
        stop_limit = await rig.submit(k, "51100", order_type=OrderType.STOP_LIMIT, trigger_price=Price("51000"))
        spare = await rig.submit(k, None, side=OrderSide.SELL, order_type=OrderType.STOP_MARKET,
                                 trigger_price=Price("48000"))
        for c in (stop, stop_limit, spare):
            await rig.until_status(k, c, S.ACCEPTED)
        at_venue = rig.engine.by_coid
        assert at_venue[stop].trigger == Decimal("49000") and at_venue[stop_limit].price == Decimal("51100")
        rig.engine.cross(native, "50500")  # no trigger reached
        assert [at_venue[c].status for c in (stop, stop_limit, spare)] == ["UNTRIGGERED"] * 3
        rig.engine.cross(native, "48900")  # the sell stop triggers and fills at the market
        await rig.until_status(k, stop, S.FILLED)
        rig.engine.cross(native, "51050")  # the buy stop-limit triggers; its limit is not crossed
        await rig.until_status(k, stop_limit, S.FILLED)
        assert k.oms.get(stop_limit).avg_px == Decimal("51100")  # type: ignore[union-attr]
        assert k.oms.get(spare).status is S.ACCEPTED  # type: ignore[union-attr]
        await k.stop()
        k2 = rig.kernel()  # the untriggered stop is found at the venue again
        await k2.start()
        assert k2.risk.state is TradingState.ACTIVE and k2.oms.get(spare).status is S.ACCEPTED  # type: ignore[union-attr]
        assert (await k2.execute(CancelOrder(spare))).ok
        await rig.until_status(k2, spare, S.CANCELED)
        assert at_venue[spare].status == "CANCELED" and not rig.engine.open_orders()
        assert all(rig.engine.create_attempts[c] == 1 for c in (stop, stop_limit, spare))

    async def test_a_waiting_stops_trigger_moves_where_the_venue_can(self, rig: Rig) -> None:
        k = rig.kernel()
        await k.start()
        stop = await rig.submit(k, None, side=OrderSide.SELL, order_type=OrderType.STOP_MARKET,
                                trigger_price=Price("48000"))
        await rig.until_status(k, stop, S.ACCEPTED)
        res = await k.execute(ModifyOrder(stop, trigger_price=Price("49000")))
        at_venue = rig.engine.by_coid[stop]
        if not self.spec.amend_trigger:  # refused: the stop keeps its trigger, here and there
            assert not res.ok and "trigger" in res.message
            await rig.until_status(k, stop, S.ACCEPTED)
            assert k.oms.get(stop).trigger_price == Price("48000") and at_venue.trigger == Decimal("48000")  # type: ignore[union-attr]
            return
        assert res.ok, res.message
        await rig.until(lambda: k.oms.get(stop).trigger_price == Price("49000")  # type: ignore[union-attr]
                        and k.oms.get(stop).status is S.ACCEPTED, "the moved trigger")  # type: ignore[union-attr]
        assert at_venue.trigger == Decimal("49000") and at_venue.status == "UNTRIGGERED"
        rig.engine.cross(self.spec.native, "48900")  # between the old and the new trigger: it fires
        await rig.until_status(k, stop, S.FILLED)

    # --- fills --------------------------------------------------------------------------------------
    async def test_stream_fills_applied_once(self, rig: Rig) -> None:
        k = rig.kernel()
        await k.start()
        coid = await rig.submit(k, "49000", q="0.010")
        await rig.until_status(k, coid, S.ACCEPTED)
        rig.engine.cross(self.spec.native, "49000", "0.004")  # partial, then the rest
        await rig.until_status(k, coid, S.PARTIALLY_FILLED)
        rig.engine.cross(self.spec.native, "48900")
        await rig.until_status(k, coid, S.FILLED)
        order = k.oms.get(coid)
        assert order is not None and order.filled_qty == Quantity("0.01") and len(order.trade_ids) == 2
        # the venue sends everything again: the client drops what it saw, the OMS what got through
        for clear in (False, True):
            if clear:
                rig.client._seen.clear()  # noqa: SLF001 - let the duplicates reach the OMS
            for msg in list(rig.venue.pushed):
                rig.venue.push(msg)
            await rig.venue.flushed()
            n = len(rig.venue.pushed)
            await rig.until(lambda: rig.client.frames >= n, "duplicates delivered")
        assert await k.reconcile(self.spec.venue)  # fills read again over REST: nothing new
        await k.stop()
        assert order.filled_qty == Quantity("0.01") and len(order.trade_ids) == 2
        assert set(trade_ids(rig.store_path).values()) == {1} and len(trade_ids(rig.store_path)) == 2

    # --- lost replies ---------------------------------------------------------------------------------
    async def test_lost_replies_never_duplicate(self, rig: Rig) -> None:
        """5% of accepted orders lose their reply and the user stream is muted, so only the
        lookup by client order id can tell: every UNKNOWN is resolved, nothing is sent twice."""
        k = rig.kernel()
        await k.start()
        f = rig.engine.faults
        f.drop_rate, f.mute_stream = 0.05, True
        f.reseed(11)
        coids = [await rig.submit(k, f"{40000 + i}") for i in range(60)]
        assert rig.venue.dropped >= 1, "the fault never fired: pick another seed"
        await rig.until(lambda: all(k.oms.get(c).status is S.ACCEPTED for c in coids),  # type: ignore[union-attr]
                        "every order resolved")
        f.drop_rate, f.mute_stream = 0.0, False
        assert k.oms.stats["unknown"] >= rig.venue.dropped
        assert max(rig.engine.create_attempts.values()) == 1 and len(rig.engine.orders) == 60
        for c in coids:
            assert k.oms.get(c).venue_order_id == rig.engine.by_coid[c].oid  # type: ignore[union-attr]
        assert k.oms.resolver.gave_up == 0 and k.oms.resolver.not_found == 0

    async def test_late_reply_after_timeout(self, rig: Rig) -> None:
        """The venue answers only after the client gave up: UNKNOWN, then found, not resent."""
        k = rig.kernel()
        await k.start()
        f = rig.engine.faults
        f.drop_rate, f.drop_mode, f.hang_s = 1.0, "hang", 1.5
        coid = await rig.submit(k, "49000")
        f.drop_rate = 0.0
        await rig.until_status(k, coid, S.ACCEPTED)
        assert k.oms.stats["unknown"] == 1 and rig.engine.create_attempts[coid] == 1
        assert len(rig.engine.orders) == 1

    # --- reconciliation -------------------------------------------------------------------------------
    async def test_restart_reconciliation(self, rig: Rig) -> None:
        k = rig.kernel()
        await k.start()
        c1, c2, c3, c4 = [await rig.submit(k, px) for px in ("49000", "48900", "48800", "48700")]
        for c in (c1, c2, c3, c4):
            await rig.until_status(k, c, S.ACCEPTED)
        await k.stop()
        e = rig.engine  # while the engine is down: one fills, one fills in part, one is canceled
        e.fill_now(c1)
        e.fill_now(c2, "0.004")
        e.cancel(c3)
        k2 = rig.kernel()
        await k2.start()
        assert k2.risk.state is TradingState.ACTIVE, k2.last_reconcile[self.spec.venue].summary()
        assert k2.oms.get(c1).status is S.FILLED  # type: ignore[union-attr]
        assert k2.oms.get(c2).status is S.PARTIALLY_FILLED  # type: ignore[union-attr]
        assert k2.oms.get(c2).filled_qty == Quantity("0.004")  # type: ignore[union-attr]
        assert k2.oms.get(c3).status is S.CANCELED  # type: ignore[union-attr]
        assert k2.oms.get(c4).status is S.ACCEPTED  # type: ignore[union-attr]
        if self.spec.derivative:
            assert k2.portfolio.position_qty(self.spec.venue, self.spec.symbol) == e.positions[self.spec.native][0]
        assert await k2.reconcile(self.spec.venue)  # again: nothing left to apply
        await k2.stop()
        ids = trade_ids(rig.store_path)
        assert set(ids) == {f.trade_id for f in e.fills} and set(ids.values()) == {1}
        k3 = rig.kernel()  # and once more from the store alone
        await k3.start()
        assert k3.oms.get(c1).status is S.FILLED and k3.oms.get(c2).filled_qty == Quantity("0.004")  # type: ignore[union-attr]
        await k3.stop()
        assert set(trade_ids(rig.store_path).values()) == {1}

    async def test_stream_reconnect_reconciles(self, rig: Rig) -> None:
        k = rig.kernel()
        await k.start()
        c1 = await rig.submit(k, "49000")
        c2 = await rig.submit(k, "48000")
        for c in (c1, c2):
            await rig.until_status(k, c, S.ACCEPTED)
        before = k.last_reconcile.get(self.spec.venue)
        rig.server.faults.refuse_connections = 10**9  # the user stream stays down ...
        assert rig.venue.drop_user_streams() == 1
        await rig.until(lambda: self.spec.venue in k._user_down, "user stream down")  # noqa: SLF001
        rig.engine.fill_now(c1)  # ... while this fill happens: its push reaches nobody
        rig.engine.cancel(c2)
        await rig.venue.flushed()
        rig.server.faults.refuse_connections = 0
        await rig.until_status(k, c1, S.FILLED)
        await rig.until_status(k, c2, S.CANCELED)
        await rig.until(lambda: k.last_reconcile.get(self.spec.venue) is not before, "reconciled after the reconnect")
        assert k.risk.state is TradingState.ACTIVE
        await k.stop()
        assert [ev.ok for ev in stored(rig.store_path, "ReconciliationCompleted")] == [True, True]
        assert set(trade_ids(rig.store_path).values()) == {1}

    # --- rate limits -------------------------------------------------------------------------------
    @pytest.mark.parametrize("which", ["429", "ban"])
    async def test_rate_limit_backoff_honours_retry_after(self, rig: Rig, which: str) -> None:
        status = 429 if which == "429" else self.spec.ban_status
        if status is None:
            pytest.skip(f"{self.spec.venue} has no second rate-limit status")
        k = rig.kernel()
        await k.start()
        client, log = rig.client, rig.engine.requests
        # a read: retried, no sooner than Retry-After
        rig.engine.faults.throttle = [(status, 1.0)]
        n = len(log)
        await client.account()
        assert client.stats["read_retries"] >= 1
        assert log[n + 1][0] - log[n][0] >= 0.99
        # a create: not placed (rejected), and the next request waits out the pause
        rig.engine.faults.throttle = [(status, 1.0)]
        n = len(log)
        coid = (await k.execute(rig.order("49000"))).client_order_id
        assert k.oms.get(coid).status is S.REJECTED and coid not in rig.engine.create_attempts  # type: ignore[union-attr]
        coid2 = await rig.submit(k, "49000")
        await rig.until_status(k, coid2, S.ACCEPTED)
        assert log[n + 1][0] - log[n][0] >= 0.99

    async def test_rate_limit_error_carries_retry_after(self, rig: Rig) -> None:
        k = rig.kernel()
        await k.start()
        rig.engine.faults.throttle = [(429, 2.0)]
        with pytest.raises(RateLimited) as info:
            await rig.client._account()  # noqa: SLF001 - one call, without the base's retries
        assert info.value.retry_after is not None and 1.0 < info.value.retry_after <= 2.0

    # --- secrets ------------------------------------------------------------------------------------
    async def test_secrets_never_leak(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> None:
        """A unique key, secret and passphrase appear nowhere: not in logs (ccxt and websockets at
        DEBUG print request headers and frames), the store, stdout/stderr or error messages, even
        when the venue quotes the key back in its errors."""
        caplog.set_level(logging.DEBUG)
        tag = uuid.uuid4().hex
        key, secret, phrase = f"LEAKKEY{tag}", f"LEAKSECRET{tag}", f"LEAKPHRASE{tag}"
        texts: list[str] = []
        spec = self.spec
        async with Rig(spec, tmp_path, monkeypatch, key=key, secret=secret, phrase=phrase) as rig:
            k = rig.kernel()
            await k.start()
            coid = await rig.submit(k, "49000")
            await rig.until_status(k, coid, S.ACCEPTED)
            rig.engine.faults.echo_key = True  # the venue's errors now quote the API key
            rig.engine.faults.refuse_creates = 1
            refused = await rig.submit(k, "49000")
            await rig.until_status(k, refused, S.REJECTED)
            await k.execute(CancelOrder(coid))
            await rig.until_status(k, coid, S.CANCELED)
            # a wrong secret: refused REST calls (Bybit quotes the signed string, key included)
            wrong = Credentials(Secret(key), Secret(f"wrong{secret}"), Secret(phrase) if spec.passphrase else None)
            bad = spec.client_class()(spec.venue, rig.exchange_settings(), lambda e: None, LiveClock(), wrong,
                                      **{**rig.options(), "ready_timeout_s": 1.0})
            bad.ex = bad._make_exchange()  # noqa: SLF001
            for call in (bad._account(), bad._query_order("nope", spec.symbol)):  # noqa: SLF001
                try:
                    await call
                except Exception as exc:
                    texts.append(f"{exc!s} {exc!r}")
            await bad.ex.close()
            try:  # and a user stream login with it (Binance's listenKey needs only the key)
                await bad.start()
                await bad.stop()
            except Exception as exc:
                texts.append(f"{exc!s} {exc!r}")
            texts += [repr(rig.client), repr(rig.client.creds), repr(k.settings), str(rig.client.stats)]
            reasons = [ev.reason for ev in k.oms.orphans if hasattr(ev, "reason")]
            texts += reasons
            await k.stop()
        out, err = capfd.readouterr()
        store = b"".join(p.read_bytes() for p in tmp_path.glob("events.sqlite*")).decode("latin-1")
        blob = "\n".join([caplog.text, out, err, store, *texts])
        assert texts and "LEAK" not in "".join(texts)
        for value in (key, secret, phrase):
            assert value not in blob
        assert "***" in caplog.text  # the debug lines were there, redacted
        rejected = [ev.reason for ev in stored(rig.store_path, "OrderRejected")]
        assert rejected and all("***" in r for r in rejected), rejected  # the echo was redacted

    async def test_key_file_readable_by_others_is_refused(self, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
        async with Rig(self.spec, tmp_path, monkeypatch) as rig:
            monkeypatch.setitem(EXECUTION_FACTORIES, self.spec.venue, rig.registered)  # the real venue module
            path = tmp_path / "keys.toml"
            lines = [f'api_key = "{rig.key}"', f'api_secret = "{rig.secret}"']
            if self.spec.passphrase:
                lines.append(f'passphrase = "{rig.phrase}"')
            path.write_text("\n".join(lines) + "\n")
            path.chmod(0o644)
            settings = rig.settings(key_file=str(path), api_key_env="", api_secret_env="", passphrase_env="")
            k = rig.kernel(settings)
            with pytest.raises(ConfigError) as info:
                await k.start()
            await k.store.close()
            rig.kernels.remove(k)
            assert "chmod 600" in str(info.value) and rig.key not in str(info.value)
            assert not rig.engine.requests  # refused before anything reached the venue
            path.chmod(0o600)
            k2 = rig.kernel(settings)
            await k2.start()
            assert type(k2.venues[self.spec.venue]).__module__.endswith(".execution")
            coid = await rig.submit(k2, "49000")
            await rig.until_status(k2, coid, S.ACCEPTED)

"""The built-in tools on real parts: the catalog and the backtest engine, a local web server,
the event store, and the order-draft rules."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from quantai_tui.ai.context import ToolContext
from quantai_tui.ai.llm_types import ToolCall
from quantai_tui.ai.tools import ToolRunner
from quantai_tui.ai.tools_builtin import builtin_registry
from quantai_tui.ai.tools_builtin import web
from quantai_tui.paths import Paths
from quantai_tui.settings.schema import Settings
from tests.ai.ai_helpers import FakeView, import_bars


def make_runner(tmp_path: Path | None = None, *, engine: Any = None, headless: bool = False,
                settings: Settings | None = None, max_chars: int = 20_000) -> ToolRunner:
    ctx = ToolContext(settings=settings or Settings(), paths=Paths() if tmp_path else None, engine=engine,
                      headless=headless)
    return ToolRunner(builtin_registry(), ctx, max_chars=max_chars)


async def call(r: ToolRunner, name: str, **args: Any) -> Any:
    out = await r.execute(ToolCall("c", name, json.dumps(args)))
    return out


# -- data and backtests ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("bt")
    import_bars(tmp / "home", tmp, end="2025-03-04")
    return tmp / "home"


@pytest.fixture
def with_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QUANTAI_HOME", str(home))
    return home


async def test_load_data_from_the_local_catalog(with_home: Path, tmp_path: Path) -> None:
    r = make_runner(tmp_path)
    out = await call(r, "load_crypto_binance_data", sdate="2025-03-01", edate="2025-03-03", instrument="btc-usdt")
    assert out.ok, out.content
    v = out.value
    assert v["source"] == "local catalog" and v["symbol"] == "BTC/USDT" and v["bars"] == 2 * 1440
    assert v["first_bar_close"] == "2025-03-01T00:01:00Z" and v["high"] >= v["low"] > 0
    assert v["use_with"]["run_backtest"]["instrument"] == "BTC/USDT"


async def test_load_data_offline_is_a_clear_tool_error(with_home: Path, tmp_path: Path) -> None:
    r = make_runner(tmp_path)
    t0 = time.perf_counter()
    out = await call(r, "load_crypto_binance_data", sdate="2025-03-03", edate="2025-03-06", instrument="BTC/USDT")
    assert not out.ok
    assert "could not download BTC/USDT 1m bars from binance" in out.content and "offline" in out.content
    assert "the local catalog has 1,440 of the bars" in out.content
    assert time.perf_counter() - t0 < 30


async def test_load_data_bad_arguments(tmp_path: Path) -> None:
    r = make_runner(tmp_path)
    out = await call(r, "load_crypto_binance_data", sdate="yesterday", edate="2025-03-06", instrument="BTC/USDT")
    assert not out.ok and "not a date" in out.content
    out = await call(r, "load_crypto_binance_data", sdate="2025-03-01", edate="2025-03-06", instrument="BTC/USDT",
                     timeframe="7m")
    assert not out.ok and "timeframe must be one of" in out.content


async def test_run_backtest_then_analyze_it(with_home: Path, tmp_path: Path) -> None:
    r = make_runner(tmp_path)
    out = await call(r, "run_backtest", strategy="ma_crossover", instrument="BTC/USDT", start="2025-03-01",
                     end="2025-03-04", params={"fast": 10, "slow": 30})
    assert out.ok, out.content
    v = out.value
    assert v["backtest_id"] == "bt1" and v["metrics"]["trades"] > 0 and v["params"]["fast"] == 10
    assert v["data"] == "binance BTC/USDT 1m bars from 2025-03-01 to 2025-03-04"
    ana = await call(r, "analyze_strategy_performance", backtest_id="bt1")
    assert ana.ok, ana.content
    a = ana.value
    assert a["metrics"] == v["metrics"]
    assert a["diagnostics"] and all(isinstance(s, str) and s.endswith(".") for s in a["diagnostics"])
    assert a["drawdowns"] and a["drawdowns"][0]["depth_pct"] > 0
    assert a["round_trips"]["count"] == v["metrics"]["trades"]
    assert a["halves"]["first_half"]["return_pct"] is not None
    assert a["suggestions"]


async def test_backtest_errors_are_tool_errors(with_home: Path, tmp_path: Path) -> None:
    r = make_runner(tmp_path)
    out = await call(r, "run_backtest", strategy="no_such", instrument="BTC/USDT", start="2025-03-01",
                     end="2025-03-02")
    assert not out.ok and "unknown strategy 'no_such'" in out.content
    out = await call(r, "run_backtest", strategy="ma_crossover", instrument="ETH/USDT")
    assert not out.ok and "no bars or trades for ETH/USDT" in out.content and "load_crypto_binance_data" in out.content
    out = await call(r, "run_backtest", strategy="ma_crossover", instrument="BTC/USDT", start="2025-03-01",
                     end="2025-03-02", params={"fast": 50, "slow": 10})
    assert not out.ok and "fast (50) must be below slow (10)" in out.content
    out = await call(r, "analyze_strategy_performance", backtest_id="bt9")
    assert not out.ok and "no backtest 'bt9'" in out.content


async def test_list_strategies(tmp_path: Path) -> None:
    out = await call(make_runner(tmp_path), "list_strategies")
    assert out.ok
    names = {s["name"]: s for s in out.value["strategies"]}
    assert {"ma_crossover", "mean_reversion", "ai_guided"} <= set(names)
    assert names["ma_crossover"]["params"]["fast"]["default"] == 10


def test_diagnostics_on_a_hand_made_curve() -> None:
    from quantai_tui.ai.diagnostics import drawdowns, round_trips

    h = 3_600_000_000_000
    curve = [(0, 100.0), (h, 110.0), (2 * h, 99.0), (3 * h, 111.0), (4 * h, 105.0), (5 * h, 104.0)]
    dd = drawdowns(curve)
    assert [round(d.depth_pct, 2) for d in dd] == [10.0, 6.31]
    assert dd[0].peak_ns == h and dd[0].trough_ns == 2 * h and dd[0].recovered_ns == 3 * h
    assert dd[1].recovered_ns is None

    class F:
        def __init__(self, ts: int, side: str, qty: str, price: str, fee: str = "0") -> None:
            self.ts, self.symbol, self.side, self.qty, self.price, self.fee = ts, "X", side, qty, price, fee

    trips = round_trips([F(1, "BUY", "1", "10"), F(2, "SELL", "1", "12", "0.5"), F(3, "BUY", "2", "10"),
                         F(4, "SELL", "1", "9"), F(5, "SELL", "1", "8")])
    assert trips == [(1, 2, 1.5), (3, 5, -3.0)]


# -- positions and orders ------------------------------------------------------------------------


async def test_positions_and_orders_read_only(tmp_path: Path) -> None:
    r = make_runner(tmp_path, engine=FakeView())
    pos = await call(r, "get_positions")
    assert pos.ok and pos.value["positions"][0]["quantity"] == "0.05"
    orders = await call(r, "get_orders", status="all", limit=1)
    assert orders.ok and len(orders.value["orders"]) == 1
    none = await call(make_runner(None), "get_positions")
    assert none.ok and "no engine" in none.value["note"]


async def test_store_view_rebuilds_orders_and_positions(tmp_path: Path) -> None:
    from quantai_tui.ai.engine_view import StoreView
    from quantai_tui.core.commands import SubmitOrder
    from quantai_tui.core.enums import OrderSide, OrderType
    from quantai_tui.engine.kernel import Kernel, KernelConfig

    s = Settings()
    s.sim.rate = 400
    store = tmp_path / "events.sqlite"
    k = Kernel(s, KernelConfig(venues=["sim"], symbols=["BTC/USDT"], store_path=store))
    await k.start()
    try:
        for _ in range(300):
            if k.cache.mid("sim", "BTC/USDT") is not None:
                break
            await __import__("asyncio").sleep(0.01)
        inst = k.cache.instrument("sim", "BTC/USDT")
        mid = k.cache.mid("sim", "BTC/USDT")
        await k.execute(SubmitOrder("sim", "BTC/USDT", OrderSide.BUY, OrderType.MARKET, inst.make_qty("0.02")))
        rest = await k.execute(SubmitOrder("sim", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, inst.make_qty("0.01"),
                                           inst.make_price(mid * 0.97)))
        await k.store.flush()
        view = StoreView(store, venue="sim")
        open_orders = view.orders()
        assert [o["id"] for o in open_orders] == [rest.client_order_id]
        assert len(view.orders(open_only=False)) == 2
        assert view.positions()[0]["quantity"] == "0.02000"
    finally:
        await k.stop()


# -- order drafts --------------------------------------------------------------------------------


async def test_propose_order_makes_a_draft_only(tmp_path: Path) -> None:
    r = make_runner(tmp_path, engine=FakeView())
    out = await call(r, "propose_order", symbol="BTC/USDT", side="buy", quantity="0.01", order_type="limit",
                     price=69000, reason="trader asked")
    assert out.ok, out.content
    assert out.value["status"] == "DRAFT" and "Not sent" in out.value["next"]
    d = r.context.drafts.get(out.value["draft_id"])
    assert d is not None and d.quantity == Decimal("0.01") and d.price == Decimal("69000") and d.side == "BUY"
    assert d.venue == "sim" and d.mode == "paper" and not d.after_untrusted
    assert d.summary() == "BUY LIMIT 0.01 BTC/USDT @ 69000 on sim"


async def test_propose_order_drafts_stop_orders(tmp_path: Path) -> None:
    r = make_runner(tmp_path, engine=FakeView())
    out = await call(r, "propose_order", symbol="BTC/USDT", side="sell", quantity="0.01", order_type="stop_limit",
                     price=59900, trigger_price=60000)
    assert out.ok, out.content
    d = r.context.drafts.get(out.value["draft_id"])
    assert d is not None and (d.order_type, d.price, d.trigger_price) == ("STOP_LIMIT", Decimal(59900), Decimal(60000))
    assert d.summary() == "SELL STOP_LIMIT 0.01 BTC/USDT stop 60000 @ 59900 on sim"
    assert ("Trigger", "60000") in d.fields() and d.to_dict()["trigger_price"] == "60000"
    schema = next(s for s in r.schemas() if s["function"]["name"] == "propose_order")
    props = schema["function"]["parameters"]["properties"]
    assert "stop_market" in props["order_type"]["enum"] and "trigger_price" in props


@pytest.mark.parametrize(("args", "message"), [
    ({"quantity": "0.000000001"}, "not a multiple of lot"),
    ({"quantity": "0.01", "order_type": "limit", "price": "69000.123"}, "not a multiple of tick"),
    ({"quantity": "0.01", "order_type": "limit"}, "a limit order needs a positive price"),
    ({"quantity": "0.01", "price": "69000"}, "a market order takes no price"),
    ({"quantity": "-1"}, "quantity must be positive"),
    ({"quantity": "0.01", "order_type": "stop_market"}, "a stop order needs a positive trigger_price"),
    ({"quantity": "0.01", "order_type": "stop_limit", "trigger_price": "60000"}, "a stop-limit order needs a"),
    ({"quantity": "0.01", "order_type": "stop_market", "trigger_price": "60000", "price": "1"}, "takes no price"),
    ({"quantity": "0.01", "trigger_price": "60000"}, "only stop orders take a trigger_price"),
    ({"quantity": "0.01", "order_type": "stop_market", "trigger_price": "60000.001"}, "not a multiple of tick"),
    ({"quantity": "0.01", "symbol": "not a symbol"}, "symbol"),
])
async def test_propose_order_refuses_inexact_drafts(tmp_path: Path, args: dict[str, Any], message: str) -> None:
    r = make_runner(tmp_path, engine=FakeView())
    out = await call(r, "propose_order", **{"symbol": "BTC/USDT", "side": "sell", **args})
    assert not out.ok and message in out.content, out.content
    assert len(r.context.drafts) == 0


async def test_headless_drafts_say_they_are_never_sent(tmp_path: Path) -> None:
    r = make_runner(tmp_path, headless=True)
    out = await call(r, "propose_order", symbol="ETH/USDT", side="sell", quantity=1)
    assert out.ok and "headless session" in out.value["next"]


# -- fetch_url -----------------------------------------------------------------------------------

PAGE = ("<html><head><title>Funding explained</title><script>var x = 'SECRET SCRIPT';</script></head>"
        "<body><h1>Funding</h1><p>Longs pay shorts when the rate is positive.</p>" + "<p>filler</p>" * 50 +
        "</body></html>")


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/slow":
            time.sleep(3)
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", "/page.html")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/bin":
            body, ctype = b"\x00\x01\x02", "application/octet-stream"
        elif self.path == "/missing":
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        else:
            body, ctype = PAGE.encode(), "text/html; charset=utf-8"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a: Any) -> None:
        pass


class _Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the client gave up on /slow: expected


@pytest.fixture
def site() -> Iterator[str]:
    srv = _Quiet(("127.0.0.1", 0), _Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def allow_private() -> Settings:
    s = Settings()
    s.ai.fetch_allow_private = True
    return s


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:{port}/page.html", "http://localhost:{port}/page.html", "http://[::1]:{port}/",
    "http://10.0.0.7/", "http://192.168.1.1/", "http://172.16.5.4/", "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/", "http://0.0.0.0:{port}/", "http://[fe80::1]/", "http://[::ffff:127.0.0.1]:{port}/",
])
async def test_fetch_refuses_private_addresses_by_default(site: str, url: str) -> None:
    port = site.rsplit(":", 1)[1]
    out = await call(make_runner(None), "fetch_url", url=url.format(port=port))
    assert not out.ok and "refusing to fetch" in out.content and "fetch_allow_private" in out.content


@pytest.mark.parametrize(("url", "message"), [
    ("file:///etc/passwd", "only http and https"), ("ftp://example.com/x", "only http and https"),
    ("javascript:alert(1)", "only http and https"), ("http:///nohost", "no host"),
])
async def test_fetch_refuses_other_schemes(url: str, message: str) -> None:
    out = await call(make_runner(None), "fetch_url", url=url)
    assert not out.ok and message in out.content


async def test_fetch_allowed_when_configured_html_to_text(site: str) -> None:
    out = await call(make_runner(None, settings=allow_private()), "fetch_url", url=f"{site}/redirect")
    assert out.ok, out.content
    v = out.value
    assert v["title"] == "Funding explained" and v["url"].endswith("/page.html")
    assert "Longs pay shorts" in v["text"] and "SECRET SCRIPT" not in v["text"] and "<p>" not in v["text"]
    assert "Untrusted text" in v["note"]


async def test_fetch_size_time_and_type_limits(site: str) -> None:
    s = allow_private()
    s.ai.fetch_max_bytes = 200
    out = await call(make_runner(None, settings=s), "fetch_url", url=f"{site}/page.html")
    assert out.ok and out.value["truncated"] == "only the first 200 bytes were read"
    s2 = allow_private()
    s2.ai.fetch_timeout_s = 0.5
    t0 = time.perf_counter()
    slow = await call(make_runner(None, settings=s2), "fetch_url", url=f"{site}/slow")
    assert not slow.ok and "took longer than 0.5s" in slow.content and time.perf_counter() - t0 < 2.5
    binary = await call(make_runner(None, settings=allow_private()), "fetch_url", url=f"{site}/bin")
    assert not binary.ok and "application/octet-stream" in binary.content
    missing = await call(make_runner(None, settings=allow_private()), "fetch_url", url=f"{site}/missing")
    assert not missing.ok and "HTTP 404" in missing.content


async def test_fetch_checks_every_redirect_and_pins_the_checked_address(site: str,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """public.example resolves to an allowed address (our test server); it redirects to
    internal.example, which resolves to 10.1.2.3: refused, even though the first hop was fine."""
    port = int(site.rsplit(":", 1)[1])
    names = {"public.example": ["127.0.0.1"], "internal.example": ["10.1.2.3"]}
    monkeypatch.setattr(web, "_resolve", lambda host, p: names[host])
    monkeypatch.setattr(web, "_ip_allowed", lambda ip: ip == "127.0.0.1")
    ok = await call(make_runner(None), "fetch_url", url=f"http://public.example:{port}/page.html")
    assert ok.ok and "Longs pay shorts" in ok.value["text"]  # connected to the checked address

    class Redirect(_Handler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(302)
            self.send_header("Location", f"http://internal.example:{port}/page.html")
            self.send_header("Content-Length", "0")
            self.end_headers()

    srv = _Quiet(("127.0.0.1", 0), Redirect)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        out = await call(make_runner(None), "fetch_url", url=f"http://public.example:{srv.server_address[1]}/go")
    finally:
        srv.shutdown()
        srv.server_close()
    assert not out.ok and "refusing to fetch internal.example: it resolves to 10.1.2.3" in out.content


async def test_orders_seen_by_the_assistant_carry_a_stops_trigger(tmp_path: Path) -> None:
    """get_orders reads a running kernel (KernelView) or, with no engine, the store (StoreView):
    both show a stop's trigger price."""
    from quantai_tui.ai.engine_view import KernelView, StoreView
    from quantai_tui.core.commands import SubmitOrder
    from quantai_tui.core.enums import OrderSide, OrderType
    from quantai_tui.core.values import Price, Quantity
    from tests.trading.helpers import make_kernel, standard_book

    k = make_kernel(tmp_path)
    await k.start()
    standard_book(k)
    res = await k.execute(SubmitOrder("sim", "BTC/USDT", OrderSide.BUY, OrderType.STOP_MARKET, Quantity("0.01"),
                                      None, Price("51000")))
    assert res.ok, res.message
    (live,) = KernelView(k).orders()
    assert (live["type"], live["price"], live["trigger_price"]) == ("STOP_MARKET", None, "51000")
    await k.stop()
    (stored,) = StoreView(tmp_path / "events.sqlite", "sim").orders()
    assert stored["trigger_price"] == "51000" and stored["id"] == live["id"]

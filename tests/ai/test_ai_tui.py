"""The TUI's AI parts, driven by Pilot on the fake engine with a scripted local model: the chat with
a tool call (streamed answer, collapsible block), the order-draft confirmation modal (exact
fields; typed in live mode; confirming sends a SubmitOrder through the bridge), the Knowledge
screen, history per profile, and the pane without a model. SVG snapshots go to snapshots/."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from syrupy import SnapshotAssertion

from quantai_tui.ai.kb import KnowledgeBase
from quantai_tui.ai.llm import LLMClient, LLMConfig
from quantai_tui.core.commands import SubmitOrder
from quantai_tui.core.enums import OrderSide, OrderType, TradingMode
from quantai_tui.settings.schema import Settings
from quantai_tui.tui.ai_service import AIService
from quantai_tui.tui.screens.knowledge import KnowledgeScreen
from quantai_tui.tui.screens.order_draft import OrderDraftScreen
from quantai_tui.tui.widgets.chat_ai import ChatTranscript, ToolCallBlock
from tests.ai.ai_helpers import API_KEY
from tests.fakes.openai_server import FakeOpenAIServer, Reply, stream_reply, text_chunks, tool_call_chunks
from tests.tui.conftest import RootSnapshotAssertion, RootSVGExtension  # snapshots in snapshots/
from tests.tui.fake_engine import FakeEngine
from tests.tui.helpers import SIZE, make_app, screen_text, settle

FIXED_TS = 1_741_000_000.0  # 2025-03-03 11:06:40 UTC: documents' "added" column in snapshots


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return RootSnapshotAssertion(update_snapshots=snapshot.update_snapshots, extension_class=RootSVGExtension,
                                 test_location=snapshot.test_location, session=snapshot.session)


@pytest.fixture
def model() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as srv:
        yield srv


def service(tmp_path: Path, srv: FakeOpenAIServer | None, kb_dir: Path | None = None) -> AIService:
    settings = Settings()
    kb = (lambda: KnowledgeBase(kb_dir, clock=lambda: FIXED_TS, embed_threads=1)) if kb_dir else None
    if srv is None:  # no model configured
        return AIService(settings, None, env={}, kb_factory=kb, history_file=tmp_path / "chat_history.jsonl")
    settings.llm.model = "fake-model"

    def client() -> LLMClient:
        return LLMClient(LLMConfig(base_url=srv.base_url, model="fake-model", max_retries=0),
                         env={"OPENAI_API_KEY": API_KEY}, rng=random.Random(0))

    return AIService(settings, None, client_factory=client, kb_factory=kb,
                     history_file=tmp_path / "chat_history.jsonl")


def call(name: str, args: dict[str, Any], cid: str = "call_1") -> Reply:
    text = json.dumps(args)
    return stream_reply(tool_call_chunks([(cid, name, [text[: len(text) // 2], text[len(text) // 2:]])]))


def answer(text: str) -> Reply:
    words = text.split(" ")
    return stream_reply(text_chunks([w + " " for w in words[:-1]] + [words[-1]]))


async def ask(pilot: Any, text: str) -> None:
    app = pilot.app
    await settle(pilot, app)
    app.action_focus_chat()
    await pilot.pause()
    for ch in text:
        await pilot.press(ch if ch != " " else "space")
    await pilot.press("enter")
    await app.workers.wait_for_complete()
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


def transcript_text(app: Any) -> str:
    """What the chat holds (scrolled out of view or not) plus what the screen shows."""
    return app.panes.query_one(ChatTranscript).plain() + "\n" + screen_text(app)


# -- chat with a tool call -----------------------------------------------------------------------


async def test_chat_streams_an_answer_with_a_tool_block(tmp_path: Path, model: FakeOpenAIServer) -> None:
    model.enqueue(call("get_positions", {}), answer("You hold 0.02 BTC/USDT."))
    app = make_app(ai=service(tmp_path, model))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await app.engine.execute(SubmitOrder("sim", "BTC/USDT", OrderSide.BUY, OrderType.MARKET, _qty_price("0.02",
                                                                                                          "1")[0]))
        before = len(app.engine.commands)
        await ask(pilot, "what do I hold")
        t = app.panes.query_one(ChatTranscript)
        blocks = list(t.query(ToolCallBlock))
        assert len(blocks) == 1 and blocks[0].title == "✓ get_positions()"
        assert blocks[0].collapsed
        text = transcript_text(app)
        assert "› what do I hold" in text and "You hold 0.02 BTC/USDT." in text
        # the model saw the engine's positions through the read-only view
        tool_msg = model.chat_requests[1].json["messages"][-1]
        assert tool_msg["role"] == "tool" and "BTC/USDT" in tool_msg["content"]
        # audited (no kernel in the fake: kept by the service)
        assert [type(e).__name__ for e in app.options.ai.events] == ["ToolCalled", "ToolResult"]
        assert len(app.engine.commands) == before  # reading sends nothing


def test_snapshot_chat_with_a_tool_call(snap_compare: Any, tmp_path: Path, model: FakeOpenAIServer) -> None:
    model.enqueue(call("get_orders", {"status": "all", "limit": 5}),
                  answer("Two orders: the 0.05 limit buy rests at 70,000 and the 0.02 market buy filled."))

    async def run(pilot: Any) -> None:
        app = pilot.app
        await app.engine.execute(SubmitOrder("sim", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT,
                                             *_qty_price("0.05", "70000.00")))
        await ask(pilot, "show my orders")
        block = app.panes.query_one(ToolCallBlock)
        block.collapsed = False  # opened: arguments and result
        await pilot.pause()

    assert snap_compare(make_app(ai=service(tmp_path, model)), run_before=run, terminal_size=SIZE)


def _qty_price(q: str, p: str) -> tuple[Any, Any]:
    from quantai_tui.core.values import Price, Quantity

    return Quantity(q), Price(p)


async def test_failing_model_is_a_chat_line(tmp_path: Path, model: FakeOpenAIServer) -> None:
    from tests.fakes.openai_server import error_reply

    model.enqueue(error_reply(500, "model exploded"))
    app = make_app(ai=service(tmp_path, model))
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "hi")
        assert "assistant failed: HTTP 500" in transcript_text(app)
        assert API_KEY not in transcript_text(app)


async def test_no_model_says_how_to_configure_one_and_slash_commands_work(tmp_path: Path) -> None:
    app = make_app(ai=service(tmp_path, None))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert "No AI model configured" in transcript_text(app)
        await ask(pilot, "hello")
        lines = app.panes.query_one(ChatTranscript).plain()
        assert "no model configured: set [llm] model" in lines and 'model = "gpt-4o-mini"' in lines
        await ask(pilot, "/buy 0.01")
        assert [c for c in app.engine.commands if isinstance(c, SubmitOrder)]


async def test_history_is_kept_per_profile_and_restored(tmp_path: Path, model: FakeOpenAIServer) -> None:
    model.enqueue(answer("Funding is paid every 8 hours."), answer("Yes, every 8 hours."))
    svc = service(tmp_path, model)
    app = make_app(ai=svc)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "how often is funding paid")
    lines = [json.loads(x) for x in (tmp_path / "chat_history.jsonl").read_text().splitlines()]
    assert [(x["role"], x["content"]) for x in lines] == [("user", "how often is funding paid"),
                                                         ("assistant", "Funding is paid every 8 hours.")]
    app2 = make_app(ai=service(tmp_path, model))
    async with app2.run_test(size=SIZE) as pilot:
        await settle(pilot, app2)
        assert "── earlier ──" in transcript_text(app2) and "Funding is paid every 8 hours." in transcript_text(app2)
        await ask(pilot, "really")
    sent = model.chat_requests[1].json["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]  # history replayed to the model


# -- order drafts --------------------------------------------------------------------------------

DRAFT_ARGS = {"symbol": "BTC/USDT", "side": "buy", "quantity": "0.01", "order_type": "limit", "price": "70000",
              "reason": "you asked for a small bid below the market"}


async def test_draft_opens_the_modal_and_confirming_sends_exactly_it(tmp_path: Path,
                                                                    model: FakeOpenAIServer) -> None:
    model.enqueue(call("propose_order", DRAFT_ARGS), answer("I drafted a limit buy; please review it."))
    app = make_app(ai=service(tmp_path, model))
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "place a bid for 0.01 BTC at 70000")
        assert isinstance(app.screen, OrderDraftScreen)
        shown = screen_text(app)
        for text in ("Order draft d1", "BTC/USDT", "BUY", "LIMIT", "0.01", "70000", "PAPER"):
            assert text in shown
        assert "small bid" not in shown  # the model's words are not part of the order shown
        assert not [c for c in app.engine.commands if isinstance(c, SubmitOrder)]  # nothing before the yes
        await pilot.press("y")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        sent = [c for c in app.engine.commands if isinstance(c, SubmitOrder)]
        assert len(sent) == 1
        cmd = sent[0]
        assert (cmd.venue, cmd.symbol, cmd.side, cmd.order_type, str(cmd.quantity), str(cmd.price)) == \
            ("sim", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, "0.01000", "70000.00")
        assert cmd.strategy_id == "ai-draft"
        assert not isinstance(app.screen, OrderDraftScreen)
        assert "sent draft d1" in transcript_text(app)
        assert len(app.options.ai.drafts) == 0


async def test_a_stop_loss_draft_shows_its_trigger_and_sends_it(tmp_path: Path, model: FakeOpenAIServer) -> None:
    args = {"symbol": "BTC/USDT", "side": "sell", "quantity": "0.01", "order_type": "stop_market",
            "trigger_price": "60000", "reason": "protect the long"}
    model.enqueue(call("propose_order", args), answer("I drafted a stop-loss; please review it."))
    app = make_app(ai=service(tmp_path, model))
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "put a stop loss at 60000 for 0.01 BTC")
        assert isinstance(app.screen, OrderDraftScreen)
        shown = screen_text(app)
        for text in ("STOP_MARKET", "Trigger", "60000", "market"):
            assert text in shown
        await pilot.press("y")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        (cmd,) = [c for c in app.engine.commands if isinstance(c, SubmitOrder)]
        assert (cmd.side, cmd.order_type, str(cmd.quantity), cmd.price, str(cmd.trigger_price)) == \
            (OrderSide.SELL, OrderType.STOP_MARKET, "0.01000", None, "60000.00")


async def test_rejecting_or_the_kill_key_sends_nothing(tmp_path: Path, model: FakeOpenAIServer) -> None:
    model.enqueue(call("propose_order", DRAFT_ARGS), answer("Drafted."),
                  call("propose_order", DRAFT_ARGS, cid="c2"), answer("Drafted again."))
    app = make_app(ai=service(tmp_path, model))
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "bid 0.01 at 70000")
        assert isinstance(app.screen, OrderDraftScreen)
        await pilot.press("n")
        await pilot.pause()
        assert "draft d1 rejected: nothing sent" in transcript_text(app)
        await ask(pilot, "again")
        assert isinstance(app.screen, OrderDraftScreen)
        await pilot.press("ctrl+k")
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert not isinstance(app.screen, OrderDraftScreen)
        assert not [c for c in app.engine.commands if isinstance(c, SubmitOrder)]


def test_snapshot_draft_modal(snap_compare: Any, tmp_path: Path, model: FakeOpenAIServer) -> None:
    model.enqueue(call("propose_order", DRAFT_ARGS), answer("I drafted a limit buy; please review it."))
    assert snap_compare(make_app(ai=service(tmp_path, model)),
                        run_before=lambda p: ask(p, "bid 0.01 BTC at 70000"), terminal_size=SIZE)


async def test_live_draft_needs_the_order_typed(tmp_path: Path, model: FakeOpenAIServer) -> None:
    model.enqueue(call("propose_order", {**DRAFT_ARGS, "quantity": "0.02"}), answer("Drafted."))
    app = make_app(FakeEngine(seed=7, mode=TradingMode.LIVE), ai=service(tmp_path, model))
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "bid 0.02 at 70000")
        screen = app.screen
        assert isinstance(screen, OrderDraftScreen) and screen.live
        assert "LIVE" in screen_text(app) and "Type  BUY 0.02 BTC/USDT  to send" in screen_text(app)
        await pilot.press("y", "enter")  # "y" only types into the box
        await pilot.pause()
        assert "type 'BUY 0.02 BTC/USDT' exactly" in screen_text(app)
        assert not [c for c in app.engine.commands if isinstance(c, SubmitOrder)]
        screen.query_one("#typed").value = "buy 0.02 btc/usdt"
        await pilot.press("enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        sent = [c for c in app.engine.commands if isinstance(c, SubmitOrder)]
        assert len(sent) == 1 and str(sent[0].quantity) == "0.02000"


async def test_draft_that_breaks_the_instrument_rules_is_not_sent(tmp_path: Path) -> None:
    """The draft tool checks the lot; a draft for another venue is refused at confirmation too."""
    from quantai_tui.ai.drafts import OrderDraft
    from quantai_tui.core.errors import ValidationError
    from quantai_tui.tui.screens.order_draft import draft_command

    d = OrderDraft("d9", "binance", "BTC/USDT", "BUY", "MARKET", __import__("decimal").Decimal("0.01"), None)
    with pytest.raises(ValidationError, match="the draft is for binance"):
        draft_command(d, "sim", None)


# -- knowledge screen ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("kbtui") / "kb"
    kb = KnowledgeBase(d, clock=lambda: FIXED_TS, embed_threads=1)
    kb.add_text("# Funding rates\n\nLongs pay shorts every eight hours when the perpetual trades above the index.",
                source="notes/funding.md", kind="md", title="Funding rates")
    kb.add_text("# Order types\n\nA post-only limit order is cancelled instead of taking liquidity.",
                source="notes/orders.md", kind="md", title="Order types")
    kb.close()
    return d


async def test_knowledge_screen_lists_searches_adds_and_removes(tmp_path: Path, kb_dir: Path) -> None:
    import shutil

    kb = tmp_path / "kb"
    shutil.copytree(kb_dir, kb)
    new_doc = tmp_path / "risk.md"
    new_doc.write_text("# Position sizing\n\nRisk at most one percent of equity per trade.\n")
    app = make_app(ai=service(tmp_path, None, kb_dir=kb))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        app.action_knowledge()
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, KnowledgeScreen)
        assert [d.title for d in screen.docs] == ["Funding rates", "Order types"]
        screen.query_one("#query").value = "who pays funding"
        await pilot.click("#search")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.hits and screen.hits[0].title == "Funding rates"
        assert "[1] Funding rates" in screen_text(app)
        screen.query_one("#source").value = str(new_doc)
        await pilot.click("#add")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "Position sizing" in [d.title for d in screen.docs]
        assert "added: Position sizing" in screen_text(app)
        row = [d.title for d in screen.docs].index("Funding rates")
        screen.query_one("#docs").move_cursor(row=row)
        await pilot.press("delete")
        await pilot.pause()
        await pilot.press("y")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert sorted(d.title for d in screen.docs) == ["Order types", "Position sizing"]
        screen.query_one("#source").value = "/no/such/file.md"
        await pilot.click("#add")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "no such file" in screen_text(app)


def test_snapshot_knowledge_screen(snap_compare: Any, tmp_path: Path, kb_dir: Path) -> None:
    import shutil

    kb = tmp_path / "kb"
    shutil.copytree(kb_dir, kb)

    async def run(pilot: Any) -> None:
        app = pilot.app
        await settle(pilot, app)
        app.action_knowledge()
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        app.screen.query_one("#query").value = "who pays funding"
        app.screen.search("who pays funding")
        await app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(make_app(ai=service(tmp_path, None, kb_dir=kb)), run_before=run, terminal_size=SIZE)


async def test_palette_opens_the_knowledge_screen(tmp_path: Path, kb_dir: Path) -> None:
    from quantai_tui.tui.commands import ActionsProvider

    app = make_app(ai=service(tmp_path, None, kb_dir=kb_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        entry = next(e for e in ActionsProvider(app.screen).entries() if e[0] == "Knowledge base…")
        entry[1]()
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert isinstance(app.screen, KnowledgeScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, KnowledgeScreen)

"""The app's AI service: the one object in the UI that talks to the model and the knowledge base.

Widgets never call it directly: the chat controller (widgets/chat_ai.py) and the Knowledge
screen call it from workers: `ask` in an async worker (network I/O is async; tools do their
blocking work in threads), the `kb_*` and history methods in thread workers (they block).

The session is built on first use over the running engine: a read-only view for
get_positions/get_orders, and the kernel's journal as the audit sink (ToolCalled/ToolResult
land in the profile's store beside the orders). Order drafts go to `drafts`; only the draft
modal (screens/order_draft.py) can turn one into an order, after the trader confirms it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quantai_tui.ai.drafts import DraftBook
from quantai_tui.settings.schema import Settings

if TYPE_CHECKING:
    from quantai_tui.ai.agent import AgentAnswer, AgentEvent
    from quantai_tui.ai.assistant import Session
    from quantai_tui.ai.kb import AddResult, DocumentInfo, KnowledgeBase, SearchHit
    from quantai_tui.ai.llm import LLMClient
    from quantai_tui.core.instruments import Instrument
    from quantai_tui.paths import Paths
    from quantai_tui.tui.bridge import EngineFacade

log = logging.getLogger("quantai.tui.ai")
HISTORY_SHOWN = 8  # messages redrawn in the chat at start
HISTORY_KEPT = 400  # lines kept in the history file


class FacadeView:
    """The EngineFacade as the AI's read-only EngineView (no way to send a command)."""

    def __init__(self, engine: EngineFacade) -> None:
        self._engine = engine
        self.venue = engine.venue
        self.mode = engine.mode.value

    def positions(self) -> list[dict[str, Any]]:
        return [{"venue": p.venue, "symbol": p.symbol, "quantity": str(p.quantity), "avg_price": str(p.avg_price),
                 "mark": str(p.mark) if p.mark is not None else None, "unrealized_pnl": str(p.unrealized_pnl),
                 "realized_pnl": str(p.realized_pnl)} for p in self._engine.positions()]

    def orders(self, open_only: bool = True, limit: int = 50) -> list[dict[str, Any]]:
        views = [o for o in self._engine.orders() if o.is_open or not open_only][:limit]
        return [{"id": o.client_order_id, "venue": o.venue, "symbol": o.symbol, "side": o.side, "type": o.order_type,
                 "quantity": o.quantity, "filled": o.filled, "price": o.price or None, "status": o.status.value,
                 "strategy": o.strategy_id} for o in views]

    def instrument(self, symbol: str) -> Instrument | None:
        return self._engine.instrument(symbol)

    def mid(self, symbol: str) -> float | None:
        book = self._engine.book(symbol)
        if book is None:
            return None
        bid, ask = book.bids.top(1), book.asks.top(1)
        return (bid[0][0] + ask[0][0]) / 2 if bid and ask else None


class AIService:
    def __init__(self, settings: Settings, paths: Paths | None, *, env: Mapping[str, str] | None = None,
                 client_factory: Callable[[], LLMClient] | None = None,
                 kb_factory: Callable[[], KnowledgeBase] | None = None,
                 history_file: Path | None = None, sink: Callable[[Any], Any] | None = None) -> None:
        from quantai_tui.ai.assistant import model_config_error

        self.settings = settings
        self.paths = paths
        self.env = env
        self._client_factory = client_factory
        self._kb_factory = kb_factory
        self.history_file = history_file or (paths.chat_history_file if paths is not None else None)
        self._sink = sink
        self.problem = None if client_factory is not None else model_config_error(settings, env)
        self.drafts = DraftBook()
        self.events: list[Any] = []  # audit events when no kernel is attached (tests, fakes)
        self._session: Session | None = None
        self._stale: list[Session] = []
        self._engine: EngineFacade | None = None
        self._kb: KnowledgeBase | None = None
        self._kb_lock = threading.Lock()
        self._history_lock = threading.Lock()
        self.history: list[dict[str, Any]] = []
        self.tools_error: str | None = None  # [ai] tools_module failed to load (said once in the chat)
        self.tools_error_shown = False

    @property
    def configured(self) -> bool:
        return self.problem is None

    def attach(self, engine: EngineFacade) -> None:
        """The engine the session reads (and audits into); a new engine starts a new session."""
        if engine is not self._engine:
            self._engine = engine
            if self._session is not None:
                self._stale.append(self._session)  # closed by the next ask, on the event loop
            self._session = None

    # -- the conversation (async worker) ----------------------------------------------------------

    def _make_session(self) -> Session:
        from quantai_tui.ai.assistant import build_registry, build_session
        from quantai_tui.ai.audit import kernel_sink
        from quantai_tui.ai.tools import ToolDefinitionError

        engine = self._engine
        kernel = getattr(engine, "kernel", None)
        sink = self._sink or (kernel_sink(kernel) if kernel is not None else self.events.append)
        try:
            registry = build_registry(self.settings)
        except ToolDefinitionError as e:  # the chat says so once; the built-in tools still work
            from quantai_tui.ai.tools_builtin import builtin_registry

            log.error("[ai] tools_module not loaded: %s", e)
            self.tools_error = str(e)
            registry = builtin_registry()
        session = build_session(
            self.settings, self.paths, engine=FacadeView(engine) if engine is not None else None, sink=sink,
            drafts=self.drafts, kb_factory=self.kb, registry=registry, env=self.env,
            client=self._client_factory() if self._client_factory is not None else None,
        )
        session.history = [m for m in self.history if m.get("role") in ("user", "assistant")]
        return session

    async def ask(self, text: str, on_event: Callable[[AgentEvent], Any]) -> AgentAnswer:
        while self._stale:
            await self._stale.pop().client.aclose()
        if self._session is None:
            self._session = self._make_session()
        return await self._session.ask(text, on_event=on_event)

    async def aclose(self) -> None:
        """Close the model client(s) this service opened (the app calls it when it exits)."""
        while self._stale:
            await self._stale.pop().client.aclose()
        if self._session is not None:
            await self._session.client.aclose()
            self._session = None

    # -- history (thread workers) -----------------------------------------------------------------

    def load_history(self) -> list[dict[str, Any]]:
        """The profile's chat history (oldest first); a damaged line is skipped, never fatal."""
        out: list[dict[str, Any]] = []
        path = self.history_file
        if path is not None and path.exists():
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except OSError as e:
                log.warning("cannot read the chat history %s: %s", path, e)
                lines = []
            for line in lines[-HISTORY_KEPT:]:
                try:
                    item = json.loads(line)
                except ValueError:
                    continue
                if isinstance(item, dict) and isinstance(item.get("content"), str):
                    out.append(item)
        with self._history_lock:
            self.history = out
        return out

    def append_history(self, *entries: dict[str, Any]) -> None:
        path = self.history_file
        stamped = [{"ts": round(time.time(), 3), **e} for e in entries]
        with self._history_lock:
            self.history.extend(stamped)
            if path is None:
                return
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("a", encoding="utf-8") as f:
                    for e in stamped:
                        f.write(json.dumps(e, ensure_ascii=False, default=_plain) + "\n")
                if path.stat().st_size > 2_000_000:  # keep the file small: rewrite the newest lines
                    keep = path.read_text(encoding="utf-8").splitlines()[-HISTORY_KEPT:]
                    path.write_text("\n".join(keep) + "\n", encoding="utf-8")
            except OSError as e:
                log.warning("cannot write the chat history %s: %s", path, e)

    # -- knowledge base (thread workers) ----------------------------------------------------------

    def kb(self) -> KnowledgeBase:
        with self._kb_lock:
            if self._kb is None:
                if self._kb_factory is not None:
                    self._kb = self._kb_factory()
                else:
                    from quantai_tui.ai.kb import KnowledgeBase

                    if self.paths is None:
                        from quantai_tui.ai.kb import KBError

                        raise KBError("no data directory for a knowledge base")
                    # one BLAS thread: the engine and the UI share these cores
                    self._kb = KnowledgeBase(self.paths.kb_dir, chunk_size=self.settings.kb.chunk_chars,
                                             overlap=self.settings.kb.chunk_overlap, embed_threads=1)
            return self._kb

    def kb_list(self) -> list[DocumentInfo]:
        return self.kb().list()

    def kb_add(self, source: str, progress: Callable[[int, int], None] | None = None) -> AddResult:
        return self.kb().add(source.strip(), progress=progress)

    def kb_search(self, query: str, k: int = 5) -> list[SearchHit]:
        return self.kb().search(query, k)

    def kb_remove(self, doc: str) -> DocumentInfo | None:
        return self.kb().remove(doc)

    def kb_chunks(self) -> int:
        return self.kb().count_chunks()


def _plain(o: Any) -> Any:
    return str(o) if isinstance(o, Decimal) else repr(o)

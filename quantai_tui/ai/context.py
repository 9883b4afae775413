"""What tools see of the world: settings, paths, a read-only view of the engine, the knowledge
base and the session's order drafts. A ToolContext holds no way to send a command."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from quantai_tui.ai.drafts import DraftBook
from quantai_tui.core.errors import ToolError
from quantai_tui.core.secrets import Secret
from quantai_tui.settings.schema import Settings

if TYPE_CHECKING:
    from quantai_tui.ai.kb import KnowledgeBase
    from quantai_tui.core.instruments import Instrument
    from quantai_tui.data.catalog import Catalog
    from quantai_tui.paths import Paths

__all__ = ["EngineView", "ToolContext"]


@runtime_checkable
class EngineView(Protocol):
    """A read-only window on a trading engine (the kernel, the TUI's facade, or the store)."""

    venue: str
    mode: str  # paper | live | ...

    def positions(self) -> list[dict[str, Any]]: ...
    def orders(self, open_only: bool = True, limit: int = 50) -> list[dict[str, Any]]: ...
    def instrument(self, symbol: str) -> Instrument | None: ...
    def mid(self, symbol: str) -> float | None: ...


@dataclass
class ToolContext:
    settings: Settings = field(default_factory=Settings)
    paths: Paths | None = None
    engine: EngineView | None = None
    kb_factory: Callable[[], KnowledgeBase] | None = None
    drafts: DraftBook = field(default_factory=DraftBook)
    headless: bool = False  # `quantai ask` / headless: drafts are reported, never offered for sending
    secrets: tuple[Secret, ...] = ()  # redacted from everything stored or shown
    untrusted_seen: bool = False  # set once a tool returned outside text (documents, web pages)
    citations: list[dict[str, Any]] = field(default_factory=list)  # of the current question, numbered from 1
    max_results: int = 8
    _results: OrderedDict[str, Any] = field(default_factory=OrderedDict)
    _result_seq: int = 0
    _kb: KnowledgeBase | None = None
    _catalog: Catalog | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def mode(self) -> str:
        return self.engine.mode if self.engine is not None else self.settings.general.mode

    @property
    def kb(self) -> KnowledgeBase:
        with self._lock:
            if self._kb is None:
                if self.kb_factory is not None:
                    self._kb = self.kb_factory()
                elif self.paths is not None:
                    from quantai_tui.ai.kb import KnowledgeBase

                    self._kb = KnowledgeBase(self.paths.kb_dir, chunk_size=self.settings.kb.chunk_chars,
                                             overlap=self.settings.kb.chunk_overlap)
                else:
                    raise ToolError("no knowledge base is configured here")
            return self._kb

    @property
    def catalog(self) -> Catalog:
        with self._lock:
            if self._catalog is None:
                from quantai_tui.data.catalog import Catalog

                self._catalog = Catalog(self.paths)
            return self._catalog

    def cite(self, source: str, title: str, section: str, chunk: int) -> int:
        """The citation number of a passage in the current answer (the same passage, the same n)."""
        with self._lock:
            for c in self.citations:
                if c["source"] == source and c["chunk"] == chunk:
                    return int(c["n"])
            n = len(self.citations) + 1
            self.citations.append({"n": n, "source": source, "title": title, "section": section, "chunk": chunk})
            return n

    # -- backtest results kept for follow-up questions (analyze_strategy_performance) ---------

    def keep_result(self, result: Any) -> str:
        with self._lock:
            self._result_seq += 1
            rid = f"bt{self._result_seq}"
            self._results[rid] = result
            while len(self._results) > self.max_results:
                self._results.popitem(last=False)
            return rid

    def result(self, result_id: str) -> Any:
        with self._lock:
            found = self._results.get(result_id)
            known = ", ".join(self._results) or "none yet"
        if found is None:
            raise ToolError(f"no backtest {result_id!r} in this conversation (known: {known}); run_backtest first")
        return found

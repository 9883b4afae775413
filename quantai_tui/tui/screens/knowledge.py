"""The Knowledge screen: the documents the assistant searches. List, add a path or URL, search
(with citations), remove. Every knowledge-base call blocks (disk, embedding), so each runs in a
thread worker through the app's AIService and reports back with call_from_thread."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Input, Static

if TYPE_CHECKING:
    from quantai_tui.ai.kb import DocumentInfo, SearchHit
    from quantai_tui.tui.ai_service import AIService


class KnowledgeScreen(Screen[None]):
    DEFAULT_CSS = """
    KnowledgeScreen { background: $background; }
    KnowledgeScreen > #kb { border: round $panel-lighten-2; border-title-color: $accent; border-title-style: bold;
                            background: $surface; height: 1fr; padding: 0 1; }
    KnowledgeScreen .row { height: 3; }
    KnowledgeScreen .row > Input { width: 1fr; }
    KnowledgeScreen .row > Button { margin-left: 1; min-width: 12; }
    KnowledgeScreen #docs { height: 1fr; min-height: 5; }
    KnowledgeScreen #results { height: 1fr; min-height: 5; border-top: solid $panel-lighten-2; }
    KnowledgeScreen #results > Static { height: auto; margin-bottom: 1; }
    KnowledgeScreen #status { height: 1; color: $foreground-muted; }
    KnowledgeScreen #status.-error { color: $error; }
    """
    BINDINGS = [
        Binding("escape", "close", "close", id="kb_close"),
        Binding("delete", "remove", "remove", id="kb_remove"),
    ]

    def __init__(self, service: AIService, *, blink: bool = True) -> None:
        super().__init__(id="knowledge")
        self.service = service
        self._blink = blink
        self.docs: list[DocumentInfo] = []
        self.hits: list[SearchHit] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="kb") as box:
            box.border_title = "Knowledge base"
            with Horizontal(classes="row"):
                yield Input(placeholder="a file (md, txt, html, pdf, py) or an http(s) URL to add", id="source")
                yield Button("Add", id="add", variant="primary")
            table: DataTable[Any] = DataTable(id="docs", cursor_type="row", zebra_stripes=True)
            yield table
            with Horizontal(classes="row"):
                yield Input(placeholder="search the documents", id="query")
                yield Button("Search", id="search")
                yield Button("Remove (del)", id="remove", variant="error")
            yield VerticalScroll(id="results")
            yield Static("", id="status")
        yield Footer()

    def on_mount(self) -> None:
        for inp in self.query(Input):
            inp.cursor_blink = self._blink
        table = self.query_one("#docs", DataTable)
        table.add_columns("Title", "Kind", "Chunks", "Added (UTC)", "Source")
        self.query_one("#source", Input).focus()
        self.status("loading…")
        self.refresh_docs()

    # -- drawing (on the UI thread) ---------------------------------------------------------------

    def status(self, text: str, error: bool = False) -> None:
        s = self.query_one("#status", Static)
        s.update(text)
        s.set_class(error, "-error")

    def show_docs(self, docs: list[DocumentInfo], chunks: int) -> None:
        self.docs = docs
        table = self.query_one("#docs", DataTable)
        table.clear()
        for d in docs:
            added = datetime.fromtimestamp(d.added_at, tz=UTC).strftime("%Y-%m-%d %H:%M")
            table.add_row(d.title, d.kind, str(d.chunks), added, d.source, key=d.doc_id)
        self.query_one("#kb").border_title = f"Knowledge base · {len(docs)} document(s) · {chunks} chunks"

    def show_hits(self, query: str, hits: list[SearchHit]) -> None:
        self.hits = hits
        results = self.query_one("#results", VerticalScroll)
        results.remove_children()
        if not hits:
            results.mount(Static(f"nothing matches {query!r}"))
            return
        for n, h in enumerate(hits, 1):
            excerpt = " ".join(h.text.split())
            body = Text(f"[{n}] ", style="bold") + Text(f"{h.citation}  ·  {h.score:.3f}\n", style="bold")
            body += Text(excerpt[:400] + ("…" if len(excerpt) > 400 else ""))
            results.mount(Static(body))

    # -- actions ------------------------------------------------------------------------------------

    @on(Input.Submitted, "#source")
    @on(Button.Pressed, "#add")
    def _add_pressed(self) -> None:
        source = self.query_one("#source", Input).value.strip()
        if not source:
            self.status("type a file path or a URL first", error=True)
            return
        self.status(f"adding {source}…")
        self.add_source(source)

    @on(Input.Submitted, "#query")
    @on(Button.Pressed, "#search")
    def _search_pressed(self) -> None:
        query = self.query_one("#query", Input).value.strip()
        if not query:
            self.status("type what to search for", error=True)
            return
        self.status(f"searching {query!r}…")
        self.search(query)

    @on(Button.Pressed, "#remove")
    def action_remove(self) -> None:
        table = self.query_one("#docs", DataTable)
        if not self.docs or table.cursor_row < 0 or table.cursor_row >= len(self.docs):
            self.status("select a document first", error=True)
            return
        doc = self.docs[table.cursor_row]
        from quantai_tui.tui.screens.confirm import ConfirmScreen

        def answer(yes: bool | None) -> None:
            if yes:
                self.status(f"removing {doc.title}…")
                self.remove_doc(doc.doc_id)

        self.app.push_screen(ConfirmScreen("Remove from the knowledge base?", f"{doc.title}\n{doc.source}",
                                           yes="Remove", danger=True), answer)

    def action_close(self) -> None:
        self.app.pop_screen()

    # -- workers (threads: every knowledge-base call blocks) ---------------------------------------

    @work(thread=True, exclusive=True, group="kb-list", name="kb-list")
    def refresh_docs(self, note: str = "") -> None:
        try:
            docs, chunks = self.service.kb_list(), self.service.kb_chunks()
        except Exception as exc:
            self.app.call_from_thread(self.status, f"knowledge base unavailable: {exc}", True)
            return
        self.app.call_from_thread(self.show_docs, docs, chunks)
        self.app.call_from_thread(self.status, note or ("no documents yet: add a file or URL above" if not docs
                                                        else "enter adds · del removes the selected document"))

    @work(thread=True, exclusive=True, group="kb-write", name="kb-add")
    def add_source(self, source: str) -> None:
        def progress(done: int, total: int) -> None:
            self.app.call_from_thread(self.status, f"embedding {source}: {done}/{total} chunks…")

        try:
            res = self.service.kb_add(source, progress)
        except Exception as exc:
            self.app.call_from_thread(self.status, str(exc), True)
            return
        self.app.call_from_thread(lambda: self.query_one("#source", Input).clear())
        self.app.call_from_thread(self.refresh_docs, f"{res.status}: {res.doc.title} ({res.doc.chunks} chunks)")

    @work(thread=True, exclusive=True, group="kb-search", name="kb-search")
    def search(self, query: str) -> None:
        try:
            hits = self.service.kb_search(query, 5)
        except Exception as exc:
            self.app.call_from_thread(self.status, str(exc), True)
            return
        self.app.call_from_thread(self.show_hits, query, hits)
        self.app.call_from_thread(self.status, f"{len(hits)} passage(s) for {query!r}")

    @work(thread=True, exclusive=True, group="kb-write", name="kb-remove")
    def remove_doc(self, doc_id: str) -> None:
        try:
            info = self.service.kb_remove(doc_id)
        except Exception as exc:
            self.app.call_from_thread(self.status, str(exc), True)
            return
        self.app.call_from_thread(self.refresh_docs,
                                  f"removed {info.title}" if info is not None else "it was already gone")

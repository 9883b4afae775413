"""The knowledge base: documents chunked, embedded offline and kept in a chromadb collection.

Every method blocks (disk, network for URLs, the embedding on CPU), so async callers run them in
a thread: `await asyncio.to_thread(kb.search, query)` or a Textual `@work(thread=True)` worker.
One instance may be shared by threads; a lock serialises its operations. chromadb and numpy are
imported on first use, never at module import, so `quantai --help` stays fast.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from quantai_tui.ai.kb.chunking import DEFAULT_OVERLAP, DEFAULT_SIZE, Chunk, chunk_document, fit_to_tokens
from quantai_tui.ai.kb.loaders import (
    MAX_BYTES,
    URL_TIMEOUT,
    KBError,
    LoadedDocument,
    doc_id_for,
    load_source,
)

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection

__all__ = ["COLLECTION", "AddResult", "DocumentInfo", "KnowledgeBase", "SearchHit"]

COLLECTION = "quantai-knowledge"
_WRITE_BATCH = 256
_EMBED_BATCH = 32  # chunks per progress report
Progress = Callable[[int, int], None]
_PAGE = 1000


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    doc_id: str
    source: str
    title: str
    kind: str
    chunks: int
    added_at: float  # epoch seconds
    content_hash: str


@dataclass(frozen=True, slots=True)
class AddResult:
    doc: DocumentInfo
    status: Literal["added", "updated", "unchanged"]


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One retrieved chunk; `source` and `title` make the citation, `score` is cosine similarity."""

    text: str
    source: str
    title: str
    doc_id: str
    chunk: int
    heading: str
    score: float

    @property
    def citation(self) -> str:
        where = f" § {self.heading}" if self.heading and self.heading != self.title else ""
        return f"{self.title}{where} ({self.source})"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class KnowledgeBase:
    """Documents in a chromadb PersistentClient at `path` (the caller passes `<data dir>/kb`)."""

    def __init__(
        self,
        path: str | Path,
        *,
        chunk_size: int = DEFAULT_SIZE,
        overlap: int = DEFAULT_OVERLAP,
        url_timeout: float = URL_TIMEOUT,
        max_bytes: int = MAX_BYTES,
        clock: Callable[[], float] = time.time,
        embed_threads: int | None = None,
    ) -> None:
        """`embed_threads`: BLAS threads while embedding (None: every core, best for the CLI;
        1 inside the TUI or a live engine, where spinning BLAS threads starve the rest)."""
        self.path = Path(path)
        self.embed_threads = embed_threads
        self.chunk_size = chunk_size
        self.overlap = overlap
        self.url_timeout = url_timeout
        self.max_bytes = max_bytes
        self._clock = clock
        self._lock = threading.RLock()
        self._collection: Collection | None = None

    def __repr__(self) -> str:
        return f"KnowledgeBase(path={str(self.path)!r})"

    # -- writing ---------------------------------------------------------------------------

    def add(self, source: str | Path, *, title: str | None = None, progress: Progress | None = None) -> AddResult:
        """Add (or refresh) a document from a file path or an http(s) URL.

        `progress(done, total)` is called as chunks are embedded (~15 chunks/s on 2 cores); an
        exception raised from it aborts the add and leaves the previous version untouched.
        """
        doc = load_source(source, timeout=self.url_timeout, max_bytes=self.max_bytes)
        return self._store(doc, doc_id_for(source), title, progress)

    def add_text(
        self, text: str, *, source: str, kind: str = "txt", title: str | None = None, progress: Progress | None = None
    ) -> AddResult:
        """Add text that did not come from a file or URL the KB reads itself; `source` labels it."""
        doc = LoadedDocument(source=source, title=title or source, kind=kind, text=text)
        return self._store(doc, _hash_id(source), title, progress)

    def remove(self, doc: str | Path) -> DocumentInfo | None:
        """Remove a document by id, or by the path/URL it was added from. None if not present."""
        with self._lock:
            info = self.get(doc)
            if info is not None:
                self._col().delete(where={"doc_id": info.doc_id})
            return info

    def _store(self, doc: LoadedDocument, doc_id: str, title: str | None, progress: Progress | None) -> AddResult:
        from quantai_tui.ai.embedding import MAX_TOKENS, get_model

        title = title or doc.title
        model = get_model()
        chunks = fit_to_tokens(
            chunk_document(doc.text, doc.kind, self.chunk_size, self.overlap),
            lambda c: model.count_tokens(_embedding_text(c, title)) >= MAX_TOKENS,
            self.overlap,
        )
        if not chunks:
            raise KBError(f"no text found in {doc.source}")
        content_hash = hashlib.sha256(f"{self.chunk_size}:{self.overlap}:{title}\n{doc.text}".encode()).hexdigest()[:32]
        with self._lock:
            col = self._col()
            old = self._info(doc_id)
            if old is not None and old.content_hash == content_hash:
                return AddResult(old, "unchanged")
            # to the millisecond: the vector store keeps 16 significant digits, so what get() reads
            # back equals what add() returned
            info = DocumentInfo(doc_id, doc.source, title, doc.kind, len(chunks), round(self._clock(), 3), content_hash)
            # Embed everything before writing: a failure leaves the previous version intact.
            texts = [_embedding_text(c, title) for c in chunks]
            vectors: list[Any] = []
            for lo in range(0, len(texts), _EMBED_BATCH):
                vectors.extend(model.embed(texts[lo : lo + _EMBED_BATCH], threads=self.embed_threads))
                if progress is not None:
                    progress(min(lo + _EMBED_BATCH, len(texts)), len(texts))
            ids = [f"{doc_id}-{i:05d}" for i in range(len(chunks))]
            metas: list[dict[str, str | int | float | bool]] = [
                {
                    "doc_id": doc_id,
                    "source": doc.source,
                    "title": title,
                    "kind": doc.kind,
                    "chunk": i,
                    "chunks": len(chunks),
                    "heading": c.heading,
                    "added_at": info.added_at,
                    "content_hash": content_hash,
                }
                for i, c in enumerate(chunks)
            ]
            for lo in range(0, len(ids), _WRITE_BATCH):
                hi = lo + _WRITE_BATCH
                col.upsert(
                    ids=ids[lo:hi],
                    embeddings=vectors[lo:hi],
                    documents=[c.text for c in chunks[lo:hi]],
                    metadatas=metas[lo:hi],  # type: ignore[arg-type]
                )
            if old is not None and old.chunks > len(chunks):
                col.delete(ids=[f"{doc_id}-{i:05d}" for i in range(len(chunks), old.chunks)])
            return AddResult(info, "updated" if old is not None else "added")

    # -- reading ---------------------------------------------------------------------------

    def search(self, query: str, k: int = 5) -> list[SearchHit]:
        """The `k` chunks closest to `query`, best first, each with its source for a citation."""
        if not query.strip():
            raise KBError("empty search query")
        if k < 1:
            raise KBError(f"k must be at least 1, got {k}")
        with self._lock:
            col = self._col()
            n = min(k, col.count())
            if n == 0:
                return []
            from quantai_tui.ai.embedding import embed

            res = col.query(
                query_embeddings=embed([query], threads=self.embed_threads),
                n_results=n,
                include=["documents", "metadatas", "distances"],
            )
        docs = (res["documents"] or [[]])[0]
        metas = (res["metadatas"] or [[]])[0]
        dists = (res["distances"] or [[]])[0]
        return [
            SearchHit(
                text=text,
                source=str(m["source"]),
                title=str(m["title"]),
                doc_id=str(m["doc_id"]),
                chunk=int(m["chunk"]),  # type: ignore[arg-type]
                heading=str(m.get("heading") or ""),
                score=round(1.0 - float(d), 6),
            )
            for text, m, d in zip(docs, metas, dists, strict=True)
        ]

    def list(self) -> list[DocumentInfo]:
        """Every document, oldest first (one row per document, from its first chunk)."""
        with self._lock:
            col = self._col()
            out: list[DocumentInfo] = []
            offset = 0
            while True:
                page = col.get(where={"chunk": 0}, include=["metadatas"], limit=_PAGE, offset=offset)
                metas = page["metadatas"] or []
                out.extend(_doc_info(m) for m in metas)
                if len(metas) < _PAGE:
                    break
                offset += _PAGE
        return sorted(out, key=lambda d: (d.added_at, d.source))

    def get(self, doc: str | Path) -> DocumentInfo | None:
        """A document by id, or by the path/URL (or add_text label) it was added under."""
        with self._lock:
            for doc_id in _candidate_ids(doc):
                info = self._info(doc_id)
                if info is not None:
                    return info
        return None

    def count_chunks(self) -> int:
        with self._lock:
            return self._col().count()

    def close(self) -> None:
        """Drop the collection handle (chromadb persists on every write; nothing to flush)."""
        with self._lock:
            self._collection = None

    # -- internals -------------------------------------------------------------------------

    def _info(self, doc_id: str) -> DocumentInfo | None:
        res = self._col().get(
            where={"$and": [{"doc_id": doc_id}, {"chunk": 0}]},
            include=["metadatas"],
            limit=1,
        )
        metas = res["metadatas"] or []
        return _doc_info(metas[0]) if metas else None

    def _col(self) -> Collection:
        if self._collection is None:
            try:
                import chromadb
                from chromadb.config import Settings

                from quantai_tui.ai.embedding import MiniLMEmbeddingFunction
            except ImportError as e:
                raise KBError(f"knowledge base unavailable: {e}") from None
            try:
                self.path.mkdir(parents=True, exist_ok=True)
                # Every client of this path in one process must use the same Settings (chromadb
                # refuses a second instance with different ones): open it only through this class.
                client = chromadb.PersistentClient(path=str(self.path), settings=Settings(anonymized_telemetry=False))
                self._collection = client.get_or_create_collection(
                    COLLECTION,
                    embedding_function=MiniLMEmbeddingFunction(),  # type: ignore[arg-type]
                    configuration={"hnsw": {"space": "cosine"}},
                )
            except (OSError, ValueError) as e:
                raise KBError(f"cannot open the knowledge base at {self.path}: {' '.join(str(e).split())}") from None
        return self._collection


def _embedding_text(chunk: Chunk, title: str) -> str:
    # The title and section path go into the vector (not the stored text): a chunk deep in a
    # document still matches queries about what the document is about.
    context = chunk.heading if chunk.heading.startswith(title) else f"{title} > {chunk.heading}".rstrip(" >")
    return f"{context}\n\n{chunk.text}"


def _hash_id(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()[:16]


def _candidate_ids(doc: str | Path) -> Sequence[str]:
    ids: list[str] = []
    text = str(doc)
    if len(text) == 16 and all(c in "0123456789abcdef" for c in text):
        ids.append(text)
    with contextlib.suppress(OSError, ValueError):  # not a usable path: try the other spellings
        ids.append(doc_id_for(doc))
    ids.append(_hash_id(text))
    return ids


def _doc_info(m: Any) -> DocumentInfo:
    return DocumentInfo(
        doc_id=str(m["doc_id"]),
        source=str(m["source"]),
        title=str(m["title"]),
        kind=str(m["kind"]),
        chunks=int(m["chunks"]),
        added_at=float(m["added_at"]),
        content_hash=str(m.get("content_hash") or ""),
    )

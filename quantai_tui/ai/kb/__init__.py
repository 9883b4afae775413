"""Knowledge base: add documents (md, txt, html, pdf, py; paths or URLs), search them with citations.

All operations block; call them from a thread (see `store.KnowledgeBase`). Importing this package
imports neither chromadb nor numpy.
"""

from __future__ import annotations

from quantai_tui.ai.kb.chunking import Chunk, chunk_document
from quantai_tui.ai.kb.loaders import KBError, LoadedDocument, doc_id_for, load_source
from quantai_tui.ai.kb.store import COLLECTION, AddResult, DocumentInfo, KnowledgeBase, SearchHit

__all__ = [
    "COLLECTION",
    "AddResult",
    "Chunk",
    "DocumentInfo",
    "KBError",
    "KnowledgeBase",
    "LoadedDocument",
    "SearchHit",
    "chunk_document",
    "doc_id_for",
    "load_source",
]

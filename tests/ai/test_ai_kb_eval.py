"""Retrieval quality on a labelled set: trading documents in kb_eval/docs, queries in kb_eval/queries.json.

The queries paraphrase the documents rather than quote them; each names the one document that
answers it. Recall@5: the expected document is among the documents of the top 5 chunks.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from quantai_tui.ai.kb import KnowledgeBase

EVAL = Path(__file__).parent / "kb_eval"
DOCS = sorted((EVAL / "docs").iterdir())
QUERIES: list[dict[str, str]] = json.loads((EVAL / "queries.json").read_text())


@pytest.fixture(scope="module")
def ranked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Query -> names of the documents of its top-5 chunks, best first."""
    kb = KnowledgeBase(tmp_path_factory.mktemp("kb_eval"))
    for path in DOCS:
        kb.add(path)
    return {q["query"]: [Path(h.source).name for h in kb.search(q["query"], k=5)] for q in QUERIES}


def test_the_evaluation_set_is_well_formed() -> None:
    names = {p.name for p in DOCS}
    assert 10 <= len(DOCS) <= 20 and len(QUERIES) >= 20
    assert {q["doc"] for q in QUERIES} <= names
    assert len({q["query"] for q in QUERIES}) == len(QUERIES)


def test_recall_at_5_is_at_least_0_9(ranked: dict[str, list[str]]) -> None:
    misses = [(q["query"], q["doc"], ranked[q["query"]]) for q in QUERIES if q["doc"] not in ranked[q["query"]]]
    recall = 1 - len(misses) / len(QUERIES)
    assert recall >= 0.9, f"recall@5 = {recall:.2f}; misses: {misses}"


def test_top_hit_is_usually_right(ranked: dict[str, list[str]]) -> None:
    # A weaker, secondary bar: the right document first for most queries (MRR-like sanity).
    first = sum(ranked[q["query"]][0] == q["doc"] for q in QUERIES) / len(QUERIES)
    assert first >= 0.75, f"top-1 accuracy {first:.2f}"

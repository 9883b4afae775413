"""The knowledge base over a real chromadb PersistentClient in a temporary directory."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from quantai_tui.ai.kb import KBError, KnowledgeBase, doc_id_for
from quantai_tui.ai.kb.loaders import html_to_text, load_source

FUNDING_MD = """# Funding rates

Perpetual futures have no expiry. To keep their price near the spot index, longs and shorts
exchange a funding payment every eight hours.

## Sign of the rate

When the perpetual trades above the index the rate is positive and longs pay shorts; below the
index it is negative and shorts pay longs.
"""

ORDERS_TXT = """Order types

A market order fills immediately at the best available prices and pays the taker fee.

A limit order rests in the book at your price or better; a post-only limit order is cancelled
instead of taking liquidity. Immediate-or-cancel orders fill what they can and cancel the rest.
"""

STRATEGY_PY = '''"""A moving-average crossover strategy."""

import statistics


def sma(values: list[float], n: int) -> float:
    """Simple moving average of the last n values."""
    return statistics.fmean(values[-n:])


class MaCrossover:
    """Buy when the fast average crosses above the slow one; sell on the cross below."""

    def __init__(self, fast: int = 10, slow: int = 50) -> None:
        self.fast, self.slow = fast, slow

    def signal(self, closes: list[float]) -> int:
        return 1 if sma(closes, self.fast) > sma(closes, self.slow) else -1
'''

HTML_PAGE = """<!doctype html><html><head><title>Order book basics</title>
<style>body { color: red }</style><script>var tracking = "SHOULD NOT APPEAR";</script></head>
<body><nav>Home | About</nav><h1>Order book</h1>
<p>The <b>bid</b> is the highest buy price &amp; the ask the lowest sell price.</p>
<h2>Spread</h2><p>The spread is ask minus bid; depth is the size resting near it.</p>
<ul><li>tight spread: liquid market</li><li>wide spread: thin market</li></ul></body></html>"""


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture
def docs(tmp_path: Path) -> dict[str, Path]:
    d = tmp_path / "docs"
    d.mkdir()
    files = {"funding.md": FUNDING_MD, "orders.txt": ORDERS_TXT, "strategy.py": STRATEGY_PY, "book.html": HTML_PAGE}
    for name, text in files.items():
        (d / name).write_text(text)
    return {name: d / name for name in files}


@pytest.fixture
def kb(tmp_path: Path) -> KnowledgeBase:
    return KnowledgeBase(tmp_path / "kb", clock=Clock())


def test_add_list_search_with_citations(kb: KnowledgeBase, docs: dict[str, Path]) -> None:
    for path in docs.values():
        assert kb.add(path).status == "added"
    listed = {Path(d.source).name: d for d in kb.list()}
    assert set(listed) == set(docs)
    assert listed["funding.md"].title == "Funding rates" and listed["funding.md"].kind == "md"
    assert listed["book.html"].title == "Order book basics" and listed["book.html"].kind == "html"
    assert listed["strategy.py"].kind == "py" and listed["orders.txt"].kind == "txt"
    assert [d.added_at for d in kb.list()] == sorted(d.added_at for d in kb.list())

    cases = {
        "who pays whom when the perpetual trades above spot": "funding.md",
        "difference between a market order and a limit order": "orders.txt",
        "when does the fast moving average cross the slow one": "strategy.py",
        "what is the spread between bid and ask": "book.html",
    }
    for query, expected in cases.items():
        hits = kb.search(query, k=3)
        assert Path(hits[0].source).name == expected, (query, [h.source for h in hits])
        assert hits[0].source == str(docs[expected].resolve())
        assert hits[0].title == listed[expected].title and hits[0].text
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        assert -1.0 <= hits[-1].score <= hits[0].score <= 1.0
        assert hits[0].title in hits[0].citation and hits[0].source in hits[0].citation


def test_search_respects_k_and_an_empty_base(kb: KnowledgeBase, docs: dict[str, Path]) -> None:
    assert kb.search("anything") == []
    kb.add(docs["funding.md"])
    assert len(kb.search("funding", k=1)) == 1
    assert len(kb.search("funding", k=50)) == kb.count_chunks()
    with pytest.raises(KBError):
        kb.search("   ")


def test_document_ids_are_stable_and_re_adding_replaces(kb: KnowledgeBase, docs: dict[str, Path]) -> None:
    path = docs["funding.md"]
    first = kb.add(path)
    assert first.doc.doc_id == doc_id_for(path) == doc_id_for(str(path.parent / "." / path.name))
    assert kb.add(path).status == "unchanged"
    assert kb.count_chunks() == first.doc.chunks

    path.write_text(FUNDING_MD + "\n## History\n\nBitMEX introduced the perpetual swap in 2016.\n")
    second = kb.add(path)
    assert second.status == "updated" and second.doc.doc_id == first.doc.doc_id
    assert len(kb.list()) == 1 and kb.count_chunks() == second.doc.chunks
    assert "BitMEX" in kb.search("who introduced the perpetual swap", k=1)[0].text

    path.write_text("# Funding rates\n\nShort now.\n")  # fewer chunks: the stale tail must go
    third = kb.add(path)
    assert third.doc.chunks < second.doc.chunks and kb.count_chunks() == third.doc.chunks


def test_remove_by_path_or_id(kb: KnowledgeBase, docs: dict[str, Path]) -> None:
    a = kb.add(docs["funding.md"]).doc
    b = kb.add(docs["orders.txt"]).doc
    removed = kb.remove(docs["funding.md"])
    assert removed is not None and removed.doc_id == a.doc_id
    assert [d.doc_id for d in kb.list()] == [b.doc_id]
    assert all(h.doc_id == b.doc_id for h in kb.search("funding payment every eight hours", k=5))
    assert kb.remove(b.doc_id) is not None and kb.list() == [] and kb.count_chunks() == 0
    assert kb.remove("no-such-document") is None


def test_reopen_with_a_fresh_client(tmp_path: Path, docs: dict[str, Path]) -> None:
    path = tmp_path / "kb"
    kb = KnowledgeBase(path)
    kb.add(docs["funding.md"])
    kb.add(docs["orders.txt"])
    kb.close()
    again = KnowledgeBase(path)
    assert {Path(d.source).name for d in again.list()} == {"funding.md", "orders.txt"}
    # A new process knows nothing of this one: the collection must rebuild our registered
    # embedding function from its stored config (chromadb's default would try to download).
    code = (
        "import json, sys; from quantai_tui.ai.kb import KnowledgeBase; "
        "kb = KnowledgeBase(sys.argv[1]); h = kb.search('who pays funding on perpetuals', k=1)[0]; "
        "import chromadb; c = chromadb.PersistentClient(path=sys.argv[1], "
        "settings=chromadb.Settings(anonymized_telemetry=False)).get_collection('quantai-knowledge'); "
        "print(json.dumps({'source': h.source, 'docs': len(kb.list()), "
        "'ef': c.configuration['embedding_function'].name(), "
        "'n': c.query(query_texts=['funding'], n_results=1)['ids'][0]}))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["source"].endswith("funding.md") and got["docs"] == 2
    assert got["ef"] == "quantai-minilm-l6-v2-numpy" and got["n"][0].startswith(doc_id_for(docs["funding.md"]))


def test_chunks_carry_metadata(kb: KnowledgeBase, tmp_path: Path) -> None:
    long_md = tmp_path / "long.md"
    sections = [f"## Section {i}\n\n" + f"Paragraph about topic {i}. " * 20 for i in range(4)]
    long_md.write_text("# Long guide\n\n" + "\n\n".join(sections))
    info = kb.add(long_md).doc
    assert info.chunks > 3
    got = kb._col().get(where={"doc_id": info.doc_id}, include=["metadatas"])
    metas = sorted(got["metadatas"] or [], key=lambda m: int(m["chunk"]))  # type: ignore[arg-type]
    assert [m["chunk"] for m in metas] == list(range(info.chunks))
    assert {m["source"] for m in metas} == {str(long_md.resolve())}
    assert {m["title"] for m in metas} == {"Long guide"} and {m["chunks"] for m in metas} == {info.chunks}
    assert all(isinstance(m["added_at"], float) for m in metas)
    assert any(str(m["heading"]).endswith("Section 3") for m in metas)


def test_add_text_for_content_from_elsewhere(kb: KnowledgeBase) -> None:
    r = kb.add_text("Grid bots place buy and sell orders at fixed intervals.", source="note:grid", title="Grid")
    assert r.doc.source == "note:grid" and kb.get("note:grid") == r.doc
    assert kb.search("grid trading bot", k=1)[0].title == "Grid"
    assert kb.remove("note:grid") is not None


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.md", None, "no such file"),
        ("data.xlsx", "x", "unsupported file type"),
        ("empty.md", "  \n", "no text"),
    ],
)
def test_bad_sources_raise_one_line_errors(
    kb: KnowledgeBase, tmp_path: Path, name: str, content: str | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(KBError, match=message) as info:
        kb.add(path)
    assert "\n" not in str(info.value)


def test_directories_and_other_schemes_are_refused(kb: KnowledgeBase, tmp_path: Path) -> None:
    with pytest.raises(KBError, match="directory"):
        kb.add(tmp_path)
    with pytest.raises(KBError, match="http and https"):
        kb.add("ftp://example.org/notes.md")


def test_pdf_needs_pypdf(kb: KnowledgeBase, tmp_path: Path) -> None:
    try:
        import pypdf  # noqa: F401
    except ImportError:
        pdf = tmp_path / "paper.pdf"
        pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
        with pytest.raises(KBError, match="pypdf"):
            kb.add(pdf)
    else:
        pytest.skip("pypdf is installed; the missing-dependency path cannot be exercised")


def test_html_to_text_keeps_visible_text_and_headings() -> None:
    text, title = html_to_text(HTML_PAGE)
    assert title == "Order book basics"
    assert "SHOULD NOT APPEAR" not in text and "color: red" not in text
    assert "# Order book" in text.splitlines() and "## Spread" in text.splitlines()
    assert "highest buy price & the ask" in text  # entities decoded, inline tags joined
    assert "- tight spread: liquid market" in text


class _Pages(BaseHTTPRequestHandler):
    pages: ClassVar[dict[str, tuple[str, bytes]]] = {}

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        ctype, body = self.pages.get(self.path, ("text/plain", b""))
        self.send_response(200 if self.path in self.pages else 404)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def web() -> Iterator[str]:
    _Pages.pages = {
        "/book.html": ("text/html; charset=utf-8", HTML_PAGE.encode()),
        "/notes/funding.md": ("text/plain", FUNDING_MD.encode()),
        "/big.txt": ("text/plain", b"x" * 5000),
    }
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_add_from_url(tmp_path: Path, web: str) -> None:
    kb = KnowledgeBase(tmp_path / "kb", max_bytes=4000)
    page = kb.add(f"{web}/book.html#spread").doc
    assert page.source == f"{web}/book.html" and page.title == "Order book basics" and page.kind == "html"
    md = kb.add(f"{web}/notes/funding.md").doc
    assert md.kind == "md" and md.title == "Funding rates"  # .md served as text/plain
    assert kb.search("bid ask spread", k=1)[0].source == page.source
    with pytest.raises(KBError, match="larger than 4000 bytes"):
        kb.add(f"{web}/big.txt")
    with pytest.raises(KBError, match="could not fetch"):
        kb.add(f"{web}/missing.html")


def test_loader_reads_bytes_as_utf8_and_normalises_newlines(tmp_path: Path) -> None:
    p = tmp_path / "crlf.txt"
    p.write_bytes("\ufeffVolatility \u03c3\r\nsecond line\r\n".encode())
    doc = load_source(p)
    assert doc.text == "Volatility \u03c3\nsecond line\n" and doc.title == "crlf.txt"


def test_progress_is_reported_and_an_abort_keeps_the_previous_version(tmp_path: Path) -> None:
    kb = KnowledgeBase(tmp_path / "kb", chunk_size=200, overlap=20)
    path = tmp_path / "long.txt"
    path.write_text("\n\n".join(f"Paragraph {i} about spreads and depth. " * 4 for i in range(70)))
    seen: list[tuple[int, int]] = []
    first = kb.add(path, progress=lambda done, total: seen.append((done, total))).doc
    assert len(seen) >= 2 and seen[-1] == (first.chunks, first.chunks)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)

    class Cancelled(Exception):
        pass

    def cancel(done: int, total: int) -> None:
        raise Cancelled

    path.write_text("Completely different text about funding.")
    with pytest.raises(Cancelled):
        kb.add(path, progress=cancel)
    assert kb.get(path) == first and kb.count_chunks() == first.chunks


def test_an_unusable_path_is_a_kb_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(KBError, match="cannot open the knowledge base"):
        KnowledgeBase(blocker / "kb").list()


def test_every_stored_chunk_fits_the_embedding_window(kb: KnowledgeBase, tmp_path: Path) -> None:
    # Numbers and symbols cost far more tokens per character than prose does.
    table = tmp_path / "fills.md"
    rows = [f"| {i} | 0x{i * 7919:08x} | {i * 1.2345:.4f} | {i % 3 - 1:+d} |" for i in range(120)]
    table.write_text("# Fills\n\n" + "\n".join(rows))
    from quantai_tui.ai.embedding import MAX_TOKENS, get_model

    kb.add(table)
    got = kb._col().get(include=["documents", "metadatas"])
    model = get_model()
    lengths = [model.count_tokens(f"Fills\n\n{text}") for text in got["documents"] or []]
    assert len(lengths) > 5 and max(lengths) < MAX_TOKENS and min(lengths) > 50  # no heading-only chunk
    assert any(r in text for text in got["documents"] or [] for r in rows[-1:])  # nothing dropped at the end


def test_what_add_returns_is_what_get_reads_back(tmp_path: Path) -> None:
    """The vector store keeps 16 significant digits of a float: the time added is kept to the
    millisecond, so a document read back equals the one add() returned (a flaky CI failure)."""
    kb = KnowledgeBase(tmp_path / "kb", clock=lambda: 1795872253.6513693)
    path = tmp_path / "note.txt"
    path.write_text("Funding is paid every eight hours.")
    doc = kb.add(path).doc
    assert kb.get(path) == doc and doc.added_at == 1795872253.651

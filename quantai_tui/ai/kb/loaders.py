"""Read a knowledge-base source (a file path or an http(s) URL) into plain text.

HTML becomes Markdown-ish text with the stdlib html.parser (headings kept as `#` lines so the
chunker can cut at them); PDF needs the optional `pypdf` package. Blocking I/O: call from a thread.
"""

from __future__ import annotations

import hashlib
import re
import urllib.parse
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath

from quantai_tui.core.errors import AIError

__all__ = [
    "SUFFIX_KINDS",
    "KBError",
    "LoadedDocument",
    "canonical_source",
    "doc_id_for",
    "html_to_text",
    "is_url",
    "load_source",
    "pdf_to_text",
]

SUFFIX_KINDS = {
    ".md": "md", ".markdown": "md", ".txt": "txt", ".text": "txt", ".rst": "txt",
    ".html": "html", ".htm": "html", ".pdf": "pdf", ".py": "py",
}  # fmt: skip
_CONTENT_KINDS = {
    "text/html": "html", "application/xhtml+xml": "html", "application/pdf": "pdf",
    "text/markdown": "md", "text/x-markdown": "md", "text/x-python": "py", "text/plain": "txt",
}  # fmt: skip
MAX_BYTES = 20_000_000
URL_TIMEOUT = 20.0


class KBError(AIError):
    """A knowledge-base operation failed; the message is one line fit for the user."""


@dataclass(frozen=True, slots=True)
class LoadedDocument:
    source: str  # canonical: absolute path or URL without fragment
    title: str
    kind: str  # md, txt, html, pdf, py
    text: str


def is_url(source: str | Path) -> bool:
    return isinstance(source, str) and source.lower().startswith(("http://", "https://"))


def canonical_source(source: str | Path) -> str:
    """The one spelling of a source: an absolute resolved path, or the URL minus its fragment."""
    if is_url(source):
        return urllib.parse.urldefrag(str(source)).url
    return str(Path(source).expanduser().resolve())


def doc_id_for(source: str | Path) -> str:
    """Stable document id: the same source always maps to the same id (re-adding replaces it)."""
    return hashlib.sha256(canonical_source(source).encode()).hexdigest()[:16]


def load_source(source: str | Path, *, timeout: float = URL_TIMEOUT, max_bytes: int = MAX_BYTES) -> LoadedDocument:
    if is_url(source):
        return _load_url(str(source), timeout, max_bytes)
    if isinstance(source, str) and re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]+://", source):
        raise KBError(f"unsupported URL scheme (only http and https): {source}")
    path = Path(source).expanduser()
    if not path.exists():
        raise KBError(f"no such file: {path}")
    if path.is_dir():
        raise KBError(f"is a directory, not a document: {path}")
    kind = SUFFIX_KINDS.get(path.suffix.lower())
    if kind is None:
        raise KBError(f"unsupported file type {path.suffix or '(none)'!r}: use md, txt, html, pdf or py")
    if path.stat().st_size > max_bytes:
        raise KBError(f"file too large ({path.stat().st_size} bytes > {max_bytes}): {path}")
    data = path.read_bytes()
    return _decode(canonical_source(path), kind, data, None, default_title=path.name)


def _load_url(url: str, timeout: float, max_bytes: int) -> LoadedDocument:
    import urllib.request  # ~35 ms of http/ssl/email imports: only when a URL is added

    req = urllib.request.Request(url, headers={"User-Agent": "quantai-kb/0.1"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            data = resp.read(max_bytes + 1)
            ctype = resp.headers.get_content_type()
            charset = resp.headers.get_content_charset()
    except OSError as e:  # URLError, HTTPError, timeouts are all OSError
        raise KBError(f"could not fetch {url}: {_one_line(e)}") from None
    if len(data) > max_bytes:
        raise KBError(f"document at {url} is larger than {max_bytes} bytes")
    suffix_kind = SUFFIX_KINDS.get(PurePosixPath(urllib.parse.urlparse(url).path).suffix.lower())
    kind = _CONTENT_KINDS.get(ctype)
    if kind in (None, "txt") and suffix_kind:
        kind = suffix_kind  # servers often send .md and .py as text/plain
    if kind is None:
        raise KBError(f"unsupported content type {ctype!r} at {url}")
    parts = urllib.parse.urlparse(url)
    default_title = PurePosixPath(parts.path).name or parts.netloc
    return _decode(canonical_source(url), kind, data, charset, default_title=default_title)


def _decode(source: str, kind: str, data: bytes, charset: str | None, default_title: str) -> LoadedDocument:
    if kind == "pdf":
        text, title = pdf_to_text(data)
        return LoadedDocument(source, title or default_title, kind, text)
    try:
        text = data.decode(charset or "utf-8-sig", errors="replace")
    except LookupError:  # an unknown charset name from a server
        text = data.decode("utf-8", errors="replace")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    title = ""
    if kind == "html":
        text, title = html_to_text(text)
    elif kind == "md":
        m = re.search(r"^#\s+(.+?)\s*#*\s*$", text, flags=re.MULTILINE)
        title = m.group(1) if m else ""
    return LoadedDocument(source, title or default_title, kind, text)


def pdf_to_text(data: bytes) -> tuple[str, str]:
    """Text and title of a PDF through the optional `pypdf` package."""
    try:
        import io

        from pypdf import PdfReader  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise KBError("PDF support needs the 'pypdf' package, which is not installed") from None
    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        title = str((reader.metadata or {}).get("/Title") or "")
    except Exception as e:  # pypdf raises many types on a damaged file
        raise KBError(f"could not read PDF: {_one_line(e)}") from None
    return "\n\n".join(p.strip() for p in pages if p.strip()), title


_SKIP = {"script", "style", "noscript", "template", "svg", "head", "iframe", "object"}
_BLOCK = {
    "p", "div", "section", "article", "main", "header", "footer", "nav", "aside", "ul", "ol",
    "li", "table", "tr", "blockquote", "pre", "dl", "dt", "dd", "figure", "figcaption", "form",
    "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6",
}  # fmt: skip


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self._skip = 0
        self._in_title = False
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        if tag in _SKIP:
            self._skip += 1
        elif tag in _BLOCK:
            self.parts.append("\n\n")
            if len(tag) == 2 and tag[0] == "h" and tag[1].isdigit():
                self.parts.append("#" * int(tag[1]) + " ")
            elif tag == "li":
                self.parts.append("- ")
            elif tag == "pre":
                self._pre += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK:
            if tag == "pre":
                self._pre = max(0, self._pre - 1)
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if self._skip:
            return
        self.parts.append(data if self._pre else re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> tuple[str, str]:
    """Visible text of an HTML page (headings as `#` lines) and its <title> (or first <h1>)."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    raw = "".join(parser.parts)
    # Inline whitespace was collapsed to one space; more than one means <pre> indentation.
    lines = [_unindent(line.rstrip()) for line in raw.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    title = " ".join(parser.title.split())
    if not title:
        m = re.search(r"^#\s+(.+)$", text, flags=re.MULTILINE)
        title = m.group(1).strip() if m else ""
    return text, title


def _unindent(line: str) -> str:
    return line[1:] if line.startswith(" ") and not line.startswith("  ") else line


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__

"""Split documents into overlapping chunks small enough for the embedding (256 tokens ~ 1000 chars).

Markdown (and HTML, which the loader turns into Markdown) is cut at headings first, then packed
paragraph by paragraph; Python at top-level functions and classes (a big class at its methods);
anything else by paragraphs. A unit longer than the chunk size is cut into character windows
snapped to whitespace. Consecutive chunks of one section share `overlap` characters so that a
sentence cut at a boundary is still whole in one of them; section boundaries need no overlap.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "Chunk",
    "chunk_document",
    "chunk_markdown",
    "chunk_plain",
    "chunk_python",
    "fit_to_tokens",
    "split_chars",
]

DEFAULT_SIZE = 1000
DEFAULT_OVERLAP = 150

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n+")
_SPACE = re.compile(r"\s")


@dataclass(frozen=True, slots=True)
class Chunk:
    """One piece of a document; `heading` is its section path (Markdown) or symbol (Python)."""

    text: str
    heading: str = ""


def chunk_document(text: str, kind: str, size: int = DEFAULT_SIZE, overlap: int = DEFAULT_OVERLAP) -> list[Chunk]:
    """Chunk `text` by the rules for `kind` (md, html, py, txt, pdf)."""
    if size <= 0 or not 0 <= overlap < size:
        raise ValueError(f"need size > 0 and 0 <= overlap < size, got {size=} {overlap=}")
    if kind in ("md", "html"):
        return chunk_markdown(text, size, overlap)
    if kind == "py":
        return chunk_python(text, size, overlap)
    return chunk_plain(text, size, overlap)


def split_chars(text: str, size: int, overlap: int) -> list[str]:
    """Character windows of at most `size`, each starting `overlap` chars before the last ended."""
    text = text.strip()
    if len(text) <= size:
        return [text] if text else []
    out: list[str] = []
    start = 0
    while start < len(text):
        end = min(start + size, len(text))
        if end < len(text):
            # End at a line break, else a word boundary, in the window's second half.
            cut = text.rfind("\n", start + size // 2, end)
            if cut == -1:
                cut = text.rfind(" ", start + size // 2, end)
            end = cut if cut != -1 else end
        piece = text[start:end].strip()
        if piece:
            out.append(piece)
        if end >= len(text):
            break
        nxt = _overlap_start(text, end, overlap)
        start = nxt if nxt > start else end
    return out


def fit_to_tokens(
    chunks: list[Chunk], too_long: Callable[[Chunk], bool], overlap: int, min_chars: int = 200
) -> list[Chunk]:
    """Split, in order, every chunk the embedding would truncate (`too_long`) until each fits.

    Characters are only a proxy for tokens: code, tables and numbers can take twice the tokens
    of prose, and whatever lies past the model's window would be invisible to search.
    """
    out: list[Chunk] = []
    for chunk in chunks:
        if len(chunk.text) <= min_chars or not too_long(chunk):
            out.append(chunk)
            continue
        parts = split_chars(chunk.text, len(chunk.text) // 2 + overlap // 2 + 1, overlap // 2)
        if len(parts) < 2:
            out.append(chunk)
            continue
        out.extend(fit_to_tokens([Chunk(p, chunk.heading) for p in parts], too_long, overlap, min_chars))
    return out


def _overlap_start(text: str, end: int, overlap: int) -> int:
    """Where the next window starts: `overlap` chars back from `end`, moved up to a word start."""
    if overlap <= 0:
        return end
    start = max(0, end - overlap)
    if start > 0 and not text[start - 1].isspace():
        m = _SPACE.search(text, start, end)
        start = m.end() if m else start
    return start


def _pack(units: list[str], size: int, overlap: int) -> list[str]:
    """Join units (paragraphs) into chunks up to `size`; the next chunk repeats the last one's tail."""
    chunks: list[str] = []
    current = ""
    for unit in units:
        unit = unit.strip()
        if not unit:
            continue
        if len(unit) > size:
            if current and len(current) < size // 4:  # a heading or lead-in stays with what follows
                unit, current = f"{current}\n\n{unit}", ""
            if current:
                chunks.append(current)
            pieces = split_chars(unit, size, overlap)
            chunks.extend(pieces[:-1])
            current = pieces[-1]
            continue
        candidate = f"{current}\n\n{unit}" if current else unit
        if len(candidate) <= size:
            current = candidate
            continue
        chunks.append(current)
        tail = current[_overlap_start(current, len(current), overlap) :] if overlap else ""
        current = f"{tail}\n\n{unit}" if tail and len(tail) + len(unit) + 2 <= size else unit
    if current:
        chunks.append(current)
    return chunks


def chunk_plain(text: str, size: int = DEFAULT_SIZE, overlap: int = DEFAULT_OVERLAP) -> list[Chunk]:
    return [Chunk(c) for c in _pack(_PARAGRAPH_BREAK.split(text), size, overlap)]


def chunk_markdown(text: str, size: int = DEFAULT_SIZE, overlap: int = DEFAULT_OVERLAP) -> list[Chunk]:
    """Sections at ATX headings (not inside code fences), each packed by paragraphs."""
    sections: list[tuple[str, list[str]]] = []
    path: list[tuple[int, str]] = []
    lines: list[str] = []
    heading = ""
    in_fence = False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        m = None if in_fence else _HEADING.match(line)
        if m:
            sections.append((heading, lines))
            level, title = len(m.group(1)), m.group(2).strip()
            path = [(lv, t) for lv, t in path if lv < level] + [(level, title)]
            heading = " > ".join(t for _, t in path)
            lines = [line]
        else:
            lines.append(line)
    sections.append((heading, lines))
    chunks: list[Chunk] = []
    for head, body in sections:
        for piece in _pack(_PARAGRAPH_BREAK.split("\n".join(body)), size, overlap):
            chunks.append(Chunk(piece, head))
    return chunks


def chunk_python(text: str, size: int = DEFAULT_SIZE, overlap: int = DEFAULT_OVERLAP) -> list[Chunk]:
    """Top-level functions and classes as units (a class too big for one chunk: at its methods)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return chunk_plain(text, size, overlap)
    lines = text.splitlines(keepends=True)
    units = _python_units(tree.body, lines, 0, len(lines), "", size)
    chunks: list[Chunk] = []
    buf: list[tuple[str, str]] = []

    def flush() -> None:
        if buf:
            names = [n for _, n in buf if n]
            chunks.append(Chunk("\n".join(t for t, _ in buf).strip(), ", ".join(names)))
            buf.clear()

    for body, name in units:
        if not body.strip():
            continue
        if len(body) > size:
            flush()
            chunks.extend(Chunk(p, name) for p in split_chars(body, size, overlap))
            continue
        if sum(len(t) + 1 for t, _ in buf) + len(body) > size:
            flush()
        buf.append((body.rstrip("\n"), name))
    flush()
    return chunks


def _python_units(
    body: list[ast.stmt], lines: list[str], lo: int, hi: int, prefix: str, size: int
) -> list[tuple[str, str]]:
    """Cut lines[lo:hi] at each def/class in `body` (decorators and comments above go with it)."""
    units: list[tuple[str, str]] = []
    cursor = lo
    for node in body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        first = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
        while first - 1 >= cursor and lines[first - 1].lstrip().startswith("#"):
            first -= 1
        if first > cursor:
            units.append(("".join(lines[cursor:first]), prefix.removesuffix(" > ")))
        kind = "class" if isinstance(node, ast.ClassDef) else "def"
        name = f"{prefix}{kind} {node.name}"
        end = node.end_lineno or hi  # code between two defs becomes its own unit
        text = "".join(lines[first:end])
        if isinstance(node, ast.ClassDef) and len(text) > size:
            units.extend(_python_units(node.body, lines, first, end, f"{name} > ", size))
        else:
            units.append((text, name))
        cursor = end
    if cursor < hi:
        units.append(("".join(lines[cursor:hi]), prefix.removesuffix(" > ")))
    return units

"""Chunking: sizes, overlap between neighbours, nothing lost, natural boundaries kept."""

from __future__ import annotations

import re
from itertools import pairwise

import pytest

from quantai_tui.ai.kb.chunking import (
    Chunk,
    chunk_document,
    chunk_markdown,
    chunk_plain,
    chunk_python,
    fit_to_tokens,
    split_chars,
)

WORDS = ["price", "volume", "spread", "depth", "funding", "basis", "momentum", "drawdown", "leverage", "margin"]


def prose(n_words: int, seed: int = 0) -> str:
    return " ".join(f"{WORDS[(i * 7 + seed) % len(WORDS)]}{i}" for i in range(n_words))


def shared_edge(a: str, b: str) -> int:
    """Length of the longest suffix of a that is a prefix of b."""
    for n in range(min(len(a), len(b)), 0, -1):
        if a.endswith(b[:n]):
            return n
    return 0


@pytest.mark.parametrize(("size", "overlap"), [(300, 60), (1000, 150), (500, 0)])
def test_character_windows_overlap_and_cover_everything(size: int, overlap: int) -> None:
    text = prose(900)
    chunks = split_chars(text, size, overlap)
    assert len(chunks) > 3 and all(len(c) <= size for c in chunks)
    for a, b in pairwise(chunks):
        edge = shared_edge(a, b)
        # Neighbours share about `overlap` characters, cut at a word boundary.
        assert overlap - 20 <= edge <= overlap if overlap else edge == 0, (edge, a[-80:], b[:80])
    # Every word survives, in order (words are numbered, so overlap repeats are easy to drop).
    kept: list[str] = []
    for word in (w for c in chunks for w in c.split()):
        if not kept or _num(word) > _num(kept[-1]):
            kept.append(word)
    assert kept == text.split()


def _num(word: str) -> int:
    return int(re.sub(r"\D", "", word))


def test_paragraphs_are_packed_and_neighbours_overlap() -> None:
    paragraphs = [prose(30, seed=i) for i in range(20)]
    chunks = [c.text for c in chunk_plain("\n\n".join(paragraphs), size=600, overlap=100)]
    assert all(len(c) <= 600 for c in chunks) and len(chunks) >= 5
    for a, b in pairwise(chunks):
        assert 50 <= shared_edge(a, b) <= 100
    for p in paragraphs:  # small paragraphs are never cut in the middle
        assert any(p in c for c in chunks)


def test_markdown_cuts_at_headings_and_records_the_section_path() -> None:
    md = (
        "# Guide\n\nIntro.\n\n## Risk\n\nSize positions small.\n\n"
        "```python\n# a comment, not a heading\nx = 1\n```\n\n### Kill switch\n\nCtrl+K halts trading.\n\n"
        "## Fees\n\nMaker fees are lower than taker fees.\n"
    )
    chunks = chunk_markdown(md, size=1000, overlap=100)
    assert [c.heading for c in chunks] == ["Guide", "Guide > Risk", "Guide > Risk > Kill switch", "Guide > Fees"]
    assert "# a comment, not a heading" in chunks[1].text  # inside a code fence: not a heading
    assert chunks[3].text.startswith("## Fees") and "Risk" not in chunks[3].text


def test_long_markdown_section_splits_with_overlap_but_sections_do_not_bleed() -> None:
    body = "\n\n".join(prose(40, seed=i) for i in range(10))
    md = f"# A\n\n{body}\n\n# B\n\nshort section"
    chunks = chunk_markdown(md, size=500, overlap=80)
    a = [c for c in chunks if c.heading == "A"]
    assert len(a) > 2 and all(shared_edge(x.text, y.text) >= 40 for x, y in pairwise(a))
    assert chunks[-1].heading == "B" and chunks[-1].text == "# B\n\nshort section"


def test_python_is_cut_at_functions_and_classes() -> None:
    funcs = "\n\n".join(
        f'def f{i}(x: int) -> int:\n    """Doc {i}."""\n'
        + "".join(f"    x += {j}\n" for j in range(12))
        + "    return x\n"
        for i in range(6)
    )
    big_class = 'class Big:\n    """A class too big for one chunk."""\n\n' + "\n".join(
        f"    # helper {i}\n    def m{i}(self) -> int:\n"
        + "".join(f"        v = {j}\n" for j in range(15))
        + "        return v\n"
        for i in range(5)
    )
    src = f'"""Module doc."""\n\nimport os\n\n{funcs}\n\n@decorator\n{big_class}\n\nMAIN = 1\n'
    chunks = chunk_python(src, size=500, overlap=50)
    assert all(len(c.text) <= 500 for c in chunks)
    for i in range(6):  # each small function is whole inside exactly one chunk
        whole = [c for c in chunks if f"def f{i}(" in c.text]
        assert len(whole) == 1 and "    return x" in whole[0].text.split(f"def f{i}(")[1]
        assert f"def f{i}" in whole[0].heading
    methods = [c for c in chunks if c.heading.startswith("class Big > def m")]
    assert len(methods) >= 3
    assert any("# helper 2\n    def m2" in c.text for c in methods)  # comment travels with its method
    assert any("@decorator\nclass Big:" in c.text for c in chunks)  # decorator stays with its class
    assert "MAIN = 1" in chunks[-1].text


def test_python_with_a_syntax_error_falls_back_to_plain_chunks() -> None:
    chunks = chunk_python("def broken(:\n    pass\n\n" + prose(200), size=400, overlap=50)
    assert chunks and all(c.heading == "" for c in chunks)


def test_chunk_document_dispatches_and_validates() -> None:
    assert chunk_document("# T\n\nx", "md")[0].heading == "T"
    assert chunk_document("<p>x</p>", "txt")[0].heading == ""
    assert chunk_document("", "txt") == []
    with pytest.raises(ValueError):
        chunk_document("x", "txt", size=100, overlap=100)


def test_fit_to_tokens_splits_only_what_would_be_truncated_and_keeps_order() -> None:
    chunks = [Chunk(prose(30), "a"), Chunk(prose(200, seed=1), "b"), Chunk(prose(25, seed=2), "c")]
    too_long = lambda c: len(c.text) > 400  # noqa: E731 - stands in for a token count
    out = fit_to_tokens(chunks, too_long, overlap=60)
    assert out[0] == chunks[0] and out[-1] == chunks[-1]
    middle = out[1:-1]
    assert len(middle) >= 3 and all(c.heading == "b" and len(c.text) <= 400 for c in middle)
    kept: list[str] = []
    for word in (w for c in middle for w in c.text.split()):
        if not kept or _num(word) > _num(kept[-1]):
            kept.append(word)
    assert kept == chunks[1].text.split()

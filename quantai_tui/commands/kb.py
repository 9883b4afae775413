"""`quantai kb`: the knowledge base (add, search, list, remove). Results on stdout, progress on stderr."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from quantai_tui.commands.base import EXIT_ERROR, EXIT_OK, Context

HELP = "manage the AI's knowledge base: add, search, list, remove documents"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="kb_command", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="add a file (md, txt, html, pdf, py), a directory or a URL")
    add.add_argument("source", nargs="+")
    add.add_argument("--title", help="title to cite the document by (one source only)")
    s = sub.add_parser("search", help="search the knowledge base")
    s.add_argument("query")
    s.add_argument("-k", type=int, default=5)
    s.add_argument("--json", action="store_true", help="print the hits as JSON")
    ls = sub.add_parser("list", help="list documents")
    ls.add_argument("--json", action="store_true", help="print the documents as JSON")
    rm = sub.add_parser("remove", help="remove a document by id or source")
    rm.add_argument("document")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from quantai_tui.ai.kb import KnowledgeBase

    kb_settings = ctx.settings.kb
    kb = KnowledgeBase(ctx.paths.kb_dir, chunk_size=kb_settings.chunk_chars, overlap=kb_settings.chunk_overlap)
    try:
        return int(_ACTIONS[args.kb_command](args, kb))
    finally:
        kb.close()


def _add(args: argparse.Namespace, kb: Any) -> int:
    from quantai_tui.ai.kb import KBError
    from quantai_tui.data.progress import Progress

    sources = _expand(args.source)
    if args.title and len(sources) != 1:
        print("quantai kb add: --title needs exactly one source", file=sys.stderr)
        return EXIT_ERROR
    failed = 0
    for i, src in enumerate(sources, 1):
        label = f"[{i}/{len(sources)}] {src}" if len(sources) > 1 else str(src)
        bar = Progress(f"embedding {label}", every_s=2.0)

        def progress(done: int, total: int, bar: Progress = bar) -> None:
            bar.total = total
            bar.update(done, f"{done}/{total} chunks")

        try:
            res = kb.add(src, title=args.title, progress=progress)
        except KBError as e:
            failed += 1
            print(f"quantai kb add: {e}", file=sys.stderr)
            continue
        bar.done(f"{res.doc.chunks} chunks")
        d = res.doc
        print(f"{res.status:9} {d.doc_id}  {d.chunks:4} chunks  {d.title}  ({d.source})")
    if failed:
        print(f"quantai kb add: {failed} of {len(sources)} source(s) failed", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def _expand(sources: list[str]) -> list[str | Path]:
    """URLs as given; directories become the supported files in them (recursively, no hidden ones)."""
    from quantai_tui.ai.kb.loaders import SUFFIX_KINDS

    out: list[str | Path] = []
    for s in sources:
        p = Path(s).expanduser()
        if "://" not in s and p.is_dir():
            files = [f for f in sorted(p.rglob("*")) if f.is_file() and f.suffix.lower() in SUFFIX_KINDS
                     and not any(part.startswith(".") for part in f.relative_to(p).parts)]
            if not files:
                print(f"quantai kb add: no md, txt, html, pdf or py files in {p}", file=sys.stderr)
            out.extend(files)
        else:
            out.append(s if "://" in s else p)  # URLs (any scheme: the loader says which it refuses)
    return out


def _search(args: argparse.Namespace, kb: Any) -> int:
    hits = kb.search(args.query, args.k)
    if args.json:
        import json

        print(json.dumps([{"n": n, **h.to_dict(), "citation": h.citation} for n, h in enumerate(hits, 1)]))
        return EXIT_OK
    if not hits:
        print("no matches (the knowledge base is empty: `quantai kb add FILE` adds documents)"
              if not kb.count_chunks() else "no matches", file=sys.stderr)
        return EXIT_OK
    for n, h in enumerate(hits, 1):
        excerpt = " ".join(h.text.split())
        print(f"[{n}] {h.score:.3f}  {h.citation}")
        print(f"    {excerpt[:300]}{'…' if len(excerpt) > 300 else ''}")
    return EXIT_OK


def _list(args: argparse.Namespace, kb: Any) -> int:
    docs = kb.list()
    if args.json:
        import json
        from dataclasses import asdict

        print(json.dumps([asdict(d) for d in docs]))
        return EXIT_OK
    if not docs:
        print("the knowledge base is empty: `quantai kb add FILE_OR_URL` adds documents", file=sys.stderr)
        return EXIT_OK
    from datetime import datetime

    print(f"{'ID':16}  {'KIND':4}  {'CHUNKS':>6}  {'ADDED':16}  TITLE (SOURCE)")
    for d in docs:
        added = datetime.fromtimestamp(d.added_at).strftime("%Y-%m-%d %H:%M")
        print(f"{d.doc_id:16}  {d.kind:4}  {d.chunks:6}  {added:16}  {d.title} ({d.source})")
    return EXIT_OK


def _remove(args: argparse.Namespace, kb: Any) -> int:
    info = kb.remove(args.document)
    if info is None:
        print(f"quantai kb remove: no document {args.document!r} in the knowledge base (see `quantai kb list`)",
              file=sys.stderr)
        return EXIT_ERROR
    print(f"removed {info.doc_id}  {info.title}  ({info.source})")
    return EXIT_OK


_ACTIONS = {"add": _add, "search": _search, "list": _list, "remove": _remove}

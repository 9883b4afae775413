"""Exporting and following the event store as JSON lines or CSV (used by `quantai events`)."""

from __future__ import annotations

import csv
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

import orjson

from quantai_tui.core.errors import StoreError
from quantai_tui.store.codecs import to_record
from quantai_tui.store.sqlite import inspect_file, read_events

CSV_COLUMNS = ["seq", "type", "ts", "ts_event", "ts_init", "payload"]


def _write(records: Iterable[dict], out: TextIO, fmt: str) -> int:
    n = 0
    if fmt == "csv":
        w = csv.writer(out)
        w.writerow(CSV_COLUMNS)
        for r in records:
            w.writerow([r["seq"], r["type"], r["ts"], r["ts_event"], r["ts_init"], orjson.dumps(r["payload"]).decode()])
            n += 1
        return n
    for r in records:
        out.write(orjson.dumps(r).decode())
        out.write("\n")
        n += 1
    return n


def export_events(path: Path, out: TextIO, fmt: str = "jsonl", from_seq: int = 0, types: list[str] | None = None) -> int:
    """Write every committed event with seq >= from_seq; returns how many."""
    if fmt not in ("jsonl", "csv"):
        raise StoreError(f"unknown export format {fmt!r} (jsonl or csv)")
    return _write((to_record(seq, ev) for seq, ev in read_events(path, from_seq, types)), out, fmt)


def _max_seq(path: Path) -> int:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(con.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


def tail_events(
    path: Path,
    out: TextIO,
    last: int = 20,
    types: list[str] | None = None,
    follow: bool = True,
    interval: float = 0.25,
    max_polls: int | None = None,
) -> None:
    """Print the last `last` events as JSON lines, then (follow) poll for new ones."""
    if not path.exists():
        raise StoreError(f"no event store at {path} (start the engine once, or pass --store)")
    inspect_file(path)
    start = 0
    if last > 0 and not types:
        start = max(0, _max_seq(path) - last + 1)
    elif last > 0:
        recent = [seq for seq, _ in read_events(path, 0, types)][-last:]
        start = recent[0] if recent else _max_seq(path) + 1
    else:
        start = _max_seq(path) + 1
    next_seq = start
    polls = 0
    while True:
        for seq, ev in read_events(path, next_seq, types):
            out.write(orjson.dumps(to_record(seq, ev)).decode() + "\n")
            next_seq = seq + 1
        out.flush()
        if not follow or (max_polls is not None and polls >= max_polls):
            return
        polls += 1
        time.sleep(interval)

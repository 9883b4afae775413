"""Reference books computed in the test from the captured files alone, independently of the
connectors and of the exchange server: stdlib json, Decimal arithmetic, plain dicts.

Each returns {"bids": {price: size}, "asks": {price: size}} (floats) after the venue's snapshot
and the first `n` of its book updates for the symbol (all when n is None), applying the venue's
documented rule of which updates the snapshot already contains.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.conftest import SHARED_DATA

Book = dict[str, dict[float, float]]
DATA = SHARED_DATA / "exchanges"


def _lines_json(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text().splitlines():
        _, _, body = line.partition(": ")
        if body.startswith("{") and " <- " not in line and "://" not in line.split(": ")[0]:
            out.append(json.loads(body))
    return out


def _apply(side: dict[Decimal, Decimal], levels: list[list[str]]) -> None:
    for lv in levels:
        price, size = Decimal(lv[0]), Decimal(lv[1])
        if size == 0:
            side.pop(price, None)
        else:
            side[price] = size


def _as_floats(bids: dict[Decimal, Decimal], asks: dict[Decimal, Decimal]) -> Book:
    return {"bids": {float(p): float(s) for p, s in bids.items()}, "asks": {float(p): float(s) for p, s in asks.items()}}


def binance(market: str, native: str, n: int | None = None) -> Book:
    """Snapshot from the REST capture; then every diff with u > lastUpdateId, in order (a diff
    with u <= lastUpdateId is already inside the snapshot: spot drops it, and for USD-M the one
    with u == lastUpdateId repeats what the snapshot holds)."""
    prefix = "BINANCE" if market == "spot" else "BINANCE_FUTURES"
    folder = DATA / "binance" / "cryptofeed_capture"
    snap = None
    for line in (folder / f"{prefix}.http.0.0.txt").read_text().splitlines():
        if f"symbol={native}&" in line:
            snap = json.loads(line.split(" -> ", 1)[1].split(": ", 1)[1])
    assert snap is not None, native
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    _apply(bids, snap["bids"])
    _apply(asks, snap["asks"])
    last = snap["lastUpdateId"]
    diffs = [m["data"] for m in _lines_json(folder / f"{prefix}.ws.1.0.txt")
             if m["data"].get("e") == "depthUpdate" and m["data"]["s"] == native]
    for d in diffs[:n]:
        if d["u"] > last:
            _apply(bids, d["b"])
            _apply(asks, d["a"])
            last = d["u"]
    return _as_floats(bids, asks)


def okx(inst: str, n: int | None = None) -> Book:
    """The `books` snapshot, then the first n updates of the instrument."""
    msgs = [m for m in _lines_json(DATA / "okx" / "cryptofeed_capture" / "OKX.ws.1.0.txt")
            if m.get("arg", {}).get("channel") == "books" and m["arg"]["instId"] == inst and "data" in m]
    assert msgs[0]["action"] == "snapshot"
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    for i, m in enumerate(msgs):
        if i and n is not None and i > n:
            break
        d = m["data"][0]
        _apply(bids, d["bids"])
        _apply(asks, d["asks"])
    return _as_floats(bids, asks)


def bybit(n: int | None = None) -> Book:
    """Bybit's ob500 archive: the snapshot line, then the first n deltas (u + 1 each)."""
    lines = (DATA / "bybit" / "bybit_history_ob500" / "2024-12-01_XRPUSDT_ob500.data").read_text().splitlines()
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    for i, line in enumerate(lines):
        if i and n is not None and i > n:
            break
        d = json.loads(line)["data"]
        _apply(bids, d["b"])
        _apply(asks, d["a"])
    return _as_floats(bids, asks)


def book_dict(book: Any) -> Book:
    """A core OrderBook as the same shape."""
    return book.as_dict()  # type: ignore[no-any-return]


def diff_summary(got: Book, want: Book) -> str:
    out = []
    for side in ("bids", "asks"):
        g, w = got[side], want[side]
        missing = sorted(set(w) - set(g))[:5]
        extra = sorted(set(g) - set(w))[:5]
        wrong = sorted(p for p in set(g) & set(w) if g[p] != w[p])[:5]
        if missing or extra or wrong:
            out.append(f"{side}: {len(g)} vs {len(w)} levels; missing {missing}, extra {extra}, wrong sizes at {wrong}")
    return "; ".join(out) or "equal"

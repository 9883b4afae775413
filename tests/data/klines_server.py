"""A small Binance-spot REST server on 127.0.0.1 for download tests: `/api/v3/exchangeInfo`
(Binance's published sample, BTCUSDT and ETHUSDT) and `/api/v3/klines` with deterministic
bars, paginated like Binance (startTime/endTime/limit, at most `page_cap` bars a reply), a
listing time before which there are no bars, and faults on demand (429s, 500s)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.conftest import SHARED_DATA

EXCHANGE_INFO = SHARED_DATA / "exchanges" / "binance" / "nautilus_py" \
    / "http_responses" / "http_spot_market_exchange_info.json"
MINUTE_MS = 60_000


def kline(open_ms: int) -> list[Any]:
    """The bar opening at open_ms: a price that walks with the minute, on the 0.01 tick."""
    k = open_ms // MINUTE_MS
    base = 40_000 + (k * 37 % 1000) / 4
    o, c = base, base + (k % 7 - 3) * 0.5
    h, lo = max(o, c) + 1.25, min(o, c) - 0.75
    vol = 1 + (k % 13) / 8
    return [open_ms, f"{o:.2f}", f"{h:.2f}", f"{lo:.2f}", f"{c:.2f}", f"{vol:.5f}", open_ms + MINUTE_MS - 1,
            f"{vol * c:.8f}", 10 + k % 50, f"{vol / 2:.5f}", f"{vol * c / 2:.8f}", "0"]


class KlinesServer:
    def __init__(self, listing_ms: int = 0, now_ms: int = 2_000_000_000_000, page_cap: int = 500) -> None:
        self.listing_ms = listing_ms
        self.now_ms = now_ms
        self.page_cap = page_cap
        self.requests: list[dict[str, str]] = []  # klines queries, in order
        self.fail_429 = 0  # the next N klines requests answer 429
        self.fail_after: int | None = None  # after N klines requests, answer 500 forever
        server = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # FACTS.md: otherwise ~45 ms a request

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                url = urlsplit(self.path)
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/api/v3/exchangeInfo":
                    self._send(200, EXCHANGE_INFO.read_bytes())
                elif url.path == "/api/v3/klines":
                    server.requests.append(q)
                    if server.fail_429 > 0:
                        server.fail_429 -= 1
                        self._send(429, b'{"code":-1003,"msg":"Too many requests."}')
                    elif server.fail_after is not None and len(server.requests) > server.fail_after:
                        self._send(500, b'{"code":-1000,"msg":"An unknown error occurred."}')
                    else:
                        self._send(200, json.dumps(server.klines(q)).encode())
                else:
                    self._send(404, b'{"code":-1,"msg":"not here"}')

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="klines-server", daemon=True)

    def klines(self, q: dict[str, str]) -> list[list[Any]]:
        limit = min(int(q.get("limit", 500)), 1000, self.page_cap)
        start = int(q.get("startTime", self.listing_ms))
        end = int(q.get("endTime", self.now_ms))
        t = max(start, self.listing_ms)
        t += (-t) % MINUTE_MS
        out = []
        while t <= min(end, self.now_ms) and len(out) < limit:
            out.append(kline(t))
            t += MINUTE_MS
        return out

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> KlinesServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

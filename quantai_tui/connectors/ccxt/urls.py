"""WebSocket URL overrides for ccxt: every ws:// or wss:// URL in `urls['api']` pointed at one
base (scheme and host replaced, the base's path put in front of the original path), the
WebSocket twin of market_cache.rewrite_urls. A base of ws://127.0.0.1:9000/stream turns
binance's wss://stream.binance.com:9443/ws into ws://127.0.0.1:9000/stream/ws."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit


def rewrite_ws_urls(urls: Any, base: str) -> Any:
    target = urlsplit(base)
    if isinstance(urls, dict):
        return {k: rewrite_ws_urls(v, base) for k, v in urls.items()}
    if isinstance(urls, str) and urls.startswith(("ws://", "wss://")):
        parts = urlsplit(urls)
        return urlunsplit((target.scheme, target.netloc, target.path.rstrip("/") + parts.path, parts.query,
                           parts.fragment))
    return urls

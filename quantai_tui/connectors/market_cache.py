"""Instruments from ccxt's `load_markets`, cached on disk as JSON.

    markets = await load_markets_cached("okx", path, max_age_s=86400, rest_url="", testnet=False,
                                        options={"fetchMarkets": {"types": ["spot", "swap"]}})
    instruments = markets_to_instruments("okx", markets)
    exchange = new_exchange("okx", markets=markets)   # ccxt with set_markets(): no REST call

The cache file holds the raw ccxt markets (so `set_markets()` can preload any later ccxt
exchange object without a REST call) and is refreshed when older than `max_age_s`. When a
refresh fails, a stale cache is used (with a warning) rather than nothing. ccxt is imported
inside the functions only: it costs ~0.8 s per process.
"""

from __future__ import annotations

import logging
import os
import time
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson

from quantai_tui.core.errors import VenueUnavailable, with_cause
from quantai_tui.core.instruments import Instrument, make_instrument

log = logging.getLogger("quantai.connectors")

# ccxt gives binance, okx and bybit precisions in TICK_SIZE mode: precision.price is the tick.


def new_exchange(
    exchange_id: str,
    *,
    rest_url: str = "",
    testnet: bool = False,
    options: dict[str, Any] | None = None,
    markets: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
) -> Any:
    """A ccxt async exchange with the testnet flag, a REST base-URL override and preloaded markets.
    The caller must `await exchange.close()`."""
    import ccxt.async_support as ccxt_async

    cls = getattr(ccxt_async, exchange_id)
    ex = cls({"enableRateLimit": True, **(config or {})})
    if options:
        ex.options.update(options)
    if testnet:
        ex.set_sandbox_mode(True)  # before the overrides: it swaps in the testnet URLs
    if rest_url:
        ex.urls["api"] = rewrite_urls(ex.urls["api"], rest_url)
    if markets:
        ex.set_markets(markets)
    return ex


def rewrite_urls(urls: Any, base: str) -> Any:
    """Every http(s) URL in ccxt's `urls['api']` tree pointed at `base` (scheme and host; the
    path is kept), so one local server can answer all of them."""
    target = urlsplit(base)
    if isinstance(urls, dict):
        return {k: rewrite_urls(v, base) for k, v in urls.items()}
    if isinstance(urls, str) and urls.startswith(("http://", "https://")):
        parts = urlsplit(urls)
        path = target.path.rstrip("/") + parts.path
        return urlunsplit((target.scheme, target.netloc, path, parts.query, parts.fragment))
    return urls


def read_cache(path: Path) -> tuple[float, dict[str, Any]] | None:
    """(age in seconds, markets) or None when there is no readable cache."""
    try:
        doc = orjson.loads(path.read_bytes())
        return time.time() - float(doc["saved_at"]), doc["markets"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_cache(path: Path, exchange_id: str, markets: dict[str, Any]) -> None:
    """Atomically: a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
    doc = {"exchange": exchange_id, "saved_at": time.time(), "markets": markets}
    tmp.write_bytes(orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY))
    os.replace(tmp, path)


async def load_markets_cached(
    exchange_id: str,
    cache_path: Path | None,
    max_age_s: float = 24 * 3600.0,
    *,
    rest_url: str = "",
    testnet: bool = False,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """ccxt markets, from the cache when fresh, else from the venue (then cached)."""
    cached = read_cache(cache_path) if cache_path is not None else None
    if cached is not None and cached[0] < max_age_s:
        return cached[1]
    ex = new_exchange(exchange_id, rest_url=rest_url, testnet=testnet, options=options)
    try:
        markets = await ex.load_markets()
    except Exception as exc:
        if cached is not None:
            log.warning("%s: refreshing markets failed (%r); using the cache from %.1f h ago",
                        exchange_id, exc, cached[0] / 3600)
            return cached[1]
        raise VenueUnavailable(f"{exchange_id}: cannot load markets: {with_cause(exc)}") from exc
    finally:
        await ex.close()
    markets = dict(markets)
    if cache_path is not None:
        write_cache(cache_path, exchange_id, markets)
    return markets


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    return Decimal(str(value))


def market_to_instrument(venue: str, m: dict[str, Any]) -> Instrument | None:
    """One ccxt market as an Instrument; None for kinds we do not trade (options) or bad data."""
    if m.get("type") not in ("spot", "swap", "future") or m.get("option"):
        return None
    prec = m.get("precision") or {}
    tick, lot = _dec(prec.get("price")), _dec(prec.get("amount"))
    if tick is None or lot is None or tick <= 0 or lot <= 0:
        return None
    limits = m.get("limits") or {}
    amount = limits.get("amount") or {}
    cost = limits.get("cost") or {}
    try:
        return make_instrument(
            venue,
            m["symbol"],
            tick,
            lot,
            min_quantity=_dec(amount.get("min")),
            min_notional=_dec(cost.get("min")) or Decimal(0),
            max_quantity=_dec(amount.get("max")),
            contract_size=_dec(m.get("contractSize")) or Decimal(1),
            maker_fee=_dec(m.get("maker")) if m.get("maker") is not None else Decimal("0.001"),
            taker_fee=_dec(m.get("taker")) if m.get("taker") is not None else Decimal("0.001"),
            native_symbol=str(m["id"]),
        )
    except (ValueError, ArithmeticError, KeyError, TypeError) as exc:
        log.debug("%s: skipping market %s: %r", venue, m.get("symbol"), exc)
        return None


def markets_to_instruments(venue: str, markets: dict[str, Any]) -> dict[str, Instrument]:
    out: dict[str, Instrument] = {}
    for m in markets.values():
        inst = market_to_instrument(venue, m)
        if inst is not None:
            out[inst.symbol] = inst
    return out

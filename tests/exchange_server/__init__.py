"""A local exchange server for tests: each venue's wire format on 127.0.0.1, fed from the
captured messages in ../shared/data/exchanges/, with faults on demand. See README.md."""

from tests.exchange_server.core import ExchangeServer, Faults, WsSession
from tests.exchange_server.feed import DATA_DIR, EXCHANGES, FeedItem, StrBook, VenueFeed, data_available

__all__ = [
    "DATA_DIR", "EXCHANGES", "ExchangeServer", "Faults", "FeedItem", "StrBook", "VenueFeed", "WsSession",
    "data_available",
]

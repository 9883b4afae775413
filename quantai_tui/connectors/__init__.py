"""Venue connectors: one folder per venue (binance/, okx/, bybit/, ccxt/, sim/ ...).

`registry.make_market_data_client(venue, settings, publish, clock, cache_dir)` builds a market
data client for any venue; base.py is what every native WebSocket connector shares. Nothing
heavy is imported here (ccxt, aiohttp and websockets load when a client runs).
"""

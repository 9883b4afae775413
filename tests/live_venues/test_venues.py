"""The shared live-venue suite, once per venue and market."""

from __future__ import annotations

from tests.live_venues.harness import BINANCE_SPOT, BINANCE_USDM, BYBIT_LINEAR, BYBIT_SPOT, OKX_SPOT, OKX_SWAP
from tests.live_venues.suite import LiveVenueSuite


class TestBinanceSpot(LiveVenueSuite):
    spec = BINANCE_SPOT


class TestBinanceUsdm(LiveVenueSuite):
    spec = BINANCE_USDM


class TestOkxSwap(LiveVenueSuite):
    spec = OKX_SWAP


class TestBybitLinear(LiveVenueSuite):
    spec = BYBIT_LINEAR


class TestOkxSpot(LiveVenueSuite):
    spec = OKX_SPOT


class TestBybitSpot(LiveVenueSuite):
    spec = BYBIT_SPOT

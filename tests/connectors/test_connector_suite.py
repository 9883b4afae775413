"""Every native market-data connector passes the same suite (tests/connectors/suite.py)."""

from __future__ import annotations

from tests.connectors.cases import BinanceSpotCase, BinanceUsdmCase, BybitCase, OkxCase, OkxSeqCase
from tests.connectors.suite import ConnectorSuite, pytestmark  # noqa: F401 - skip without data


class TestBinanceSpot(ConnectorSuite):
    case = BinanceSpotCase()


class TestBinanceUsdm(ConnectorSuite):
    case = BinanceUsdmCase()


class TestOkxChecksum(ConnectorSuite):
    case = OkxCase()


class TestOkxSeqChain(ConnectorSuite):
    case = OkxSeqCase()


class TestBybit(ConnectorSuite):
    case = BybitCase()

"""Shared by the AI tests: realistic synthetic BTC/USDT 1m bars written through the data layer's
Binance klines import (so the catalog finds them exactly as it finds real data), an env for
subprocesses, and a fake engine view."""

from __future__ import annotations

import math
import os
import random
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

API_KEY = "sk-test-DO-NOT-LEAK-4c1e8b9f2a7d"
ROOT = Path(__file__).resolve().parents[2]


def write_klines_csv(path: Path, start: str = "2025-03-01", end: str = "2025-03-10", seed: int = 11,
                     price: float = 86_000.0) -> int:
    """Binance spot 1m klines (GBM with volatility clustering and a couple of trends), as CSV."""
    rng = random.Random(seed)
    t0 = int(datetime.fromisoformat(start).replace(tzinfo=UTC).timestamp() * 1000)
    t1 = int(datetime.fromisoformat(end).replace(tzinfo=UTC).timestamp() * 1000)
    vol = 0.0009
    rows = []
    p = price
    for i, t in enumerate(range(t0, t1, 60_000)):
        vol = max(0.0003, min(0.004, vol * math.exp(rng.gauss(0, 0.05)) + 0.00002 * (0.0009 - vol)))
        drift = 0.00004 * math.sin(i / 1500)  # slow trends the crossover can catch
        o = p
        c = o * math.exp(drift + rng.gauss(0, vol))
        hi = max(o, c) * (1 + abs(rng.gauss(0, vol / 2)))
        lo = min(o, c) * (1 - abs(rng.gauss(0, vol / 2)))
        v = abs(rng.gauss(12, 4)) + 0.5
        rows.append(f"{t},{o:.2f},{hi:.2f},{lo:.2f},{c:.2f},{v:.5f},{t + 59_999},{v * c:.2f},{rng.randint(50, 900)},"
                    f"{v / 2:.5f},{v * c / 2:.2f},0")
        p = c
    path.write_text("\n".join(rows) + "\n")
    return len(rows)


def import_bars(home: Path, tmp: Path, **kw: Any) -> Path:
    """Synthetic klines imported into the default profile's catalog under QUANTAI_HOME=home."""
    from quantai_tui.core.symbols import file_token
    from quantai_tui.data.binance_csv import import_binance_csv

    csv = tmp / "BTCUSDT-1m-2025-03.csv"
    write_klines_csv(csv, **kw)
    catalog = home / "data" / "catalog" / "binance" / file_token("BTC/USDT")
    res = import_binance_csv(csv, "binance-klines", "BTC/USDT", exchange="binance", timeframe="1m", out_dir=catalog)
    return Path(res.path)


def cli_env(home: Path, base_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUANTAI_", "OPENAI_"))}
    env.update(QUANTAI_HOME=str(home), QUANTAI_LLM__BASE_URL=base_url, QUANTAI_LLM__MODEL="fake-model",
               OPENAI_API_KEY=API_KEY, PYTHONPATH=str(ROOT), NO_COLOR="1")
    env.update(extra)
    return env


class FakeView:
    """A read-only engine view with one instrument and one position."""

    def __init__(self, mode: str = "paper") -> None:
        from quantai_tui.connectors.sim import sim_instruments

        self.venue = "sim"
        self.mode = mode
        self._inst = sim_instruments()

    def positions(self) -> list[dict[str, Any]]:
        return [{"venue": "sim", "symbol": "BTC/USDT", "side": "LONG", "quantity": "0.05", "avg_price": "70000"}]

    def orders(self, open_only: bool = True, limit: int = 50) -> list[dict[str, Any]]:
        return [{"id": "qa-1", "symbol": "BTC/USDT", "side": "BUY", "quantity": "0.01", "status": "ACCEPTED"}][:limit]

    def instrument(self, symbol: str) -> Any:
        return self._inst.get(symbol)

    def mid(self, symbol: str) -> float | None:
        return 70_000.0 if symbol == "BTC/USDT" else None


def dec(x: str) -> Decimal:
    return Decimal(x)

"""The settings tree: one typed dataclass per TOML table, a docstring-like `doc` per field.

Layering (later wins): defaults < config.toml < environment (QUANTAI_SECTION__KEY) <
command-line flags. `[exchanges.NAME]` tables are keyed by venue name. Secrets are never
values here: only the names of environment variables or 0600 files that hold them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal


def doc(default: Any, text: str) -> Any:
    """A field with a default and a one-line description (shown by `config init` and docs)."""
    if isinstance(default, (list, dict)):
        d = default
        return field(default_factory=lambda: type(d)(d), metadata={"doc": text})
    return field(default=default, metadata={"doc": text})


@dataclass
class GeneralSettings:
    mode: Literal["paper", "live"] = doc("paper", "paper or live; live also needs --mode live and a confirmation")
    exchange: str = doc("sim", "venue the TUI and headless mode connect to by default (sim works offline)")
    symbols: list[str] = doc(["BTC/USDT", "ETH/USDT"], "symbols to watch (ccxt unified spelling)")
    client_id_prefix: str = doc("qa", "prefix of client order ids (0-6 letters or digits)")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = doc("INFO", "log level of the log file and the Log pane")


@dataclass
class StoreSettings:
    synchronous: Literal["auto", "OFF", "NORMAL", "FULL", "EXTRA"] = doc(
        "auto", "SQLite synchronous pragma; auto = FULL in live mode, NORMAL otherwise"
    )


@dataclass
class ExchangeSettings:
    rest_url: str = doc("", "REST base URL override (empty: the venue's default)")
    ws_url: str = doc("", "WebSocket base URL override (empty: the venue's default)")
    testnet: bool = doc(False, "use the venue's testnet / sandbox endpoints")
    market_type: Literal["spot", "swap", "future"] = doc("spot", "default market type for this venue")
    api_key_env: str = doc("", "environment variable holding the API key")
    api_secret_env: str = doc("", "environment variable holding the API secret")
    passphrase_env: str = doc("", "environment variable holding the API passphrase (OKX)")
    key_file: str = doc("", "a 0600 TOML file with api_key, api_secret (and passphrase)")
    account: str = doc("", "a name for the account, shown on the live confirmation screen")


@dataclass
class SimSettings:
    seed: int = doc(42, "random seed of the simulated market (same seed, same market)")
    rate: float = doc(50.0, "messages per second per symbol (trades + book updates), up to 10,000+")
    depth: int = doc(20, "book levels per side")


@dataclass
class PaperSettings:
    initial_balance: Decimal = doc(Decimal("10000"), "starting balance of a new paper account")
    currency: str = doc("USDT", "currency of the paper account's starting balance")
    latency_ms: float = doc(0.0, "simulated venue latency for submits and cancels")
    maker_fee_bps: Decimal = doc(Decimal("10"), "maker fee in basis points")
    taker_fee_bps: Decimal = doc(Decimal("10"), "taker fee in basis points")
    slippage_bps: Decimal = doc(Decimal("0"), "adverse slippage on taker fills in basis points")


@dataclass
class RiskSettings:
    max_order_qty: dict[str, Decimal] = doc({}, "per symbol (or '*' for all): the largest order quantity")
    max_order_notional: Decimal = doc(Decimal("50000"), "largest order value in quote currency (0 = off)")
    max_position_notional: Decimal = doc(Decimal("100000"), "largest position value per symbol (0 = off)")
    max_position_qty: dict[str, Decimal] = doc({}, "per symbol (or '*'): the largest position quantity")
    max_open_orders: int = doc(200, "open orders across all venues (0 = off)")
    daily_loss_limit: Decimal = doc(Decimal("0"), "halt new risk after this loss since 00:00 UTC (0 = off)")
    max_drawdown_pct: Decimal = doc(Decimal("0"), "halt new risk after this drawdown from the equity peak (0 = off)")
    price_band_pct: Decimal = doc(Decimal("5"), "limit prices must be within this % of the mid (0 = off)")
    max_orders_per_second: float = doc(50.0, "order rate limit across strategies (0 = off)")
    symbol_whitelist: list[str] = doc([], "if not empty, only these symbols may be traded")
    check_balance: bool = doc(True, "refuse orders the account's free balance or margin cannot pay for")
    disabled_checks: list[str] = doc([], "names of checks to switch off (each is named in its denial events)")


@dataclass
class KillSwitchSettings:
    flatten: bool = doc(False, "also close positions with reduce-only market orders when engaged")
    cancel_retry_s: float = doc(1.0, "cancel again, every this many seconds, orders still open after engaging")


@dataclass
class TuiSettings:
    theme: str = doc("quantai-dark", "theme name (see themes/); switch at run time with ctrl+p")
    keys: dict[str, str] = doc({}, "remapped keys: binding id -> key, e.g. kill_switch = 'ctrl+k'")
    max_fps: float = doc(20.0, "the most book and chart redraws per second")


@dataclass
class LlmSettings:
    base_url: str = doc("", "OpenAI-compatible endpoint (empty: OPENAI_BASE_URL or OpenAI's)")
    model: str = doc("", "model name; empty means no model is configured")
    api_key_env: str = doc("OPENAI_API_KEY", "environment variable holding the API key")
    timeout_s: float = doc(60.0, "per request timeout")
    max_retries: int = doc(3, "retries on 429 and 5xx, with backoff")
    temperature: float = doc(0.2, "sampling temperature")


@dataclass
class AiSettings:
    tools_module: str = doc("", "a Python module name or file.py whose @tool functions are registered too")
    fetch_allow_private: bool = doc(False, "let fetch_url reach private and loopback addresses")
    fetch_max_bytes: int = doc(2_000_000, "largest page fetch_url downloads")
    fetch_timeout_s: float = doc(15.0, "fetch_url time limit")
    tool_result_max_chars: int = doc(8000, "tool results sent to the model are cut to this size")
    max_tool_rounds: int = doc(8, "tool calls per question before the assistant must answer")


@dataclass
class KbSettings:
    chunk_chars: int = doc(1200, "characters per knowledge-base chunk")
    chunk_overlap: int = doc(200, "characters shared by neighbouring chunks")


@dataclass
class HeadlessSettings:
    metrics_port: int = doc(0, "serve Prometheus metrics on 127.0.0.1:PORT (0 = off)")
    cancel_on_exit: bool = doc(True, "cancel open orders on SIGTERM/SIGINT")
    status_interval_s: float = doc(60.0, "log a one-line status to stderr this often (0 = never)")


@dataclass
class BacktestSettings:
    initial_capital: Decimal = doc(Decimal("10000"), "starting cash of a backtest")
    fee_bps: Decimal | None = doc(None, "fee in basis points (unset: the venue's taker fee, else 10)")
    slippage_bps: Decimal = doc(Decimal("0"), "slippage on market fills in basis points")


@dataclass
class DataSettings:
    flush_interval_s: float = doc(2.0, "the recorder writes a durable Parquet chunk at least this often")
    book_snapshot_interval_s: float = doc(60.0, "the recorder also stores a full book snapshot this often")
    markets_max_age_h: float = doc(24.0, "refresh cached venue market lists after this many hours")


@dataclass
class Settings:
    general: GeneralSettings = field(default_factory=GeneralSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    exchanges: dict[str, ExchangeSettings] = field(default_factory=dict)
    sim: SimSettings = field(default_factory=SimSettings)
    paper: PaperSettings = field(default_factory=PaperSettings)
    risk: RiskSettings = field(default_factory=RiskSettings)
    kill_switch: KillSwitchSettings = field(default_factory=KillSwitchSettings)
    tui: TuiSettings = field(default_factory=TuiSettings)
    llm: LlmSettings = field(default_factory=LlmSettings)
    ai: AiSettings = field(default_factory=AiSettings)
    kb: KbSettings = field(default_factory=KbSettings)
    headless: HeadlessSettings = field(default_factory=HeadlessSettings)
    backtest: BacktestSettings = field(default_factory=BacktestSettings)
    data: DataSettings = field(default_factory=DataSettings)

    def exchange(self, name: str) -> ExchangeSettings:
        """Settings of one venue (defaults when it has no table)."""
        return self.exchanges.get(name) or ExchangeSettings()

    def store_synchronous(self, mode: str | None = None) -> str:
        s = self.store.synchronous
        if s != "auto":
            return s
        return "FULL" if (mode or self.general.mode) == "live" else "NORMAL"
